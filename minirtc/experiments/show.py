"""What a trained model learned, as pictures: every figure of one run directory.

    RUN_DIR/figures/ (or --out)
      traversal_z<d>.gif     latent d swept over its range, a row per reference item
      traversals_all.gif     every latent side by side, most informative first, inactive last
      traversals.png         the same traversals as a still grid (first reference item)
      reconstructions.png    inputs above their reconstructions (decoded posterior means)
      kl.png                 the KL of each latent
      mutual_information.png latent-factor mutual information, the matrix MIG is computed
                             from (datasets with ground-truth factors only)
      training_curves.png    loss terms, TC_mean / TC_sample, active units from history.jsonl

Works on a finished run or one still training (its latest checkpoint and history).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from minirtc.data import to_unit_float
from minirtc.metrics.discretize import NUM_BINS, discrete_entropy
from minirtc.metrics.mig import mutual_info_matrix
from minirtc.progress import progress
from minirtc.training import records
from minirtc.viz import animations, traversal
from minirtc.viz.bars import kl_bars
from minirtc.viz.curves import training_curves
from minirtc.viz.gif import bounce, gif_bytes
from minirtc.viz.grids import reconstruction_grid, traversal_grid
from minirtc.viz.heatmap import mi_heatmap
from minirtc.viz.style import figure_png, paper_style


@dataclass(frozen=True)
class ShowSettings:
    """How the pictures of a run are made."""

    value_range: str = "prior"  # "prior" (+-2.5 sd) or "quantiles" (the data's 2.5%..97.5% of mu_d)
    num_frames: int = 9  # values per traversal K (a GIF plays 2K - 2 frames, there and back)
    num_references: int = 3  # reference items, one row each in the GIFs
    num_points: int = 2000  # items encoded for the KL, the quantiles and the MI matrix
    num_reconstructions: int = 8
    seed: int = 0  # which items are drawn


@dataclass
class Encoded:
    """The drawn items of a run and their encodings."""

    images: np.ndarray  # (P, H, W, C) uint8
    index: np.ndarray  # (P,) dataset indices
    mu: np.ndarray  # (P, D)
    logvar: np.ndarray  # (P, D)


def encode_sample(run: Any, settings: ShowSettings) -> Encoded:
    """`num_points` items of the run's dataset drawn with `seed` (sorted) and their (mu, logvar)."""
    rng = np.random.default_rng(settings.seed)
    size = min(settings.num_points, len(run.dataset))
    index = np.sort(rng.choice(len(run.dataset), size=size, replace=False))
    images = run.dataset.images(index)
    order = rng.permutation(size)  # references and reconstructions: a random few, not the lowest indices
    images, index = images[order], index[order]
    mu, logvar = run.encode(images)
    return Encoded(images, index, mu, logvar)


def show_run(
    run_dir: str | Path,
    out: str | Path | None = None,
    settings: ShowSettings = ShowSettings(),
    show_progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write every figure of `run_dir` into `out` (default RUN_DIR/figures); {name: path}."""
    from minirtc.training.restore import load_run

    if settings.num_references > settings.num_points:
        raise ValueError(
            f"num_references ({settings.num_references}) exceeds num_points ({settings.num_points})"
        )
    run = load_run(run_dir)
    out = Path(out) if out is not None else Path(run_dir) / "figures"
    has_factors = bool(getattr(run.dataset, "factor_names", ()))
    total = run.config.latent_dim + 5 + has_factors  # a GIF per latent, the all-latents GIF, the PNGs
    with paper_style(), progress(total, "show", unit="figure", enabled=show_progress) as bar:
        bar.stage("encoding items")
        encoded = encode_sample(run, settings)
        written = _write_figures(run, encoded, settings, out, bar)
    for path in written.values():
        echo(f"wrote {path}")
    return written


def _write(path: Path, data: bytes, written: dict[str, Path], bar: Any) -> None:
    records.atomic_write_bytes(path, data)
    written[path.stem] = path
    bar.update(1)


def _write_figures(
    run: Any, encoded: Encoded, settings: ShowSettings, out: Path, bar: Any
) -> dict[str, Path]:
    mu, logvar = encoded.mu, encoded.logvar  # (P, D) each
    R = settings.num_references
    kl, active = traversal.kl_per_latent(mu, logvar), traversal.active_latents(mu)
    order = traversal.kl_order(kl, active)
    labels = animations.latent_labels(kl, active)
    values = traversal.traversal_values(mu, settings.num_frames, settings.value_range)  # (D, K)
    who = _describe(run)
    written: dict[str, Path] = {}

    bar.stage("decoding traversals")
    frames = traversal.traverse(run.decode, mu[:R], values)  # (D, R, K, H, W, C)
    references = to_unit_float(encoded.images[:R], run.dataset.pixel_max, np.float64)  # (R, H, W, C)
    range_text = _range_text(settings.value_range)
    for d in range(mu.shape[1]):
        bar.stage(f"GIF of z{d + 1}")
        gif = animations.latent_frames(
            references, frames[d], f"{labels[d]}   ({who})", values[d], f"swept over {range_text}"
        )
        _write(out / f"traversal_z{d + 1}.gif", gif_bytes(bounce(gif)), written, bar)
    bar.stage("GIF of all latents")
    titles = [animations.value_text(values, settings.value_range, k) for k in range(values.shape[1])]
    gif = animations.all_latents_frames(frames, order, labels, active, titles)
    _write(out / "traversals_all.gif", gif_bytes(bounce(gif)), written, bar)

    bar.stage("still traversal grid")
    columns = _column_labels(values, settings.value_range)
    fig = traversal_grid(
        references[0],
        frames[order, 0],
        [labels[d] for d in order],
        columns,
        f"Latent traversals, {who}\nrow: one latent swept over {range_text}, "
        "the others at \u03bc of the input; most informative first",
        [not active[d] for d in order],
    )
    _write(out / "traversals.png", figure_png(fig), written, bar)

    bar.stage("reconstructions")
    shown = encoded.images[: settings.num_reconstructions]
    inputs = to_unit_float(shown, run.dataset.pixel_max, np.float64)
    decoded = np.asarray(run.decode(mu[: len(shown)]), dtype=np.float64)
    fig = reconstruction_grid(inputs, [decoded], ["decoded \u03bc"], f"Reconstructions, {who}")
    _write(out / "reconstructions.png", figure_png(fig), written, bar)

    bar.stage("KL per latent")
    fig = kl_bars(kl, active, f"KL of each latent over {len(mu)} items, {who}")
    _write(out / "kl.png", figure_png(fig), written, bar)

    factor_names = list(getattr(run.dataset, "factor_names", ()))
    if factor_names and len(mu) >= NUM_BINS:
        bar.stage("mutual information")
        factors = run.dataset.item_factors(encoded.index)  # (P, K)
        mi = mutual_info_matrix(factors, mu, allow_constant=True)  # (D, K)
        title = (
            f"Mutual information of latents and factors ({len(mu)} items, \u03bc in {NUM_BINS} bins), {who}"
        )
        fig = mi_heatmap(mi, discrete_entropy(factors), factor_names, title)
        _write(out / "mutual_information.png", figure_png(fig), written, bar)

    bar.stage("training curves")
    rows = records.read_history(run.path)
    fig = training_curves(rows, f"Training curves, {who} (history.jsonl, {len(rows)} rows)")
    _write(out / "training_curves.png", figure_png(fig), written, bar)
    return written


def _describe(run: Any) -> str:
    """ "rtc-vae β=2, dsprites, step 1500" for titles."""
    c = run.config
    o = c.objective.resolved()
    name, weight = ("\u03b3", o.gamma) if c.model == "factor-vae" else ("\u03b2", o.beta)
    weight_text = f" {name}={weight:g}" if weight is not None else ""
    return f"{c.model}{weight_text}, {c.dataset}, step {run.step}"


def _range_text(value_range: str) -> str:
    if value_range == "prior":
        return f"the prior's \u00b1{traversal.PRIOR_SIGMAS:g} sd"
    low, high = traversal.QUANTILE_SPAN
    return f"the data's {low:.1%}..{high:.1%} quantiles of each latent"


def _column_labels(values: np.ndarray, value_range: str) -> list[str]:
    if value_range == "prior":
        return [f"{v:+.1f}" for v in values[0]]
    return [f"{100 * q:.3g}%" for q in np.linspace(*traversal.QUANTILE_SPAN, values.shape[1])]
