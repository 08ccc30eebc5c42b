"""Claim (4) of the paper judged on a sweep, with 95% intervals across seeds (docs/experiments.md).

Each part of the claim is a statement about a quantity per (model, beta): a ratio
TC_mean / TC_sample, or a difference of TC_mean between betas or models.  Its
seeds give a mean and a Student-t interval (Welch's for a difference of two
groups).  Against the report's threshold, a part **holds** at a beta when the
whole interval lies on the claim's side, **does not hold** when the whole interval
lies on the other side, and **cannot be judged** when the interval contains the
threshold (too few seeds, or seeds that disagree).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from minirtc.experiments.sweep_data import SweepData

LEVEL = 0.95  # two-sided level of every interval
CLOSE_GAP_NATS = 0.1  # rtc-vae: TC_mean and TC_sample count as equal within this many nats ...
CLOSE_RATIO = 1.5  # ... or within this factor of each other
FAR_RATIO = 2.0  # factor-vae: TC_mean counts as far above TC_sample at this factor or more

HOLDS, FAILS, OPEN = "holds", "does not hold", "cannot be judged"


class Interval(NamedTuple):
    """A mean (or difference of means) with its interval and the seeds behind it."""

    mean: float
    lo: float
    hi: float
    n: int

    def text(self, digits: int = 2) -> str:
        return f"{self.mean:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"


def t_interval(values: list[float]) -> Interval:
    """Student-t interval of the mean of the finite values (one value: no interval, infinitely wide)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    if len(x) == 0:
        return Interval(float("nan"), float("-inf"), float("inf"), 0)
    if len(x) == 1:
        return Interval(float(x[0]), float("-inf"), float("inf"), 1)
    half = stats.t.ppf(0.5 + LEVEL / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return Interval(float(x.mean()), float(x.mean() - half), float(x.mean() + half), len(x))


def welch_interval(a: list[float], b: list[float]) -> Interval:
    """Welch's interval of mean(a) - mean(b); n is the smaller group's size."""
    x, y = (np.asarray([v for v in g if v is not None and np.isfinite(v)], float) for g in (a, b))
    n = min(len(x), len(y))
    if n < 2:
        diff = float(x.mean() - y.mean()) if n else float("nan")
        return Interval(diff, float("-inf"), float("inf"), n)
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    diff, se = float(x.mean() - y.mean()), float(np.sqrt(vx + vy))
    if se == 0:
        return Interval(diff, diff, diff, n)
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))  # Welch-Satterthwaite
    half = stats.t.ppf(0.5 + LEVEL / 2, df) * se
    return Interval(diff, diff - half, diff + half, n)


def above(interval: Interval, threshold: float) -> str:
    """HOLDS when the interval lies above the threshold, FAILS when below, else OPEN."""
    if interval.lo > threshold:
        return HOLDS
    if interval.hi < threshold:
        return FAILS
    return OPEN


def inside(interval: Interval, lo: float, hi: float) -> str:
    """HOLDS when the interval lies within [lo, hi], FAILS when it misses it, else OPEN."""
    if lo <= interval.lo and interval.hi <= hi:
        return HOLDS
    if interval.hi < lo or interval.lo > hi:
        return FAILS
    return OPEN


def overall(verdicts: list[str]) -> str:
    """One verdict from the per-beta ones."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if verdicts and all(v == FAILS for v in verdicts):
        return FAILS
    if HOLDS in verdicts and FAILS in verdicts:
        return "holds partly"
    return OPEN


def final_values(data: SweepData, model: str, beta: float, fn: Any) -> list[float]:
    """fn(last evaluation row) for each finished seed of (model, beta)."""
    values = []
    for run in data.finished(model, beta):
        try:
            values.append(float(fn(run.final_eval)))
        except (KeyError, TypeError, ZeroDivisionError):
            continue
    return values


def _ratio(row: dict[str, Any]) -> float:
    return row["tc_mean"] / row["tc_sample"] if row["tc_sample"] > 0 else float("inf")


def _gap(row: dict[str, Any]) -> float:
    return row["tc_mean"] - row["tc_sample"]


def _tc_mean(row: dict[str, Any]) -> float:
    return row["tc_mean"]


def judge_claim4(data: SweepData) -> list[str]:
    """Markdown lines that judge claim (4) with the sweep's numbers and intervals across seeds."""
    if not {"factor-vae", "rtc-vae"} <= set(data.spec.models):
        return [
            "Claim (4) compares factor-vae with rtc-vae; this sweep does not hold both, so it is not tested."
        ]
    have = [
        b
        for b in data.spec.betas
        if all(final_values(data, m, b, _tc_mean) for m in ("factor-vae", "rtc-vae"))
    ]
    if not have:
        return ["No beta has finished runs of both models: claim (4) cannot be tested yet."]
    return [_claim_4a(data, have), _claim_4b(data, have), _claim_4c(data, have), _figure_4(data, have)]


def _claim_4a(data: SweepData, betas: list[float]) -> str:
    verdicts, details = [], []
    for b in betas:
        ratio = t_interval(final_values(data, "rtc-vae", b, _ratio))
        gap = t_interval(final_values(data, "rtc-vae", b, _gap))
        by_gap, by_ratio = (
            inside(gap, -CLOSE_GAP_NATS, CLOSE_GAP_NATS),
            inside(ratio, 1 / CLOSE_RATIO, CLOSE_RATIO),
        )
        verdict = HOLDS if HOLDS in (by_gap, by_ratio) else (FAILS if by_gap == by_ratio == FAILS else OPEN)
        verdicts.append(verdict)
        details.append(f"β={b:g}: gap {gap.text(3)} nats, ratio {ratio.text()} (n={ratio.n}, {verdict})")
    return (
        f"- **(4a) rtc-vae: TC_mean ≈ TC_sample** — {overall(verdicts)}. {'; '.join(details)}. "
        f"Holds where the interval of the gap lies within ±{CLOSE_GAP_NATS} nats or that of the ratio "
        f"within a factor {CLOSE_RATIO}."
    )


def _claim_4b(data: SweepData, betas: list[float]) -> str:
    verdicts, details = [], []
    for b in betas:
        ratio = t_interval(final_values(data, "factor-vae", b, _ratio))
        verdicts.append(above(ratio, FAR_RATIO))
        means = t_interval(final_values(data, "factor-vae", b, _tc_mean)).mean
        samples = t_interval(final_values(data, "factor-vae", b, lambda r: r["tc_sample"])).mean
        details.append(
            f"β={b:g}: {means:.3f} vs {samples:.3f}, ratio {ratio.text()} (n={ratio.n}, {verdicts[-1]})"
        )
    return (
        f"- **(4b) factor-vae: TC_mean far above TC_sample** — {overall(verdicts)}. {'; '.join(details)}. "
        f"Holds where the interval of the ratio lies above {FAR_RATIO}."
    )


def _claim_4c(data: SweepData, betas: list[float]) -> str:
    groups = [final_values(data, "factor-vae", b, _tc_mean) for b in betas]
    means = [t_interval(g).mean for g in groups]
    if len(betas) < 2:
        return f"- **(4c) factor-vae: TC_mean grows with β** — {OPEN}: one β only."
    rise = welch_interval(groups[-1], groups[0])
    verdict = above(rise, 0.0)
    if verdict == HOLDS and not all(a < c for a, c in zip(means, means[1:])):
        verdict = "holds partly"  # up from the first beta to the last, but not at every step
    pairs = [(b, v) for b, g in zip(betas, groups) for v in g]
    rho = float(stats.spearmanr(*zip(*pairs))[0]) if len({b for b, _ in pairs}) > 1 else float("nan")
    return (
        f"- **(4c) factor-vae: TC_mean grows with β** — {verdict}. Seed means "
        f"{', '.join(f'{m:.3f}' for m in means)} at β = {', '.join(f'{b:g}' for b in betas)}; "
        f"TC_mean(β={betas[-1]:g}) − TC_mean(β={betas[0]:g}) = {rise.text(3)} (Welch); "
        f"Spearman ρ(β, TC_mean) over all runs = {rho:.2f}. Holds where that difference's interval lies "
        "above 0 and the seed means rise at every step of β."
    )


def _figure_4(data: SweepData, betas: list[float]) -> str:
    verdicts, details = [], []
    for b in betas:
        below = welch_interval(
            final_values(data, "factor-vae", b, _tc_mean), final_values(data, "rtc-vae", b, _tc_mean)
        )
        verdicts.append(above(below, 0.0))
        details.append(f"β={b:g}: factor-vae − rtc-vae {below.text(3)} ({verdicts[-1]})")
    return (
        f"- **(Fig. 4) rtc-vae's TC_mean below factor-vae's** — {overall(verdicts)}. {'; '.join(details)}. "
        "Holds where the interval of the difference lies above 0."
    )


def _last_quarter_mean(rows: list[dict[str, Any]], key: str) -> float | None:
    """The mean of `key` over the train rows in the last quarter of a run's steps."""
    if not rows:
        return None
    last = rows[-1]["step"]
    values = [r[key] for r in rows if key in r and r["step"] > 0.75 * last and np.isfinite(r[key])]
    return float(np.mean(values)) if values else None


def diagnostic_table(data: SweepData) -> list[str]:
    """What the mechanism behind claim (4) needs, per model and beta: a discriminator that tells
    q(z) from the product of its marginals, and posteriors wide enough for sampling to matter."""
    lines = [
        "| model | β | n | discriminator accuracy (last quarter) | its TC estimate (nats, last quarter) "
        "| mean posterior variance σ² (final) |",
        "|---|---|---|---|---|---|",
    ]
    for model in data.spec.models:
        for beta in data.spec.betas:
            runs = data.finished(model, beta)
            accuracy = t_interval([_last_quarter_mean(r.train_rows, "disc_accuracy") for r in runs])
            tc = t_interval([_last_quarter_mean(r.train_rows, "tc") for r in runs])
            sigma2 = t_interval(final_values(data, model, beta, lambda row: row["mean_sigma2"]))
            cells = [_cell(accuracy, 3), _cell(tc, 3), _cell(sigma2, 4)]
            lines.append(f"| {model} | {beta:g} | {len(runs)} | " + " | ".join(cells) + " |")
    return lines


def _cell(interval: Interval, digits: int) -> str:
    if interval.n == 0:
        return "–"
    return interval.text(digits) if interval.n > 1 else f"{interval.mean:.{digits}f}"
