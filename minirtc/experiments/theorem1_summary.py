"""E2's summary: the key numbers of each part of `theorem1.py` and the verdict on each claim."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from minirtc.experiments.theorem1 import (
    REWARD_TOLERANCE,
    SHUTDOWN_CASES,
    SHUTDOWN_ESTIMATORS,
    Theorem1Config,
    Theorem1Results,
    mean_std,
    rho_of_gap,
    shutdown_effects,
)

__all__ = ["format_summary", "shutdown_table", "summarise"]


def summarise(config: Theorem1Config, results: Theorem1Results) -> dict:
    """The JSON summary: the key numbers of each part and the verdict on each claim."""
    cf = results.closed_form
    rho_max = rho_of_gap(min(config.log10_gaps))
    at_extreme = [r for r in cf if r["rho"] == rho_max]  # one row per width c
    closed = {
        "latent_dim": config.latent_dim,
        "rho_max": rho_max,
        "tc_mu_at_rho_max": at_extreme[0]["tc_mu"],
        "per_width": [
            {
                "c": r["c"],
                "tc_z_at_rho_max": r["tc_z"],
                "bound": r["bound"],
                "below_bound_everywhere": all(x["tc_z"] < x["bound"] for x in cf if x["c"] == r["c"]),
            }
            for r in at_extreme
        ],
        "tc_mu_increasing": _nondecreasing([r["tc_mu"] for r in cf if r["c"] == config.widths[0]]),
    }
    mc = []
    for kind in sorted({r["width"] for r in results.monte_carlo}):
        for rho in config.mc_rhos:
            vals = np.array(
                [r["tc_z_monte_carlo"] for r in results.monte_carlo if r["width"] == kind and r["rho"] == rho]
            )
            ref = [r for r in results.monte_carlo if r["width"] == kind and r["rho"] == rho][0]
            mc.append(
                {
                    "width": kind,
                    "rho": rho,
                    "tc_mu": ref["tc_mu"],
                    "tc_z_closed_form": ref["tc_z_closed_form"],
                }
                | mean_std("tc_z_monte_carlo", vals)
            )
    effects = shutdown_effects(results.shutdown)
    shut = [e for e in effects if e["case"] == "one shut down"]
    return {
        "experiment": "E2 Theorem 1 (paper Fig. 2)",
        "closed_form": closed,
        "monte_carlo": mc,
        "shutdown_table": shutdown_table(results.shutdown),
        "shutdown_effects": effects,
        "claim_shutdown_rewarded": {
            e["estimator"]: {
                "vs_population": _verdict(e, "population"),
                "vs_exact": _verdict(e, "exact"),
            }
            for e in shut
        },
        "config": config.to_dict(),
    }


def shutdown_table(rows: Sequence[dict]) -> list[dict]:
    """Mean and std over repeats of every estimate and reference, per case."""
    table = []
    for case in SHUTDOWN_CASES:
        chosen = [r for r in rows if r["case"] == case]
        if not chosen:
            continue
        entry = {"case": case, "tc_mu": chosen[0]["tc_mu"]}
        for key in ("population", "exact", *SHUTDOWN_ESTIMATORS):
            entry |= mean_std(f"tc_{key}", np.array([r[f"tc_{key}"] for r in chosen]))
        table.append(entry)
    return table


def format_summary(summary: dict) -> str:
    """The E2 numbers as short aligned text (what the CLI prints)."""
    cf = summary["closed_form"]
    lines = [
        f"E2 closed form, D = {cf['latent_dim']}: at rho = {cf['rho_max']:.8g}, "
        f"TC(mu) = {cf['tc_mu_at_rho_max']:.2f} nats",
        *(
            f"  c = {w['c']:g}: TC(z) = {w['tc_z_at_rho_max']:.3f} < bound {w['bound']:.3f} "
            f"(below at every rho: {w['below_bound_everywhere']})"
            for w in cf["per_width"]
        ),
        "E2 Monte Carlo TC(z) (mean +- std over repeats), nats:",
    ]
    for m in summary["monte_carlo"]:
        closed = (
            "" if not np.isfinite(m["tc_z_closed_form"]) else f" (closed form {m['tc_z_closed_form']:.3f})"
        )
        lines.append(
            f"  {m['width']:<20} rho = {m['rho']:<7g} TC(mu) = {m['tc_mu'] + 0.0:6.2f}  "
            f"TC(z) = {m['tc_z_monte_carlo_mean']:.3f} +- {m['tc_z_monte_carlo_std']:.3f}{closed}"
        )
    header = f"{'case':<26}{'TC(mu)':>8}{'population':>12}{'exact':>14}" + "".join(
        f"{e:>15}" for e in SHUTDOWN_ESTIMATORS
    )
    lines += ["E2 shut-down dimension: TC estimates (mean +- std over repeats), nats", header]
    for t in summary["shutdown_table"]:
        cells = [f"{t[f'tc_{k}_mean']:.2f}+-{t[f'tc_{k}_std']:.2f}" for k in ("exact", *SHUTDOWN_ESTIMATORS)]
        lines.append(
            f"{t['case']:<26}{t['tc_mu'] + 0.0:>8.2f}{t['tc_population_mean'] + 0.0:>12.3f}{cells[0]:>14}"
            + "".join(f"{c:>15}" for c in cells[1:])
        )
    lines.append(
        "Claim 'minibatch estimators reward shutting a dimension down' (one shut down vs all active):"
    )
    for estimator, verdict in summary["claim_shutdown_rewarded"].items():
        effect = next(
            e
            for e in summary["shutdown_effects"]
            if e["case"] == "one shut down" and e["estimator"] == estimator
        )
        lines.append(
            f"  {estimator:<14} estimate changes {effect['estimate_change_mean']:+.2f} nats; truth "
            f"changes {effect['population_change_mean']:+.2f} (population) / "
            f"{effect['exact_change_mean']:+.2f} (exact): vs population {verdict['vs_population']}, "
            f"vs exact {verdict['vs_exact']}"
        )
    return "\n".join(lines)


def _verdict(effect: dict, reference: str) -> str:
    """'rewarded' when the estimate drops by more than the reference does.

    "More" means beyond both 2 standard errors of the paired differences and
    REWARD_TOLERANCE nats (a difference smaller than that teaches nothing).
    """
    mean, std, n = effect[f"reward_vs_{reference}_mean"], effect[f"reward_vs_{reference}_std"], effect["n"]
    if not np.isfinite(mean):
        return "not measured"
    margin = max(2.0 * std / math.sqrt(n) if n > 1 else 0.0, REWARD_TOLERANCE)
    if mean < -margin:
        return "rewarded"
    if mean > margin:
        return "penalised"
    return "no significant effect"


def _nondecreasing(values: Sequence[float]) -> bool:
    return all(b >= a - 1e-12 for a, b in zip(values[:-1], values[1:]))
