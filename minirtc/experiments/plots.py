"""The paper's figures (Figs. 3-10) from a sweep directory, plus traversals and reconstructions.

    tc_over_training_<model>.png   Figs. 3, 9: TC_sample and TC_mean over training, per beta
    tc_mean_comparison.png         Figs. 4, 10: TC_mean of the models side by side, per beta
    elbo.png                       Figs. 5, 6: training ELBO, per beta
    pairplot_<model>.png           Figs. 7, 8: pairs of mean-representation dimensions
    traversals_<model>.png         one latent varied per row, by KL (as `minirtc show`)
    reconstructions.png            data and each model's reconstruction

Bands are 90% confidence intervals of the mean over seeds (Student t, n - 1 degrees of
freedom), as the paper's "90% confidence interval"; a single seed gets no band.  Only
finished runs are plotted; every other grid point is named as missing on the figure and
in the returned notes.  Figures are drawn on `matplotlib.figure.Figure` objects (no
pyplot state) with the Agg canvas and written atomically; the image grids are
`minirtc.viz`'s, the same as `minirtc show` draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from minirtc.experiments.sweep_data import RunData, SweepData, load_sweep, missing_note
from minirtc.training import records
from minirtc.viz import animations, traversal
from minirtc.viz.grids import as_picture as _as_picture  # noqa: F401  (the name the sweep's tests use)
from minirtc.viz.grids import reconstruction_grid, traversal_grid
from minirtc.viz.style import figure_png, paper_style
from minirtc.viz.style import new_figure as _figure
from minirtc.viz.style import suptitle as _suptitle

BAND_LEVEL = 0.9  # the paper's 90% confidence interval
MODEL_COLOURS = {
    "factor-vae": "#d62728",
    "rtc-vae": "#1f77b4",
    "beta-tcvae": "#2ca02c",
    "beta-vae": "#9467bd",
}


# -- bands over seeds -------------------------------------------------------------------


def seed_band(series: list[tuple[np.ndarray, np.ndarray]], level: float = BAND_LEVEL):
    """Mean and confidence band over seeds of curves given as (steps, values) pairs.

    Returns steps (T,), mean (T,), lo (T,), hi (T,), n (T,): at each step that any seed
    logged, the seeds that logged it; lo = hi = mean where n < 2.  Non-finite values
    (a singular covariance gives TC = inf) are left out of that step.
    """
    from scipy import stats

    steps = np.unique(np.concatenate([s for s, _ in series])) if series else np.zeros(0)
    table = np.full((len(series), len(steps)), np.nan)  # (S, T)
    for i, (s, v) in enumerate(series):
        table[i, np.searchsorted(steps, s)] = v
    table[~np.isfinite(table)] = np.nan
    n = np.sum(~np.isnan(table), axis=0)  # (T,)
    keep = n > 0
    table, steps, n = table[:, keep], steps[keep], n[keep]
    mean = np.nansum(table, axis=0) / np.maximum(n, 1)  # (T,)
    sd = np.sqrt(np.nansum((table - mean) ** 2, axis=0) / np.maximum(n - 1, 1))  # (T,) ddof 1
    t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))  # two-sided
    half = np.where(n > 1, t * sd / np.sqrt(n), 0.0)
    return steps, mean, mean - half, mean + half, n


def curve(rows: list[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of `key` over history rows."""
    steps = np.array([r["step"] for r in rows if key in r], dtype=np.int64)
    values = np.array([r[key] if r[key] is not None else np.nan for r in rows if key in r], dtype=float)
    return steps, values


def _band_plot(ax, runs: list[RunData], rows: str, key: str, colour, label: str) -> None:
    """One mean curve with its band over the seeds in `runs`."""
    series = [curve(getattr(r, rows), key) for r in runs]
    series = [s for s in series if len(s[0])]
    if not series:
        return
    steps, mean, lo, hi, _ = seed_band(series)
    ax.plot(steps, mean, color=colour, lw=1.3, label=f"{label} (n={len(series)})")
    ax.fill_between(steps, lo, hi, color=colour, alpha=0.2, lw=0)


# -- figures -----------------------------------------------------------------------------


def _footnote(fig, text: str) -> None:
    """Put `text` (e.g. the missing runs) under the axes, in small grey type."""
    if text:
        reserve = ((text.count("\n") + 1) * 1.3 * 6.5 / 72 + 0.08) / fig.get_figheight()  # inches -> fraction
        fig.get_layout_engine().set(rect=(0, reserve, 1, 1 - reserve))
        fig.text(0.01, 0.01, text, fontsize=6.5, color="0.3", ha="left", va="bottom")


def _legend_or_note(ax, loc: str) -> None:
    """A legend, or "no finished runs" across an empty panel."""
    if ax.has_data():
        ax.legend(loc=loc, frameon=False)
    else:
        ax.text(0.5, 0.5, "no finished runs", ha="center", va="center", color="0.4", transform=ax.transAxes)
        ax.set_xticks([])


def _beta_colours(betas: tuple[float, ...]) -> dict[float, Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return {b: cmap(0.85 * i / max(len(betas) - 1, 1)) for i, b in enumerate(betas)}


def _dataset_label(data: SweepData) -> str:
    record = data.dataset_record() or {}
    source = record.get("source", "unknown source")
    return f"{data.spec.dataset} ({source})"


def plot_tc_over_training(data: SweepData, model: str):
    """Figs. 3/9: TC_sample (left) and TC_mean (right) of `model` over training, one curve per beta."""
    fig = _figure(7.0, 2.8)
    axes = fig.subplots(1, 2)
    colours = _beta_colours(data.spec.betas)
    for ax, key, name in zip(axes, ("tc_sample", "tc_mean"), ("TC$_{sample}$", "TC$_{mean}$")):
        for beta in data.spec.betas:
            _band_plot(ax, data.finished(model, beta), "eval_rows", key, colours[beta], f"\u03b2 = {beta:g}")
        ax.set_title(f"{model}: {name}")
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{name} (nats)")
        ax.grid(alpha=0.3)
        _legend_or_note(ax, "best")
    _suptitle(
        fig,
        f"Total correlation of sampled and mean representation, {_dataset_label(data)}; "
        f"bands: {BAND_LEVEL:.0%} CI over seeds",
        fontsize=8,
    )
    _footnote(fig, missing_note(data, (model,)))
    return fig


def plot_tc_mean_comparison(data: SweepData):
    """Figs. 4/10: TC_mean of each model over training, one panel per beta (shared y axis)."""
    betas = data.spec.betas
    fig = _figure(min(2.4 * len(betas), 12.0) + 0.4, 2.6)
    axes = np.atleast_1d(fig.subplots(1, len(betas), sharey=True))
    for ax, beta in zip(axes, betas):
        for model in data.spec.models:
            _band_plot(
                ax, data.finished(model, beta), "eval_rows", "tc_mean", MODEL_COLOURS.get(model, "k"), model
            )
        ax.set_title(f"\u03b2 = {beta:g}")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        _legend_or_note(ax, "best")
    axes[0].set_ylabel("TC$_{mean}$ (nats)")
    _suptitle(
        fig,
        f"TC of the mean representation, {' vs '.join(data.spec.models)}, {_dataset_label(data)}",
        fontsize=8,
    )
    _footnote(fig, missing_note(data))
    return fig


def plot_elbo(data: SweepData):
    """Figs. 5/6: the training ELBO (nats per image) of each model, one panel per beta.

    The y axis starts at the lowest value after the first 10% of training, so the
    converged part is readable (the first rows are hundreds of nats lower).
    """
    betas = data.spec.betas
    fig = _figure(min(2.4 * len(betas), 12.0) + 0.4, 2.6)
    axes = np.atleast_1d(fig.subplots(1, len(betas), sharey=True))
    steps_total = int(data.spec.train["steps"])
    low, high = np.inf, -np.inf
    for ax, beta in zip(axes, betas):
        for model in data.spec.models:
            runs = data.finished(model, beta)
            _band_plot(ax, runs, "train_rows", "elbo", MODEL_COLOURS.get(model, "k"), model)
            for run in runs:
                steps, values = curve(run.train_rows, "elbo")
                late = values[(steps >= 0.1 * steps_total) & np.isfinite(values)]
                if len(late):
                    low, high = min(low, late.min()), max(high, late.max())
        ax.set_title(f"\u03b2 = {beta:g}")
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        _legend_or_note(ax, "lower right")
    if np.isfinite(low):
        margin = 0.05 * max(high - low, 1.0)
        axes[0].set_ylim(low - margin, high + margin)
    axes[0].set_ylabel("training ELBO (nats / image)")
    _suptitle(
        fig,
        f"Training ELBO (minibatch, averaged over each log interval), {_dataset_label(data)}; "
        "y axis: after the first 10% of steps",
        fontsize=8,
    )
    _footnote(fig, missing_note(data))
    return fig


def plot_pairplot(mu: np.ndarray, title: str):
    """Figs. 7/8: every pair of mean dimensions; scatter below the diagonal, Pearson r above.

    mu: (P, D) mean representation of P data items.
    """
    P, D = mu.shape
    side = max(0.9 * D, 3.0) + 0.5  # inches
    fig = _figure(side, side, layout=None)
    axes = fig.subplots(D, D, squeeze=False)
    top = _suptitle(fig, title, fontsize=9) + 0.15
    height = side + top
    fig.set_figheight(height)
    fig.subplots_adjust(
        left=0.45 / side, right=0.99, bottom=0.35 / height, top=1 - top / height, wspace=0.05, hspace=0.05
    )
    r = np.corrcoef(mu.T) if P > 1 else np.eye(D)  # (D, D)
    for i in range(D):
        for j in range(D):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if i == j:
                ax.hist(mu[:, i], bins=30, color="0.4")
            elif i > j:
                ax.scatter(mu[:, j], mu[:, i], s=0.5, alpha=0.35, color="k", rasterized=True, lw=0)
            else:
                value = r[i, j] if np.isfinite(r[i, j]) else 0.0
                ax.set_facecolor((1.0, 1.0 - 0.8 * abs(value), 1.0 - 0.8 * abs(value)))
                ax.text(
                    0.5, 0.5, f"{r[i, j]:.2f}", ha="center", va="center", fontsize=8, transform=ax.transAxes
                )
            if j == 0:
                ax.set_ylabel(f"\u03bc{i + 1}", rotation=0, ha="right", va="center")
            if i == D - 1:
                ax.set_xlabel(f"\u03bc{j + 1}")
    return fig


def traversal_images(trainer: Any, base_mu: np.ndarray, values: np.ndarray, image_shape) -> np.ndarray:
    """Decode base_mu (D,) with dimension k set to each of `values` (K,) -> images (D, K, H, W, C)."""
    D = len(base_mu)
    frames = traversal.traverse(trainer.decode_latents, base_mu[None, :], np.tile(values, (D, 1)))
    return frames[:, 0].reshape(D, len(values), *image_shape)  # (D, K, H, W, C)


# -- the figures of one sweep --------------------------------------------------------------


def representative_run(data: SweepData, model: str, beta: float | None) -> RunData | None:
    """The finished run of `model` at `beta` (default: the largest beta with one) with the lowest seed."""
    betas = [beta] if beta is not None else sorted(data.spec.betas, reverse=True)
    for b in betas:
        runs = sorted(data.finished(model, b), key=lambda r: r.state.run.seed)
        if runs:
            return runs[0]
    return None


def make_figures(
    sweep_dir: str | Path,
    out_dir: str | Path | None = None,
    pair_beta: float | None = None,
    num_points: int = 1000,
    seed: int = 0,
    echo: Callable[[str], None] = print,
) -> dict[str, Path]:
    """Write every figure of the sweep as PNG into `out_dir` (default SWEEP_DIR/figures).

    Pair plots, traversals and reconstructions use, per model, the finished run at
    `pair_beta` (default the largest beta that has one) with the lowest seed, and a
    fixed sample of `num_points` of its training items drawn from `seed`.
    Returns {figure name: path}.
    """
    with paper_style():
        return _make_figures(load_sweep(sweep_dir), out_dir, pair_beta, num_points, seed, echo)


def _make_figures(data: SweepData, out_dir, pair_beta, num_points: int, seed: int, echo) -> dict[str, Path]:
    out_dir = Path(out_dir) if out_dir is not None else data.path / "figures"
    note = missing_note(data, width=1000)
    if note:
        echo(note)
    written: dict[str, Path] = {}
    figures: dict[str, Any] = {
        f"tc_over_training_{m}": (plot_tc_over_training, (data, m)) for m in data.spec.models
    }
    figures["tc_mean_comparison"] = (plot_tc_mean_comparison, (data,))
    figures["elbo"] = (plot_elbo, (data,))
    for name, (plot, args) in figures.items():
        written[name] = save_figure(plot(*args), out_dir / f"{name}.png")
    written.update(_model_figures(data, out_dir, pair_beta, num_points, seed, echo))
    for path in written.values():
        echo(f"wrote {path}")
    return written


def _model_figures(
    data: SweepData, out_dir: Path, pair_beta, num_points: int, seed: int, echo
) -> dict[str, Path]:
    """Pair plots, traversals and reconstructions: these load the trained models.

    Every model encodes the same items: `num_points` training items of the first chosen run.
    """
    from minirtc.data import to_unit_float
    from minirtc.training.restore import load_run

    written: dict[str, Path] = {}
    images = originals = None
    reconstructions, labels = [], []
    for model in data.spec.models:
        chosen = representative_run(data, model, pair_beta)
        if chosen is None:
            echo(f"no finished {model} run: no pair plot, traversals or reconstructions for it")
            continue
        run = load_run(chosen.state.path)
        if images is None:
            rng = np.random.default_rng(seed)
            size = min(num_points, len(run.dataset))
            images = run.dataset.images(np.sort(rng.choice(len(run.dataset), size=size, replace=False)))
            originals = to_unit_float(images[:8], run.dataset.pixel_max, np.float64)  # (8, H, W, C)
        mu, logvar = run.encode(images)  # (P, D) each
        who = f"{model}, \u03b2 = {chosen.state.run.beta:g}, seed {chosen.state.run.seed}"
        title = (
            f"Mean representation of {len(mu)} items, {who} "
            f"(Gaussian TC$_{{mean}}$ = {_gaussian_tc(mu):.2f} nats)\nbelow the diagonal: pairs; "
            "above: Pearson r; diagonal: histograms"
        )
        written[f"pairplot_{model}"] = save_figure(
            plot_pairplot(mu, title), out_dir / f"pairplot_{model}.png"
        )

        fig = _traversal_figure(run, mu, logvar, originals[0], who)
        written[f"traversals_{model}"] = save_figure(fig, out_dir / f"traversals_{model}.png")
        reconstructions.append(np.asarray(run.trainer.decode_latents(mu[: len(originals)]), dtype=float))
        labels.append(f"{model}\n\u03b2={chosen.state.run.beta:g}")
    if originals is not None:
        fig = reconstruction_grid(
            originals,
            reconstructions,
            labels,
            "Reconstructions: data (top row) and each model's decoding of \u03bc",
        )
        written["reconstructions"] = save_figure(fig, out_dir / "reconstructions.png")
    return written


def _gaussian_tc(mu: np.ndarray) -> float:
    import minirtc

    return float(minirtc.gaussian_tc_of_samples(mu))


def _traversal_figure(run: Any, mu: np.ndarray, logvar: np.ndarray, reference: np.ndarray, who: str):
    """`minirtc show`'s still traversal grid of the first item: latents by KL, inactive ones last."""
    kl, active = traversal.kl_per_latent(mu, logvar), traversal.active_latents(mu)
    order = traversal.kl_order(kl, active)
    values = traversal.traversal_values(mu, 9, "prior")  # (D, K)
    frames = traversal.traverse(run.decode, mu[:1], values)[:, 0]  # (D, K, H, W, C)
    labels = animations.latent_labels(kl, active)
    return traversal_grid(
        reference,
        frames[order],
        [labels[d] for d in order],
        [f"{v:+.1f}" for v in values[0]],
        f"Latent traversals, {who}\nrow: one latent swept over the prior's \u00b12.5 sd, the others at "
        "\u03bc of the input; most informative first",
        [not active[d] for d in order],
    )


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write `fig` as a PNG at `path`, atomically."""
    records.atomic_write_bytes(Path(path), figure_png(fig))
    return Path(path)
