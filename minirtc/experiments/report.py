"""The Markdown report of a sweep (E3-E6): scale, dataset, numbers, figures, and claim (4) tested.

    write_report(sweep_dir)  ->  SWEEP_DIR/report.md (figures in SWEEP_DIR/figures)

Every number is a mean and a sample standard deviation (ddof 1) over the finished
seeds of one (model, beta), with n stated.  "Final" means the last evaluation row of
a run (the training loop evaluates at its last step).  Claim (4) (docs/experiments.md) is judged
in experiments/claims.py with 95% intervals across seeds against thresholds stated in
the report itself, so a reader can disagree with the verdict from the same numbers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from minirtc.experiments.claims import diagnostic_table, judge_claim4
from minirtc.experiments.plots import make_figures
from minirtc.experiments.sweep import PROFILES, RunSpec, count_states
from minirtc.experiments.sweep_data import SweepData, load_sweep
from minirtc.training import records
from minirtc.training.config import TrainConfig

REPORT_FILE = "report.md"


# -- numbers ---------------------------------------------------------------------------


def mean_sd(values: list[float]) -> tuple[float, float, int]:
    """Mean, sample standard deviation (0 for one value) and count of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def fmt(stat: tuple[float, float, int], digits: int = 3) -> str:
    """ "1.234 ± 0.056" (or "1.234" for one seed, "–" for none)."""
    mean, sd, n = stat
    if n == 0:
        return "–"
    return f"{mean:.{digits}f}" if n == 1 else f"{mean:.{digits}f} ± {sd:.{digits}f}"


def final_stats(data: SweepData, model: str, beta: float, key: str) -> tuple[float, float, int]:
    """mean_sd over finished seeds of `key` in the final evaluation row."""
    return mean_sd([r.final_eval.get(key) for r in data.finished(model, beta)])


def elbo_at(run: Any, fraction: float) -> float | None:
    """The training ELBO of the first log row at or after `fraction` of the run's steps."""
    rows = run.train_rows
    if not rows:
        return None
    target = fraction * rows[-1]["step"]
    return next(r["elbo"] for r in rows if r["step"] >= target)


def metric_stats(data: SweepData, model: str, beta: float) -> dict[str, tuple[float, float, int]]:
    """{"metric.score": mean_sd over finished, evaluated seeds}."""
    values: dict[str, list[float]] = {}
    for run in data.finished(model, beta):
        if not run.metrics or run.metrics.get("status") != "finished":
            continue
        for metric, scores in run.metrics["scores"].items():
            for score, value in scores.items():
                if score != "num_points":
                    values.setdefault(f"{metric}.{score}", []).append(value)
    return {name: mean_sd(v) for name, v in values.items()}


# -- the report ---------------------------------------------------------------------------


def scale_lines(data: SweepData) -> list[str]:
    """What the sweep ran: profile, grid, each model's training settings, state of the runs, compute."""
    spec = data.spec
    profile = PROFILES.get(spec.profile)
    counts = count_states([r.state for r in data.runs])
    wall = sum((r.summary or {}).get("wall_s") or 0.0 for r in data.runs)
    metric_wall = sum((r.metrics or {}).get("wall_s") or 0.0 for r in data.runs)
    lines = [
        f"- **Profile:** `{spec.profile}`{' (QUICK smoke-test scale: not a result)' if spec.quick else ''}"
        + (f" — {profile.description}" if profile else ""),
        f"- **Grid:** models {', '.join(spec.models)}; β ∈ {{{', '.join(f'{b:g}' for b in spec.betas)}}} "
        f"(factor-vae's γ, rtc-vae's β); seeds {', '.join(map(str, spec.seeds))} "
        f"({len(spec.seeds)} per cell)",
        *(
            training_line(model, spec.config(RunSpec(model, spec.betas[0], spec.seeds[0])))
            for model in spec.models
        ),
        f"- **Runs:** {', '.join(f'{n} {s}' for s, n in counts.items())} of {len(data.runs)}",
        f"- **Compute:** {wall / 3600:.2f} h of training and {metric_wall / 3600:.2f} h of metric evaluation "
        "(summed over runs; wall time is less with parallel jobs"
        + ("; each seed of a group counts the group's training time)" if spec.group_seeds else ")"),
    ]
    if spec.profile != "paper" or spec.quick:
        lines.append(
            "- This is a **reduced scale**, not the paper's (300,000 steps, conv VAE, 10 seeds, full data); "
            "conclusions about the paper's claims hold for this scale only."
        )
    return lines


def training_line(model: str, config: TrainConfig) -> str:
    """One model's training settings as its runs used them (the profile's, then the model's own)."""
    arch = (
        "conv (Burgess et al. / Locatello et al.)"
        if config.arch == "conv"
        else f"MLP, hidden {tuple(config.hidden)}"
    )
    discriminator = (
        f", discriminator {config.disc_layers} × {config.disc_hidden} at lr {config.disc_lr}"
        if config.objective.needs_discriminator
        else ""
    )
    eta = f", η = {config.objective.eta}" if model == "rtc-vae" else ""
    return (
        f"- **Training ({model}):** {config.steps} steps, batch {config.batch_size}, lr {config.lr}, "
        f"{config.backend} backend, {arch}, D = {config.latent_dim}{discriminator}{eta}; TC_mean/TC_sample "
        f"evaluated every {config.eval_every} steps on {config.eval_size} training items"
    )


def dataset_lines(data: SweepData) -> list[str]:
    """The dataset as config.json recorded it: real file or procedural, items, factors."""
    record = data.dataset_record()
    if record is None:
        return [f"- `{data.spec.dataset}` (no run has written config.json yet)"]
    source = record.get("source", "unknown")
    kind = "procedural rendering (no download)" if source == "procedural" else f"real file: {source}"
    factors = zip(record.get("factor_names", []), record.get("factor_sizes", []))
    lines = [
        f"- **Name:** `{record.get('name')}` — {kind}",
        f"- **Factors:** {', '.join(f'{n} ({s})' for n, s in factors)}; "
        f"images {tuple(record.get('image_shape', []))}",
    ]
    subset = record.get("subset")
    if subset:
        lines.append(
            f"- **Trained on:** a random subset of {subset['size']:,} of the {subset['of']:,} grid points "
            "(drawn from each run's seed); the metrics sample the full grid"
        )
    else:
        lines.append(f"- **Trained on:** all {record.get('num_items', '?'):,} items")
    return lines


def tc_table(data: SweepData) -> list[str]:
    """E3/E4: final TC_sample, TC_mean, their ratio, active units and the ELBO, per model and beta."""
    lines = [
        "| model | β | n | TC_sample (nats) | TC_mean (nats) | TC_mean / TC_sample | active units | "
        "ELBO at 25% of steps | final ELBO (nats) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for model in data.spec.models:
        for beta in data.spec.betas:
            runs = data.finished(model, beta)
            sample = final_stats(data, model, beta, "tc_sample")
            mean = final_stats(data, model, beta, "tc_mean")
            ratio = mean_sd(
                [
                    r.final_eval.get("tc_mean") / r.final_eval.get("tc_sample")
                    for r in runs
                    if r.final_eval.get("tc_sample")
                ]
            )
            units = final_stats(data, model, beta, "active_units")
            quarter = mean_sd([elbo_at(r, 0.25) for r in runs])
            final = mean_sd([elbo_at(r, 1.0) for r in runs])
            lines.append(
                f"| {model} | {beta:g} | {len(runs)} | {fmt(sample)} | {fmt(mean)} | {fmt(ratio, 2)} | "
                f"{fmt(units, 1)} | {fmt(quarter, 1)} | {fmt(final, 1)} |"
            )
    return lines


def metric_table(data: SweepData) -> list[str]:
    """E6: every metric score (rows) per model and beta (columns), mean ± sd over seeds."""
    columns = [(m, b) for m in data.spec.models for b in data.spec.betas]
    stats = {c: metric_stats(data, *c) for c in columns}
    names = sorted({name for s in stats.values() for name in s})
    if not names:
        return ["No run has been evaluated yet (metrics.json missing or failed)."]
    evaluated = {
        c: sum(1 for r in data.finished(*c) if (r.metrics or {}).get("status") == "finished") for c in columns
    }
    lines = [
        "| metric | " + " | ".join(f"{m} β={b:g} (n={evaluated[(m, b)]})" for m, b in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(fmt(stats[c].get(name, (0, 0, 0))) for c in columns) + " |")
    sizes = next((_metric_sizes(r.metrics) for r in data.runs if r.metrics), None)
    if sizes:
        lines.append("")
        lines.append(
            f"Metric sample sizes: num_train = {sizes[0]}, num_eval = {sizes[1]} "
            "(the reference defaults: 10,000 / 5,000; docs/metrics.md); the metric seed is the run's seed."
        )
    return lines


def _metric_sizes(record: dict[str, Any]) -> tuple[Any, Any]:
    """num_train, num_eval of a metrics.json (top level; older sweep files kept them under "settings")."""
    where = record if "num_train" in record else record.get("settings") or {}
    return where.get("num_train"), where.get("num_eval")


def problem_lines(data: SweepData) -> list[str]:
    """Failed runs with their errors, failed evaluations, unfinished runs."""
    lines = []
    for run in data.runs:
        state = run.state
        if state.state == "failed":
            lines.append(f"- `{state.run.name}` failed: {state.error}")
        elif state.state != "finished":
            lines.append(f"- `{state.run.name}` is {state.state}")
        elif run.metrics and run.metrics.get("status") == "failed":
            lines.append(f"- `{state.run.name}`: metric evaluation failed: {run.metrics.get('error')}")
    return lines or ["None: every run finished" + (" and was evaluated." if data.spec.metrics else ".")]


FIGURE_TEXT = {
    "tc_over_training": "Figs. 3/9 — TC_sample (left) and TC_mean (right) over training, one curve per β, "
    "90% CI of the mean over seeds",
    "tc_mean_comparison": "Figs. 4/10 — TC_mean of the models side by side, one panel per β",
    "elbo": "Figs. 5/6 — training ELBO of the models, one panel per β",
    "pairplot": "Figs. 7/8 — pairs of mean-representation dimensions",
    "traversals": "Latent traversals, one latent per row by decreasing KL, inactive latents last "
    "(`minirtc show RUN_DIR` draws them for any run, with GIFs)",
    "reconstructions": "Reconstructions",
}


def figure_lines(figures: dict[str, Path], report_dir: Path) -> list[str]:
    lines = []
    for name, path in figures.items():
        key = next((k for k in FIGURE_TEXT if name.startswith(k)), name)
        suffix = name[len(key) :].strip("_")
        caption = FIGURE_TEXT.get(key, name) + (f" ({suffix})" if suffix else "")
        lines += [
            f"**{caption}**",
            "",
            f"![{caption}]({os.path.relpath(Path(path).resolve(), report_dir)})",
            "",
        ]
    return lines


def build_report(data: SweepData, figures: dict[str, Path], report_dir: Path) -> str:
    """The report's Markdown text."""
    provenance = records.provenance()
    sections = [
        [
            f"# minirtc sweep report: `{data.path.name}`",
            "",
            f"Written {time.strftime('%Y-%m-%d %H:%M')} from `{data.path}` by minirtc "
            f"{provenance['versions'].get('minirtc')} (git {provenance['git_commit']}).",
        ],
        ["## Scale", "", *scale_lines(data)],
        ["## Dataset", "", *dataset_lines(data)],
        [
            "## E3/E4: final total correlation and ELBO",
            "",
            "Per model and β: mean ± sd over finished seeds of the last evaluation (closed-form Gaussian "
            "TC of the mean representation μ and of one sample z, docs/estimators.md, on the run's "
            "fixed evaluation items) "
            "and of the training ELBO (minibatch, nats per image).",
            "",
            *tc_table(data),
        ],
        [
            "## Claim (4): TC_mean vs TC_sample",
            "",
            "The paper claims that with rtc-vae TC_mean ≈ TC_sample, while factor-vae's TC_mean is far above "
            "its TC_sample and grows with β (claim 4 in docs/experiments.md; paper Figs. 3, 4).",
            "",
            *judge_claim4(data),
            "",
            "What the mechanism needs (Kim & Mnih's discriminator must tell q(z) from the product of its "
            "marginals, accuracy 0.5 = it cannot, and its TC estimate is then near 0, so the penalty has "
            "no signal; and TC_mean and TC_sample can only differ where the posteriors' variances are not "
            "small beside the spread of the means); mean and 95% interval over seeds:",
            "",
            *diagnostic_table(data),
        ],
        ["## E6: metrics (docs/metrics.md)", "", *metric_table(data)],
        ["## Figures", "", *figure_lines(figures, report_dir)]
        if figures
        else ["## Figures", "", "No figures were made (run `minirtc plot SWEEP_DIR`)."],
        ["## Failed, unfinished or unevaluated runs", "", *problem_lines(data)],
    ]
    return "\n\n".join("\n".join(s) for s in sections) + "\n"


def write_report(
    sweep_dir: str | Path,
    out: str | Path | None = None,
    plots: bool = True,
    echo: Callable[[str], None] = print,
) -> Path:
    """Make the figures (unless `plots` is False) and write the report (default SWEEP_DIR/report.md)."""
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / REPORT_FILE
    figures = make_figures(sweep_dir, echo=echo) if plots else _existing_figures(sweep_dir / "figures")
    text = build_report(load_sweep(sweep_dir), figures, out.parent.resolve())
    records.atomic_write_bytes(out, text.encode("utf-8"))
    echo(f"wrote {out}")
    return out


def _existing_figures(directory: Path) -> dict[str, Path]:
    return {p.stem: p.resolve() for p in sorted(directory.glob("*.png"))}
