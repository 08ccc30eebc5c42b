"""The full-data ELBO decomposition of a model (Chen et al. 2018, Sec. 3; docs/theory.md#elbo-decomposition).

    E_n KL(q(z|n) || p(z)) = MI(n; z) + TC(z) + sum_k KL(q(z_k) || p(z_k))

with the aggregate posterior q(z) = (1/N) sum_n q(z|n) evaluated EXACTLY over the
N posteriors given (the whole dataset or a stated subset): one z_n ~ q(z|n) per
item, then `minirtc.decompose_exact`, which walks the N posteriors in chunks.
Cost O(N^2 D), memory O(N * chunk_size * D): the cost grows with the square of
N, so the default subset is 2,000 random observations (the result records
`num_points`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.densities import kl_normal
from minirtc.estimators import decompose_exact
from minirtc.metrics.checks import check_codes, check_rng
from minirtc.metrics.sampling import EncodeFn, sample_posteriors


def elbo_decomposition(
    mu: np.ndarray,
    logvar: np.ndarray,
    rng: np.random.Generator,
    chunk_size: int | None = 256,
) -> dict[str, float]:
    """MI, TC, dimension-wise KL and their sum (nats) for a dataset's posteriors mu, logvar (N, D).

    `kl` = mi + tc + dim_kl is a Monte-Carlo estimate of the mean KL term;
    `kl_closed_form` is its exact value, a check on the estimate.
    """
    mu = check_codes(mu, "mu")
    logvar = check_codes(logvar, "logvar")
    if logvar.shape != mu.shape:
        raise ValueError(f"logvar has shape {logvar.shape} but mu has {mu.shape}; they must match")
    eps = check_rng(rng).standard_normal(mu.shape)  # (N, D)
    z = mu + np.exp(0.5 * logvar) * eps  # (N, D): z_n ~ q(z | n)
    parts = decompose_exact(z, mu, logvar, mu, logvar, chunk_size)
    mi, tc, dim_kl = float(parts.mi), float(parts.tc), float(parts.dim_kl)
    return {
        "mi": mi,
        "tc": tc,
        "dim_kl": dim_kl,
        "kl": mi + tc + dim_kl,
        "kl_closed_form": float(np.mean(kl_normal(mu, logvar))),
        "num_points": float(mu.shape[0]),
    }


def compute_elbo_decomposition(
    dataset: Any,
    encode_fn: EncodeFn,
    rng: np.random.Generator,
    num_points: int = 2_000,
    batch_size: int = 64,
    chunk_size: int | None = 256,
) -> dict[str, float]:
    """The decomposition over the posteriors of num_points random observations (the stated subset)."""
    mu, logvar = sample_posteriors(dataset, encode_fn, num_points, rng, batch_size)
    return elbo_decomposition(mu, logvar, rng, chunk_size)
