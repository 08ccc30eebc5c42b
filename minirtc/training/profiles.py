"""Named profiles: one table of starting settings for `minirtc train` and `minirtc sweep` alike.

A profile is the training settings every run shares, the settings of one model
only (`per_model`), and, for a sweep, its default grid and metric sizes.
`train --profile NAME --model M` starts from `train` updated by `per_model[M]`;
a config file and the flags given override both (docs/training.md#profiles).
A sweep's runs start from the same table, except where `sweep_per_model` names a
model: then its entry replaces `per_model[M]` (the `cpu` profile's claims grid).
The classroom profile is the TrainConfig defaults themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minirtc.errors import ConfigError
from minirtc.training.config import TrainConfig

__all__ = ["PROFILES", "Profile", "profile_config"]

SHARED_METRICS = ["beta_vae", "factor_vae", "mig", "sap", "modularity", "unsupervised", "elbo_decomposition"]


@dataclass(frozen=True)
class Profile:
    """A named scale: shared training settings, per-model settings, a sweep's grid and metric sizes."""

    name: str
    description: str
    train: dict[str, Any]  # TrainConfig fields shared by every run
    per_model: dict[str, dict[str, Any]] = field(default_factory=dict)  # fields for one model only
    # a sweep's own fields for a model, replacing per_model[model] in the sweep's runs
    sweep_per_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    models: tuple[str, ...] = ("factor-vae", "rtc-vae")  # a sweep's default grid ...
    betas: tuple[float, ...] = (2.0, 6.0, 10.0)
    seeds: tuple[int, ...] = (0, 1, 2)
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluate_representation settings
    datasets: tuple[str, ...] = ("dsprites-procedural",)  # what `sweep --dry-run` plans without --dataset

    def config(self, model: str | None = None) -> TrainConfig:
        """The TrainConfig this profile starts `model` from (its per-model settings applied)."""
        values = dict(self.train)
        model = model or values.get("model") or TrainConfig().model
        values.update(self.per_model.get(model, {}))
        return TrainConfig(**{**values, "model": model})

    def sweep_model_settings(self) -> dict[str, dict[str, Any]]:
        """Each model's own fields in a sweep: `per_model`, with `sweep_per_model`'s entries replacing."""
        return {**self.per_model, **self.sweep_per_model}


RTC_ETA = {"rtc-vae": {"eta": 10.0}}  # the paper's variance-penalty weight (its Sec. 6)
# dSprites with one shape, scale and orientation, and the central 16 x 16 of its 32 x 32 positions:
# on the whole grid a 2-latent code folds at the centre and tears (docs/training.md#profiles).
CENTRAL_POSITIONS = {
    "shape": (0, 1),
    "scale": (5, 6),
    "orientation": (0, 1),
    "posX": (8, 24),
    "posY": (8, 24),
}

# The literature's batch for beta-tcvae on dSprites; the faster mixture makes it affordable on a CPU
# (docs/estimators.md#cost). Searched on the full dataset in benchmarks/results/cpu_profile_search.md.
CPU_BETA_TCVAE = dict(
    batch_size=2048, lr=4e-3, steps=6750, log_every=50, eval_every=750, checkpoint_every=750
)
# rtc-vae at beta-tcvae's batch and rate, its TC by the same minibatch estimator: the paper's eq. (4)
# holds for any TC estimate, and the discriminator it opts for (end of its Sec. 5.3) did not
# disentangle at this scale. beta 5 on top of the ELBO's own TC is beta-tcvae's TC weight of 6.
CPU_RTC_VAE = dict(CPU_BETA_TCVAE, steps=5250, tc_estimator="mss1", beta=5.0, **RTC_ETA["rtc-vae"])
# The discriminator models at the same batch, with a discriminator large and fast enough to keep up:
# within 750 steps factor-vae's TC_mean rises above its TC_sample, rtc-vae's mostly does not (claim (4)
# of the paper; docs/experiments.md). Neither disentangles at this length.
CPU_DISCRIMINATOR = dict(
    batch_size=2048,
    lr=4e-3,
    disc_layers=4,
    disc_hidden=512,
    disc_lr=2e-3,
    steps=750,
    log_every=25,
    eval_every=250,
    checkpoint_every=250,
)

PROFILES: dict[str, Profile] = {
    "classroom": Profile(
        name="classroom",
        description="the TrainConfig defaults: a NumPy MLP (4096-128-10) on a 20,000-item subset of the "
        "procedural dSprites, 2,000 steps; minutes on a laptop, without torch",
        train={},
        metrics=dict(metrics=SHARED_METRICS, num_train=1000, num_eval=500),
    ),
    "lecture": Profile(
        name="lecture",
        description="a run started at the beginning of a lecture and shown at its end: beta-tcvae "
        "(alpha = gamma = 24, beta = 64) with D = 2, a NumPy MLP 4096-256-2, on the 256 dSprites images "
        "in which only the position varies, over the central 16 x 16 positions; the whole dataset as "
        "each batch, 1,500 steps at lr 2e-3, a few minutes a seed on one core",
        train=dict(
            backend="numpy",
            arch="mlp",
            model="beta-tcvae",
            dataset="dsprites-procedural",
            subset=None,
            factor_ranges=CENTRAL_POSITIONS,
            latent_dim=2,
            hidden=(256,),
            batch_size=256,
            steps=1500,
            lr=2e-3,
            log_every=100,
            eval_every=500,
            eval_size=256,
            checkpoint_every=500,
        ),
        per_model={
            "beta-tcvae": {"alpha": 24.0, "gamma": 24.0, "beta": 64.0},
            "rtc-vae": {"beta": 20.0, "eta": 10.0},
            "factor-vae": {"gamma": 20.0},
        },
        models=("beta-tcvae",),
        betas=(64.0,),
        metrics=dict(metrics=["mig", "sap", "modularity"], num_train=10_000, num_eval=5000),
    ),
    "laptop": Profile(
        name="laptop",
        description="reduced scale for 2 CPU cores: NumPy MLP (4096-256-256-20), discriminator 3 x 256, "
        "a 20,000-item subset, 1,500 steps at lr 1e-3, 3 seeds; metrics on 1,000/500 points, DCI left out "
        "(its gradient-boosted trees take minutes per run on dSprites' 40-class orientation)",
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
        per_model=RTC_ETA,
        metrics=dict(metrics=SHARED_METRICS, num_train=1000, num_eval=500),
    ),
    "cpu": Profile(
        name="cpu",
        description="the full procedural dSprites on 2 CPU cores: torch MLP 4096-256-256-10, batch 256, "
        "lr 1e-3, 30,000 steps; beta-tcvae at batch 2048, lr 4e-3, 6,750 steps (48 minutes on two "
        "threads); rtc-vae the same with the mss1 estimator, beta 5, eta 10, 5,250 steps (42 minutes "
        "on two threads); factor-vae at batch 2048, lr 4e-3, discriminator 4 x 512 at lr 2e-3, 750 steps "
        "(about 5 minutes), swept against rtc-vae with the same discriminator over TC weights 5 and 20; "
        "every metric on 10,000 / 5,000 points. "
        "See benchmarks/results/cpu_profile_search.md",
        train=dict(
            backend="torch",
            arch="mlp",
            device="cpu",
            dataset="dsprites-procedural",
            subset=None,
            latent_dim=10,
            hidden=(256, 256),
            batch_size=256,
            steps=30_000,
            lr=1e-3,
            log_every=100,
            eval_every=2000,
            eval_size=10_000,
            checkpoint_every=2000,
        ),
        per_model={
            "beta-tcvae": CPU_BETA_TCVAE,
            "factor-vae": {**CPU_DISCRIMINATOR, "gamma": 20.0},
            "rtc-vae": CPU_RTC_VAE,
        },
        # the claims grid compares the paper's two discriminator models at equal settings (its Fig. 4)
        sweep_per_model={"rtc-vae": {**CPU_DISCRIMINATOR, "beta": 20.0, **RTC_ETA["rtc-vae"]}},
        betas=(5.0, 20.0),
        metrics=dict(metrics="all", num_train=10_000, num_eval=5000),
    ),
    "paper": Profile(
        name="paper",
        description="the paper's settings (its Sec. 6; docs/training.md): torch conv VAE, discriminator "
        "6 x 1000, full dataset, 300,000 steps, batch 64, lr 1e-4, eta 10, 10 seeds, betas 2..10; "
        "its datasets dSprites, Shapes3D, 3D faces",
        train=dict(
            backend="torch",
            arch="conv",
            device="auto",
            latent_dim=10,
            hidden=(256, 256),
            disc_hidden=1000,
            disc_layers=6,
            batch_size=64,
            steps=300_000,
            lr=1e-4,
            subset=None,
            log_every=100,
            eval_every=5000,
            eval_size=10_000,
            checkpoint_every=5000,
        ),
        per_model=RTC_ETA,
        betas=(2.0, 4.0, 6.0, 8.0, 10.0),
        seeds=tuple(range(10)),
        metrics=dict(metrics="all", num_train=10_000, num_eval=5000),
        datasets=("dsprites", "shapes3d", "faces3d"),  # the paper's Sec. 6
    ),
}


def profile_config(name: str, model: str | None = None) -> TrainConfig:
    """The TrainConfig of profile `name` for `model` (None: the profile's or the default model)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of: {', '.join(PROFILES)}")
    return PROFILES[name].config(model)
