"""Minibatch estimators of log q(z) and the ELBO's KL decomposition (docs/estimators.md).

The aggregate posterior of a dataset of N items is the N-component mixture

    q(z) = (1/N) sum_n q(z|n).

On a minibatch of M items we only see M of its components.  Every estimator here
scores each sample z_i under every batch posterior q(.|n_j),

    L[i, j, k] = log N(z_ik; mu_jk, sigma_jk^2)        # (M, M, D)

and mixes the components with a log-weight matrix logW (M, M):

    log q(z_i)   ~= logsumexp_j ( logW[i, j] + sum_k L[i, j, k] )
    log q(z_ik)  ~= logsumexp_j ( logW[i, j] + L[i, j, k] )

Both are the backend's `ops.log_mixture(z, mu, logvar, logW)`, which never holds
all of L: it walks the rows i a cache-sized slice at a time and rebuilds each
slice in the backward pass, so the cost is M^2 D exponentials and the memory
O(M D) beyond one slice (docs/estimators.md).

The estimators (MWS, MSS0, MSS1, MWS without constants) differ ONLY in logW,
built by `log_weight_matrix`.  They estimate the TC of the finite mixture above,
not of a population Gaussian: `exact_log_qz` gives that mixture's exact value by
a full-data logsumexp (docs/estimators.md#what-the-minibatch-estimators-estimate).

References: Chen et al. 2018 (Isolating sources of disentanglement), Appendix C;
the RTC-VAE paper, eqs. (5), (6), (11) and Appendix A.2 (eq. (6) is garbled in
print; docs/estimators.md#mss-corrected states the intended weights).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as onp

from minirtc.densities import log_normal, log_standard_normal
from minirtc.ops import Array, ops_for

METHODS = ("mws", "mws-noconst", "mss0", "mss1")


class TCDecomposition(NamedTuple):
    """Per-sample log densities and the batch estimates of the KL decomposition.

    KL term = MI + TC + dimKL (Chen et al. 2018, eq. (2)); all in nats.
    """

    log_q_zx: Array  # (M,)   log q(z_i | n_i)
    log_qz: Array  # (M,)     log q(z_i)
    log_qz_marginals: Array  # (M, D)  log q(z_ik)
    mi: Array  # ()  mean_i [log q(z_i|n_i) - log q(z_i)]
    tc: Array  # ()  mean_i [log q(z_i) - sum_k log q(z_ik)]
    dim_kl: Array  # ()  mean_i sum_k [log q(z_ik) - log p(z_ik)]


class MixtureLogDensity(NamedTuple):
    """log q(z) and log q(z_k) of the full N-point mixture at M sample points."""

    log_qz: Array  # (M,)
    log_qz_marginals: Array  # (M, D)


# ---------------------------------------------------------------------------
# The weights
# ---------------------------------------------------------------------------


def log_weight_matrix(method: str, batch_size: int, dataset_size: int) -> onp.ndarray:
    """The (M, M) matrix logW[i, j] that weights posterior j when scoring sample i.

    - "mws": Minibatch Weighted Sampling as published (paper eq. (11)): every
      weight 1/(N M), so each row sums to 1/N.  The constant -log(N M) enters
      log q(z) once and every log q(z_k) once, hence the TC estimate carries
      +(D - 1) log(N M) relative to "mws-noconst".
    - "mws-noconst": MWS with the constants dropped (every weight 1), the
      convention of disentanglement_lib.  Same gradients, very different value:
      it reads far BELOW the true TC (docs/estimators.md).
    - "mss1": Minibatch Stratified Sampling as the paper corrects it (App. A.2):
      with M' = M - 1, weight 1/M' everywhere except W[i, i] = 1/N (the sample's
      own posterior) and W[i, (i+1) % M] = (N - M') / (N M') (one item stands in
      for the N - M' items not in the batch).  Each row sums to 1.
    - "mss0": the weights exactly as Chen et al.'s released code builds them.
      Their strided writes hit column 0 and column 1 instead of the diagonal and
      its neighbour: 1/N in column 0, (N - M')/(N M') in column 1, then
      W[M' - 1, 0] = (N - M')/(N M').  Kept, quirk included, for comparison.
    """
    _check_method(method)
    M, N = _check_sizes(method, batch_size, dataset_size)
    return log_weight_rows(method, M, N, 0, M)


def log_weight_rows(method: str, M: int, N: int, start: int, stop: int) -> onp.ndarray:
    """Rows start..stop-1 of `log_weight_matrix` (c, M): chunked estimators never hold all M x M."""
    if method == "mws":
        return onp.full((stop - start, M), -math.log(N * M))
    if method == "mws-noconst":
        return onp.zeros((stop - start, M))

    M_prime = M - 1
    strat_weight = (N - M_prime) / (N * M_prime)  # one item stands in for N - M' items
    row = onp.arange(start, stop)[:, None]  # (c, 1)
    col = onp.arange(M)[None, :]  # (1, M)
    W = onp.full((stop - start, M), 1.0 / M_prime)
    if method == "mss1":
        W = onp.where(col == row, 1.0 / N, W)  # the sample's own posterior
        W = onp.where(col == (row + 1) % M, strat_weight, W)  # the stratum's stand-in
    else:  # "mss0": Chen et al.'s code, writes with stride M land in columns 0 and 1
        W = onp.where(col == 0, 1.0 / N, W)
        W = onp.where(col == 1, strat_weight, W)
        W = onp.where((row == M_prime - 1) & (col == 0), strat_weight, W)
    with onp.errstate(divide="ignore"):  # N == M' makes the stand-in weight 0
        return onp.log(W)


# ---------------------------------------------------------------------------
# The minibatch decomposition
# ---------------------------------------------------------------------------


def decompose(
    z: Array,
    mu: Array,
    logvar: Array,
    dataset_size: int,
    method: str = "mss1",
    chunk_size: int | None = None,
) -> TCDecomposition:
    """Estimate log q(z), log q(z_k), MI, TC and dimension-wise KL on a minibatch.

    z, mu, logvar: (M, D), z_i drawn from q(z | n_i).  `dataset_size` is N, the
    number of items q(z) mixes over.  `method` picks the weights (see
    `log_weight_matrix`).  `chunk_size` scores that many samples i at a time, so
    memory is O(chunk_size * M * D) instead of O(M * M * D); results are equal.
    Works on NumPy (autograd-traced too) and torch arrays and returns their type.
    """
    _check_method(method)
    M, D = _check_latents(z, mu, logvar)
    M, N = _check_sizes(method, M, dataset_size)
    ops = ops_for(z)

    def mixture_rows(start: int, stop: int) -> MixtureLogDensity:
        # logsumexp_j over logW_rows[i, j] + L[i, j, k], L[i, j, k] = log N(z_ik; mu_jk, sigma_jk^2)
        logW_rows = log_weight_rows(method, M, N, start, stop)  # (c, M)
        return MixtureLogDensity(*ops.log_mixture(z[start:stop], mu, logvar, logW_rows))  # (c,), (c, D)

    log_qz, log_qz_marginals = _over_chunks(mixture_rows, M, chunk_size, ops)
    log_q_zx = ops.sum(log_normal(z, mu, logvar), axis=1)  # (M,)
    return _assemble(log_q_zx, log_qz, log_qz_marginals, z)


def exact_log_qz(
    z: Array,
    dataset_mu: Array,
    dataset_logvar: Array,
    chunk_size: int | None = None,
) -> MixtureLogDensity:
    """Exact log q(z) and log q(z_k) of the N-point mixture of a dataset's posteriors.

    log q(z_i)  = logsumexp_n sum_k log N(z_ik; mu_nk, sigma_nk^2) - log N
    log q(z_ik) = logsumexp_n       log N(z_ik; mu_nk, sigma_nk^2) - log N

    z: (M, D) points; dataset_mu, dataset_logvar: (N, D), every item's posterior.
    `chunk_size` walks the dataset that many posteriors at a time and merges the
    chunks with logaddexp, so memory is O(M * chunk_size * D).
    See docs/estimators.md and docs/theory.md#elbo-decomposition.
    """
    N, D = _check_pair(dataset_mu, dataset_logvar, "dataset_mu", "dataset_logvar")
    if N < 1:
        raise ValueError("dataset_mu must hold at least one posterior (N >= 1), got an empty array")
    if z.ndim != 2 or z.shape[1] != D:
        raise ValueError(f"z must have shape (M, {D}) to match dataset_mu, got {tuple(z.shape)}")
    ops = ops_for(z)

    def mixture_over(start: int, stop: int) -> MixtureLogDensity:
        # every weight 1 over posteriors start..stop-1: [i, n, k] = log N(z_ik; mu_nk, sigma_nk^2)
        no_weights = onp.zeros((z.shape[0], stop - start))  # (M, c)
        return MixtureLogDensity(
            *ops.log_mixture(z, dataset_mu[start:stop], dataset_logvar[start:stop], no_weights)
        )

    step = N if chunk_size is None else _check_chunk_size(chunk_size)
    log_qz, log_qz_marginals = mixture_over(0, min(step, N))
    for start in range(step, N, step):
        chunk = mixture_over(start, min(start + step, N))
        log_qz = ops.logaddexp(log_qz, chunk.log_qz)
        log_qz_marginals = ops.logaddexp(log_qz_marginals, chunk.log_qz_marginals)
    log_N = math.log(N)
    return MixtureLogDensity(log_qz - log_N, log_qz_marginals - log_N)


def decompose_exact(
    z: Array,
    mu: Array,
    logvar: Array,
    dataset_mu: Array,
    dataset_logvar: Array,
    chunk_size: int | None = None,
) -> TCDecomposition:
    """The KL decomposition with the EXACT full-data q(z) (docs/theory.md#elbo-decomposition), at samples z.

    z, mu, logvar: (M, D), z_i drawn from q(z | n_i); dataset_mu/logvar (N, D)
    are the posteriors of the whole dataset (or a stated subset) that defines q(z).
    """
    _check_latents(z, mu, logvar)
    mixture = exact_log_qz(z, dataset_mu, dataset_logvar, chunk_size)
    log_q_zx = ops_for(z).sum(log_normal(z, mu, logvar), axis=1)  # (M,)
    return _assemble(log_q_zx, mixture.log_qz, mixture.log_qz_marginals, z)


def _assemble(log_q_zx: Array, log_qz: Array, log_qz_marginals: Array, z: Array) -> TCDecomposition:
    """MI, TC and dimKL as batch means of the per-sample terms (docs/estimators.md)."""
    ops = ops_for(z)
    log_prod_qzk = ops.sum(log_qz_marginals, axis=1)  # (M,)  log prod_k q(z_ik)
    log_pz = log_standard_normal(z)  # (M, D)  log p(z_ik)
    mi = ops.mean(log_q_zx - log_qz)
    tc = ops.mean(log_qz - log_prod_qzk)
    dim_kl = ops.mean(ops.sum(log_qz_marginals - log_pz, axis=1))
    return TCDecomposition(log_q_zx, log_qz, log_qz_marginals, mi, tc, dim_kl)


def _over_chunks(rows_fn, M: int, chunk_size: int | None, ops) -> MixtureLogDensity:
    """Call rows_fn on consecutive row ranges and concatenate the results."""
    if chunk_size is None or _check_chunk_size(chunk_size) >= M:
        return rows_fn(0, M)
    parts = [rows_fn(start, min(start + chunk_size, M)) for start in range(0, M, chunk_size)]
    return MixtureLogDensity(
        ops.concatenate([p.log_qz for p in parts], axis=0),
        ops.concatenate([p.log_qz_marginals for p in parts], axis=0),
    )


# ---------------------------------------------------------------------------
# Argument checks: one clear ValueError naming the argument
# ---------------------------------------------------------------------------


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")


def _check_sizes(method: str, batch_size: int, dataset_size: int) -> tuple[int, int]:
    if not isinstance(batch_size, (int, onp.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(dataset_size, (int, onp.integer)) or dataset_size < 1:
        raise ValueError(f"dataset_size must be a positive integer, got {dataset_size!r}")
    if method.startswith("mss"):
        if batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 for {method!r}, got {batch_size}")
        if batch_size > dataset_size:
            raise ValueError(
                f"batch_size ({batch_size}) must not exceed dataset_size ({dataset_size}) "
                f"for {method!r}: stratified sampling draws the batch from the dataset"
            )
    return int(batch_size), int(dataset_size)


def _check_chunk_size(chunk_size: int) -> int:
    if not isinstance(chunk_size, (int, onp.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None, got {chunk_size!r}")
    return int(chunk_size)


def _check_pair(mu: Array, logvar: Array, mu_name: str, logvar_name: str) -> tuple[int, int]:
    if mu.ndim != 2:
        raise ValueError(f"{mu_name} must be 2-D (items, latents), got shape {tuple(mu.shape)}")
    if tuple(logvar.shape) != tuple(mu.shape):
        raise ValueError(
            f"{logvar_name} has shape {tuple(logvar.shape)} but {mu_name} has "
            f"shape {tuple(mu.shape)}; they must match"
        )
    return int(mu.shape[0]), int(mu.shape[1])


def _check_latents(z: Array, mu: Array, logvar: Array) -> tuple[int, int]:
    M, D = _check_pair(mu, logvar, "mu", "logvar")
    if tuple(z.shape) != (M, D):
        raise ValueError(f"z has shape {tuple(z.shape)} but mu has shape {(M, D)}; they must match")
    return M, D
