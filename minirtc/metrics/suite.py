"""Run the metrics of docs/metrics.md on one model: `evaluate_representation`.

The model is given as `encode_fn(images uint8 (B, H, W, C)) -> (mu, logvar)`, each
(B, D).  The supervised metrics score the mean representation mu (as in
Locatello et al. 2019); the unsupervised set scores mu and a sample z.

Every metric gets its own rng, seeded from (seed, a hash of the metric's name),
so a metric's numbers do not depend on which other metrics run or in what order.
"""

from __future__ import annotations

import zlib
from typing import Any, Callable

import numpy as np

from minirtc.metrics.beta_vae import compute_beta_vae
from minirtc.metrics.checks import check_count
from minirtc.metrics.dci import compute_dci
from minirtc.metrics.elbo_decomposition import compute_elbo_decomposition
from minirtc.metrics.factor_vae import compute_factor_vae
from minirtc.metrics.mig import compute_mig
from minirtc.metrics.modularity import compute_modularity_explicitness
from minirtc.metrics.sampling import EncodeFn, mean_representation
from minirtc.metrics.sap import compute_sap
from minirtc.metrics.unsupervised import unsupervised_metrics
from minirtc.progress import progress as progress_bar

METRICS = (
    "beta_vae",
    "factor_vae",
    "mig",
    "dci",
    "sap",
    "modularity",
    "unsupervised",
    "elbo_decomposition",
)


def metric_rng(seed: int, name: str) -> np.random.Generator:
    """The rng of one metric: a function of the seed and the metric's name only."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(name.encode())]))


def resolve_metrics(metrics: str | list[str] | tuple[str, ...]) -> list[str]:
    """ "all", one name, a comma-separated string or a list -> names in METRICS order."""
    names = list(METRICS) if metrics == "all" else metrics
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, (list, tuple)):
        raise ValueError(f"metrics must be 'all' or names from {list(METRICS)}, got {metrics!r}")
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise ValueError(f"metrics must be 'all' or names from {list(METRICS)}, got {metrics!r}")
    return [n for n in METRICS if n in names]


def evaluate_representation(
    dataset: Any,
    encode_fn: EncodeFn,
    metrics: str | list[str] = "all",
    seed: int = 0,
    num_train: int = 10_000,
    num_eval: int = 5_000,
    num_elbo: int = 2_000,
    batch_size: int = 64,
    progress: bool = True,
    n_jobs: int | None = None,
) -> dict[str, dict[str, float]]:
    """{metric name: {score name: value}} for the chosen metrics of docs/metrics.md.

    num_train / num_eval: training and evaluation points (votes for FactorVAE,
    test points for DCI/SAP/explicitness); num_train is also the number of
    points for MIG, FactorVAE's variance estimate and the unsupervised set.
    num_elbo: the posteriors whose exact aggregate q(z) the ELBO decomposition
    uses; its cost grows as num_elbo^2.  n_jobs: parallel tree fits in DCI
    (joblib convention; same numbers for any value).
    """
    names = resolve_metrics(metrics)
    check_count(num_train, "num_train")
    check_count(num_eval, "num_eval")
    sizes = {"num_train": num_train, "num_eval": num_eval, "num_elbo": check_count(num_elbo, "num_elbo", 2)}
    runners = _runners(encode_fn, sizes, batch_size, progress, n_jobs)
    results = {}
    with progress_bar(len(names), "metrics", unit="metric", enabled=progress) as bar:
        for name in names:
            bar.stage(name)
            results[name] = runners[name](dataset, metric_rng(seed, name))
            bar.update(1)
    return results


def format_table(results: dict[str, dict[str, float]]) -> str:
    """A two-column text table of every score, one row per metric.score."""
    rows = [
        (f"{metric}.{score}", f"{value:.4f}")
        for metric, scores in results.items()
        for score, value in scores.items()
    ]
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name:<{width}}  {value:>10}" for name, value in rows)


def _runners(
    encode_fn: EncodeFn, sizes: dict[str, int], batch_size: int, progress: bool, n_jobs: int | None
) -> dict[str, Callable[[Any, np.random.Generator], dict[str, float]]]:
    """Each metric as f(dataset, rng) with the suite's sizes bound."""
    rep = mean_representation(encode_fn)
    n_train, n_eval, n_elbo = sizes["num_train"], sizes["num_eval"], sizes["num_elbo"]
    train = {"num_train": n_train, "batch_size": batch_size}
    return {
        "beta_vae": lambda d, r: compute_beta_vae(d, rep, r, num_eval=n_eval, progress=progress, **train),
        "factor_vae": lambda d, r: compute_factor_vae(
            d, rep, r, num_eval=n_eval, num_variance_estimate=n_train, progress=progress, **train
        ),
        "mig": lambda d, r: compute_mig(d, rep, r, **train),
        "dci": lambda d, r: compute_dci(d, rep, r, num_test=n_eval, n_jobs=n_jobs, **train),
        "sap": lambda d, r: compute_sap(d, rep, r, num_test=n_eval, **train),
        "modularity": lambda d, r: compute_modularity_explicitness(d, rep, r, num_test=n_eval, **train),
        "unsupervised": lambda d, r: unsupervised_metrics(
            d, encode_fn, r, num_points=n_train, batch_size=batch_size
        ),
        "elbo_decomposition": lambda d, r: compute_elbo_decomposition(
            d, encode_fn, r, num_points=n_elbo, batch_size=batch_size
        ),
    }
