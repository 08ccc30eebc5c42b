"""E1 (paper Fig. 1): minibatch and discriminator TC estimators against BOTH references.

For every latent dimension D, equicorrelation rho of the means, posterior width
sigma and batch size M, a synthetic dataset of N items has mu_n ~ N(0, S_rho) and
q(z|n) = N(mu_n, sigma^2 I).  One minibatch of M items and one z per item is
scored by

    mws, mws-noconst, mss0, mss1   `minirtc.decompose` (docs/estimators.md; the weights differ)
    discriminator                 TC_D of a discriminator fitted to this q(z)
                                  (docs/estimators.md#density-ratio-discriminator)

and compared with two references (docs/estimators.md#what-the-minibatch-estimators-estimate):

    tc_population  gaussian_tc(S_rho + sigma^2 I), the closed form the paper plots
    tc_exact       the TC of the N-point mixture q(z) = (1/N) sum_n q(z|n) at the
                   SAME samples, by a full-data logsumexp (`minirtc.decompose_exact`)

For narrow posteriors the two references differ by many nats; which one an
estimator "gets right" depends on that choice and on MWS's constants
(+(D - 1) log(N M) as published).  One CSV row per setting and repeat.
"""

from __future__ import annotations

import concurrent.futures
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace

import numpy as np

import minirtc
from minirtc.experiments.discriminator import DiscriminatorConfig, discriminator_tc_of, train_discriminator
from minirtc.experiments.synthetic import equicorrelation, gaussian_latents

MINIBATCH_METHODS = ("mws", "mws-noconst", "mss0", "mss1")  # the `minirtc.decompose` methods
ESTIMATORS = (*MINIBATCH_METHODS, "discriminator")
REFERENCES = ("population", "exact")
CHUNK = 256  # rows (samples or dataset items) scored at a time: bounded memory, same numbers


@dataclass(frozen=True)
class EstimatorStudyConfig:
    """The grid of E1 and its scale.  `quick()` gives a seconds-long version for tests."""

    dims: tuple[int, ...] = (2, 4, 6, 8, 10, 12, 14, 16)  # latent dimensions D
    rhos: tuple[float, ...] = (0.0, 0.5, 0.9)  # equicorrelation of the means: the true TC's range
    sigmas: tuple[float, ...] = (
        0.1,
        1.0,
    )  # posterior widths: the paper's 0.1, and one where references agree
    batch_sizes: tuple[int, ...] = (16, 64, 256)  # minibatch sizes M
    dataset_size: int = 2048  # N, the number of items the mixture q(z) has
    repeats: int = 3  # independent datasets, batches and discriminators per setting
    seed: int = 0
    discriminator: DiscriminatorConfig | None = field(default_factory=DiscriminatorConfig)  # None: skip
    summary_dim: int = 10  # the D at which errors are tabulated

    def __post_init__(self) -> None:
        _check_positive_ints("dims", self.dims, minimum=2)
        _check_positive_ints("batch_sizes", self.batch_sizes, minimum=2)
        if not self.rhos or any(not 0.0 <= r < 1.0 for r in self.rhos):
            raise ValueError(f"rhos must be non-empty values in [0, 1), got {self.rhos}")
        if not self.sigmas or any(not s > 0 for s in self.sigmas):
            raise ValueError(f"sigmas must be non-empty positive values, got {self.sigmas}")
        if max(self.batch_sizes) > self.dataset_size:
            raise ValueError(
                f"every batch size must be <= dataset_size ({self.dataset_size}), got {max(self.batch_sizes)}"
            )
        if self.repeats < 1:
            raise ValueError(f"repeats must be >= 1, got {self.repeats}")

    @classmethod
    def quick(cls, **overrides) -> EstimatorStudyConfig:
        """A small grid (seconds): three dimensions, one rho, two widths, two batch sizes, two repeats."""
        small = cls(
            dims=(2, 6, 10),
            rhos=(0.5,),
            sigmas=(0.1, 1.0),
            batch_sizes=(64, 256),
            dataset_size=1024,
            repeats=2,
            discriminator=DiscriminatorConfig.quick(),
        )
        return replace(small, **overrides)

    @property
    def reference_batch_size(self) -> int:
        """The M that the summary table and the scatter figure use: the largest."""
        return max(self.batch_sizes)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Cell:
    """One (D, rho, sigma, repeat): one dataset and one discriminator, scored at every batch size."""

    latent_dim: int
    rho: float
    sigma: float
    repeat: int


# ---------------------------------------------------------------------------
# Computing
# ---------------------------------------------------------------------------


def cells(config: EstimatorStudyConfig) -> list[Cell]:
    """Every (D, rho, sigma, repeat) in a fixed order."""
    return [
        Cell(D, rho, sigma, r)
        for D in config.dims
        for rho in config.rhos
        for sigma in config.sigmas
        for r in range(config.repeats)
    ]


def cell_rng(seed: int, cell: Cell) -> np.random.Generator:
    """A generator determined by the seed and the cell's values alone (not by run order or --jobs)."""
    key = [cell.latent_dim, round(cell.rho * 1e6), round(cell.sigma * 1e6), cell.repeat]
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def run_cell(config: EstimatorStudyConfig, cell: Cell) -> list[dict]:
    """Score one cell at every batch size; one row (dict) per batch size."""
    from threadpoolctl import threadpool_limits

    rng = cell_rng(config.seed, cell)
    N, D = config.dataset_size, cell.latent_dim
    latents = gaussian_latents(rng, N, equicorrelation(D, cell.rho), cell.sigma)
    tc_population = latents.population_tc()
    with threadpool_limits(1):  # small matrices: BLAS threads only contend with the other jobs
        disc = None
        if config.discriminator is not None:
            disc, disc_losses = train_discriminator(rng, latents.draw, D, config.discriminator)
        rows = []
        for M in config.batch_sizes:
            z, mu, logvar = latents.batch(rng, M)  # (M, D) each
            row = {
                "latent_dim": D,
                "rho": cell.rho,
                "sigma": cell.sigma,
                "batch_size": M,
                "dataset_size": N,
                "repeat": cell.repeat,
                "tc_population": tc_population,
                "tc_exact": float(
                    minirtc.decompose_exact(z, mu, logvar, latents.mu, latents.logvar, chunk_size=CHUNK).tc
                ),
                "mws_constant": (D - 1)
                * math.log(N * M),  # mws - mws-noconst, exactly (docs/estimators.md#mws)
            }
            for method in MINIBATCH_METHODS:
                row[f"tc_{method}"] = float(minirtc.decompose(z, mu, logvar, N, method, chunk_size=CHUNK).tc)
            row["tc_discriminator"] = math.nan if disc is None else discriminator_tc_of(disc, z)
            row["disc_final_loss"] = math.nan if disc is None else float(np.mean(disc_losses[-20:]))
            rows.append(row)
    return rows


def run_estimator_study(
    config: EstimatorStudyConfig, jobs: int = 1, progress: Callable[[int, int], None] | None = None
) -> list[dict]:
    """Run every cell (in `jobs` processes); rows in the fixed cell order, so the seed fixes the CSV."""
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    todo = cells(config)
    results: list[list[dict] | None] = [None] * len(todo)
    if jobs == 1:
        for i, cell in enumerate(todo):
            results[i] = run_cell(config, cell)
            if progress:
                progress(i + 1, len(todo))
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_cell, config, cell): i for i, cell in enumerate(todo)}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress:
                    progress(done, len(todo))
    return [row for rows in results for row in rows]


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------


def errors(rows: Sequence[dict], estimator: str, reference: str) -> np.ndarray:
    """estimate - reference (nats) for every row."""
    return np.array([r[f"tc_{estimator}"] - r[f"tc_{reference}"] for r in rows], dtype=np.float64)


def error_table(rows: Sequence[dict], latent_dim: int, batch_size: int) -> list[dict]:
    """Mean and std of each estimator's error vs each reference at one (D, M), per sigma.

    Pooled over rho and repeats.  One dict per (sigma, estimator).
    """
    table = []
    for sigma in sorted({r["sigma"] for r in rows}):
        chosen = [r for r in rows if r["latent_dim"] == latent_dim and r["batch_size"] == batch_size]
        chosen = [r for r in chosen if r["sigma"] == sigma]
        if not chosen:
            continue
        for estimator in ESTIMATORS:
            if not np.any(np.isfinite([r[f"tc_{estimator}"] for r in chosen])):
                continue  # not run (the discriminator can be skipped)
            entry = {"sigma": sigma, "estimator": estimator, "n": len(chosen)}
            for reference in REFERENCES:
                err = errors(chosen, estimator, reference)
                entry[f"mean_error_{reference}"] = float(np.mean(err))
                entry[f"std_error_{reference}"] = float(np.std(err, ddof=1)) if len(err) > 1 else 0.0
            entry["mean_tc_population"] = float(np.mean([r["tc_population"] for r in chosen]))
            entry["mean_tc_exact"] = float(np.mean([r["tc_exact"] for r in chosen]))
            table.append(entry)
    return table


def summary_dim(config: EstimatorStudyConfig) -> int:
    """The dimension the summary uses: `summary_dim` if it was run, else the closest one run."""
    return min(config.dims, key=lambda D: (abs(D - config.summary_dim), D))


def summarise(config: EstimatorStudyConfig, rows: Sequence[dict]) -> dict:
    """The JSON summary: the error tables at the summary dimension for every batch size."""
    D = summary_dim(config)
    return {
        "experiment": "E1 estimators (paper Fig. 1)",
        "summary_dim": D,
        "reference_batch_size": config.reference_batch_size,
        "dataset_size": config.dataset_size,
        "error_tables": {str(M): error_table(rows, D, M) for M in config.batch_sizes},
        "mss1_closer_to_exact_than_mss0": _closer(rows, D, "mss1", "mss0", "exact"),
        "config": config.to_dict(),
    }


def _closer(rows: Sequence[dict], D: int, a: str, b: str, reference: str) -> dict:
    """Per sigma and batch size: is mean |a - ref| < mean |b - ref| at dimension D (rhos, repeats pooled)?

    Kept per batch size because the answer changes with M: with narrow posteriors and a small
    batch (M = 16) MSS1 can be further off than MSS0, too few batch items standing in for the
    marginals (docs/estimators.md#mss-as-released).
    """
    verdict = {}
    for sigma in sorted({r["sigma"] for r in rows}):
        for M in sorted({r["batch_size"] for r in rows}):
            chosen = [
                r for r in rows if r["latent_dim"] == D and r["sigma"] == sigma and r["batch_size"] == M
            ]
            if not chosen:
                continue
            mean_abs = {e: float(np.mean(np.abs(errors(chosen, e, reference)))) for e in (a, b)}
            verdict[f"sigma={sigma:g},M={M}"] = {f"mean_abs_error_{e}": v for e, v in mean_abs.items()} | {
                "holds": mean_abs[a] < mean_abs[b]
            }
    return verdict


def format_error_table(table: Sequence[dict], latent_dim: int, batch_size: int) -> str:
    """The D = 10 table as aligned text: mean error +- std vs each reference, in nats."""
    lines = [
        f"E1 estimator errors at D = {latent_dim}, M = {batch_size} (estimate - reference, nats; "
        "mean +- std over rho and repeats)",
        f"{'sigma':>6} {'estimator':<14}{'vs population TC':>22}{'vs exact finite TC':>22}"
        f"{'pop. TC':>10}{'exact TC':>10}",
    ]
    for e in table:
        pop = f"{e['mean_error_population']:+.2f} +- {e['std_error_population']:.2f}"
        exact = f"{e['mean_error_exact']:+.2f} +- {e['std_error_exact']:.2f}"
        lines.append(
            f"{e['sigma']:>6g} {e['estimator']:<14}{pop:>22}{exact:>22}"
            f"{e['mean_tc_population']:>10.2f}{e['mean_tc_exact']:>10.2f}"
        )
    return "\n".join(lines)


def _check_positive_ints(name: str, values: Sequence[int], minimum: int) -> None:
    if not values or any(int(v) != v or v < minimum for v in values):
        raise ValueError(f"{name} must be a non-empty list of integers >= {minimum}, got {values}")
