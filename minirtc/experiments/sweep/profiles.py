"""The sweep's named scales: for each, the default grid, the shared run settings, the metric sizes.

`laptop` fits two CPU cores; `paper` is the paper's Sec. 6 (docs/experiments.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    """A named scale: the default grid, the settings every run shares, the metric sizes."""

    name: str
    description: str
    models: tuple[str, ...]
    betas: tuple[float, ...]
    seeds: tuple[int, ...]
    train: dict[str, Any]  # TrainConfig fields shared by every run
    per_model: dict[str, dict[str, Any]]  # TrainConfig fields for one model only
    metrics: dict[str, Any]  # evaluate_representation settings (metrics, num_train, num_eval)
    datasets: tuple[str, ...] = ("dsprites-procedural",)  # what --dry-run plans without --dataset


PROFILES = {
    "laptop": Profile(
        name="laptop",
        description="reduced scale for 2 CPU cores: NumPy MLP (4096-256-256-20), discriminator 3 x 256, "
        "a 20,000-item subset, 1,500 steps at lr 1e-3, 3 seeds; metrics on 1,000/500 points, DCI left out "
        "(its gradient-boosted trees take minutes per run on dSprites' 40-class orientation)",
        models=("factor-vae", "rtc-vae"),
        betas=(2.0, 6.0, 10.0),
        seeds=(0, 1, 2),
        train=dict(
            backend="numpy",
            arch="mlp",
            latent_dim=10,
            hidden=(256, 256),
            disc_hidden=256,
            disc_layers=3,
            batch_size=64,
            steps=1500,
            lr=1e-3,
            disc_lr=2e-4,
            subset=20_000,
            log_every=50,
            eval_every=150,
            eval_size=2000,
            checkpoint_every=150,
        ),
        per_model={"rtc-vae": {"eta": 10.0}},
        metrics=dict(
            metrics=[
                "beta_vae",
                "factor_vae",
                "mig",
                "sap",
                "modularity",
                "unsupervised",
                "elbo_decomposition",
            ],
            num_train=1000,
            num_eval=500,
        ),
    ),
    "paper": Profile(
        name="paper",
        description="the paper's settings (its Sec. 6; docs/training.md): torch conv VAE, discriminator "
        "6 x 1000, full dataset, 300,000 steps, batch 64, lr 1e-4, eta 10, 10 seeds, betas 2..10; "
        "its datasets dSprites, Shapes3D, 3D faces",
        models=("factor-vae", "rtc-vae"),
        betas=(2.0, 4.0, 6.0, 8.0, 10.0),
        seeds=tuple(range(10)),
        train=dict(
            backend="torch",
            arch="conv",
            device="auto",
            latent_dim=10,
            disc_hidden=1000,
            disc_layers=6,
            batch_size=64,
            steps=300_000,
            lr=1e-4,
            subset=None,
            log_every=100,
            eval_every=3000,
            eval_size=5000,
            checkpoint_every=3000,
        ),
        per_model={"rtc-vae": {"eta": 10.0}},
        metrics=dict(metrics="all", num_train=10_000, num_eval=5000),
        datasets=("dsprites", "shapes3d", "faces3d"),  # the paper's Sec. 6
    ),
}
