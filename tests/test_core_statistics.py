"""Statistical behaviour of the TC estimators (docs/estimators.md#what-the-minibatch-estimators-estimate).

Setting: a dataset of N items with posterior means mu_n ~ N(0, S_mu) and a constant posterior
standard deviation sigma, so the aggregate posterior q(z) = (1/N) sum_n q(z|n) is an N-point
mixture, and for N -> infinity it is the Gaussian N(0, S_mu + sigma^2 I)
(docs/estimators.md#closed-form-gaussian-tc).
Every tolerance is derived from the spread over R repeated, seeded draws, plus a bias term
whose size is argued in the test's docstring.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

import minirtc


def equicorrelated(D: int, rho: float) -> np.ndarray:
    return np.full((D, D), rho) + (1.0 - rho) * np.eye(D)


def draw_dataset(rng: np.random.Generator, N: int, S_mu: np.ndarray, sigma: float):
    """Posteriors of N items: mu_n ~ N(0, S_mu), logvar = 2 log sigma everywhere."""
    mu = rng.multivariate_normal(np.zeros(len(S_mu)), S_mu, size=N)  # (N, D)
    return mu, np.full_like(mu, 2.0 * math.log(sigma))


def draw_batch(rng: np.random.Generator, mu_all, logvar_all, M: int):
    """A minibatch of M distinct items and one z_i ~ q(z | n_i) each."""
    index = rng.choice(len(mu_all), size=M, replace=False)
    mu, logvar = mu_all[index], logvar_all[index]
    z = mu + np.exp(logvar / 2) * rng.normal(size=mu.shape)
    return index, z, mu, logvar


def assert_converges(small: np.ndarray, large: np.ndarray, ratio: float) -> None:
    """Errors of an estimator at batch sizes M and ratio * M over R paired draws, vs a reference.

    The estimators' error is a delta-method bias of order 1/M plus noise.  Asserted:
    - at the large M, |mean error| < 3 standard errors + a bias bound of twice the 1/M law
      applied to the small M's mean error (the factor 2 for higher-order terms);
    - Richardson's extrapolation (ratio e(large) - e(small)) / (ratio - 1), which removes
      the 1/M term, is zero within 3 of its standard errors.
    """
    R = len(large)
    bias_bound = 2.0 * abs(small.mean()) / ratio
    assert abs(large.mean()) < 3.0 * large.std(ddof=1) / math.sqrt(R) + bias_bound, (large.mean(), bias_bound)
    extrapolated = (ratio * large - small) / (ratio - 1.0)
    assert abs(extrapolated.mean()) < 3.0 * extrapolated.std(ddof=1) / math.sqrt(R), extrapolated


def test_mss1_converges_to_the_exact_finite_dataset_tc() -> None:
    """Error e(M) = TC_MSS1 - TC_exact on the same z, for M = 32, 128, 512, over R draws.

    Each draw takes one batch of 512; its first M items are a uniform batch of size M, and the
    exact finite-dataset TC (`exact_log_qz` over all N posteriors) on those z is the mean of
    the same rows.  MSS1 estimates q(z_i) without bias, so the mean absolute error must fall
    as M grows, and `assert_converges` holds.
    """
    rng = np.random.default_rng(1)
    N, sigma, R, sizes = 1000, 0.3, 8, (32, 128, 512)
    mu_all, logvar_all = draw_dataset(rng, N, equicorrelated(3, 0.6), sigma)
    errors = {M: [] for M in sizes}
    for _ in range(R):
        _, z, mu, logvar = draw_batch(rng, mu_all, logvar_all, sizes[-1])
        mixture = minirtc.exact_log_qz(z, mu_all, logvar_all, chunk_size=250)
        exact_per_sample = mixture.log_qz - mixture.log_qz_marginals.sum(axis=1)  # (512,)
        for M in sizes:
            tc = minirtc.decompose(z[:M], mu[:M], logvar[:M], N, method="mss1", chunk_size=128).tc
            errors[M].append(tc - exact_per_sample[:M].mean())
    e = {M: np.array(v) for M, v in errors.items()}
    mean_abs = [np.abs(e[M]).mean() for M in sizes]
    assert mean_abs[0] > mean_abs[1] > mean_abs[2], mean_abs
    assert_converges(e[128], e[512], ratio=4.0)


def test_mss1_approaches_the_population_gaussian_tc() -> None:
    """D = 2, sigma = 0.5, N = 10^6: the N-point mixture is the Gaussian N(0, S_mu + sigma^2 I).

    A uniform batch of a dataset drawn from N(0, S_mu) is an i.i.d. draw of N(0, S_mu), so the
    dataset need not be stored: only N enters MSS1's weights.  The reference on the same z is
    the population's per-sample log q(z) - sum_k log q(z_k) (scipy densities); its mean over
    all draws must match `gaussian_tc` within 3 standard errors.  MSS1's components are the
    exact mixture components (no smoothing bias), so its error is O(1/M): `assert_converges`
    for M = 128 and 512.
    """
    rng = np.random.default_rng(2)
    N, sigma, R = 10**6, 0.5, 10
    S_mu = equicorrelated(2, 0.9)
    S = S_mu + sigma**2 * np.eye(2)
    truth = minirtc.gaussian_tc(S)  # 0.365 nats
    population, small, large = [], [], []
    for _ in range(R):
        mu = rng.multivariate_normal(np.zeros(2), S_mu, size=512)  # (512, 2)
        logvar = np.full_like(mu, 2.0 * math.log(sigma))
        z = mu + sigma * rng.normal(size=mu.shape)
        log_ratio = stats.multivariate_normal(np.zeros(2), S).logpdf(z) - stats.norm.logpdf(
            z, scale=np.sqrt(np.diag(S))
        ).sum(axis=1)  # (512,)
        population.append(log_ratio.mean())
        large.append(minirtc.decompose(z, mu, logvar, N, method="mss1", chunk_size=128).tc - log_ratio.mean())
        small.append(
            minirtc.decompose(z[:128], mu[:128], logvar[:128], N, method="mss1").tc - log_ratio[:128].mean()
        )
    population = np.array(population)
    assert abs(population.mean() - truth) < 3.0 * population.std(ddof=1) / math.sqrt(R)
    assert_converges(np.array(small), np.array(large), ratio=4.0)


def marginal_bias(z, index, mu_all, logvar_all, M: int) -> tuple[float, float]:
    """Second-order expectation of sum_k mean_i [log q_MWS(z_ik) + log N - log q(z_ik)].

    For one (i, k) let a_n = q(z_ik | n) over the N items, q = mean_n a_n.  MWS's marginal is
    (1/N) q_hat with q_hat = (1/M) sum_{j in batch} a_j, the batch holding item i itself and M-1
    others drawn without replacement.  Then
      E q_hat - q = (1/M - 1/N) (a_i - q_others)
      Var q_hat   = (M-1)/M^2 * (1 - (M-1)/(N-1)) * var_others(a)
    and E log(q_hat / q) ~= (E q_hat - q) / q - Var q_hat / (2 q^2)   (delta method).
    Returns the whole expectation and its second-order (variance) part.
    """
    N = len(mu_all)
    a = np.exp(minirtc.log_normal(z[:, None, :], mu_all[None], logvar_all[None]))  # (M, N, D)
    own = a[np.arange(M), index]  # (M, D)
    q = a.mean(axis=1)  # (M, D)
    q_others = (a.sum(axis=1) - own) / (N - 1)
    var_others = ((a**2).sum(axis=1) - own**2) / (N - 1) - q_others**2
    first = (1.0 / M - 1.0 / N) * (own - q_others) / q
    second = -(M - 1) / (2.0 * M**2) * (1.0 - (M - 1) / (N - 1)) * var_others / q**2
    return float(np.mean(np.sum(first + second, axis=1))), float(np.mean(np.sum(second, axis=1)))


def test_mws_sits_its_constant_offset_above_the_exact_tc() -> None:
    """Narrow posteriors (D = 8, sigma = 0.2, N = 500, M = 250), MWS as published (docs/estimators.md).

    Joint: the sample's own posterior dominates both sums, so
      log q_MWS(z_i) = log sum_batch q(z_i|n_j) - log(N M) ~= log q(z_i) - log M.
    Marginals: the batch mean of q(z_ik|n_j) estimates the dataset mean, so
      log q_MWS(z_ik) ~= log q(z_ik) - log N + b_k,  b_k from `marginal_bias`.
    Hence TC_MWS - TC_exact ~= D log N - log M - sum_k b_k.  Asserted: the joint part to 0.01
    nats; the TC offset within 3 standard errors over R draws plus half the second-order term
    (the expansion's remainder is of higher order, and smaller than that).
    """
    rng = np.random.default_rng(3)
    D, N, M, sigma, R = 8, 500, 250, 0.2, 8
    mu_all, logvar_all = draw_dataset(rng, N, np.eye(D), sigma)
    offsets, joint, first_draw = [], [], None
    for _ in range(R):
        index, z, mu, logvar = draw_batch(rng, mu_all, logvar_all, M)
        first_draw = first_draw or (z, index)
        mixture = minirtc.exact_log_qz(z, mu_all, logvar_all, chunk_size=250)
        mws = minirtc.decompose(z, mu, logvar, N, method="mws", chunk_size=125)
        offsets.append(mws.tc - np.mean(mixture.log_qz - mixture.log_qz_marginals.sum(axis=1)))
        joint.append(np.mean(mws.log_qz - mixture.log_qz))
    offsets = np.array(offsets)
    # b_k is an expectation over batches: one draw's estimate of it suffices.
    bias, second_order = marginal_bias(*first_draw, mu_all, logvar_all, M)
    assert abs(np.mean(joint) + math.log(M)) < 0.01

    constant = D * math.log(N) - math.log(M)  # 44.2 nats here
    expected = constant - bias
    tolerance = 3.0 * offsets.std(ddof=1) / math.sqrt(R) + 0.5 * abs(second_order)
    assert abs(offsets.mean() - expected) < tolerance, (offsets.mean(), expected, tolerance)
    assert abs(offsets.mean() - constant) < 0.005 * constant  # "about D log N - log M"
    # The constant-free variant sits (D - 1) log(N M) lower: far BELOW the truth.
    assert offsets.mean() - (D - 1) * math.log(N * M) < -30.0


def test_kl_decomposes_into_mi_tc_dimkl_over_a_full_dataset() -> None:
    """E_n KL(q(z|n) || p(z)) = MI + TC + dimKL with the exact full-data q(z) (docs/theory.md).

    Per sample, MI + TC + dimKL telescopes to mean_i [log q(z_i|n_i) - log p(z_i)], a Monte
    Carlo estimate of the mean KL; it is compared within 4 standard errors of the
    per-sample differences v_i = log q(z_i|n_i) - log p(z_i) - KL(n_i) (E v_i = 0).
    """
    rng = np.random.default_rng(4)
    N, D, copies = 300, 3, 4  # 4 samples z per item
    mu_all = rng.multivariate_normal(np.zeros(D), equicorrelated(D, 0.7), size=N)
    logvar_all = rng.uniform(-2.0, 0.0, size=(N, D))
    mu, logvar = np.tile(mu_all, (copies, 1)), np.tile(logvar_all, (copies, 1))
    z = mu + np.exp(logvar / 2) * rng.normal(size=mu.shape)
    parts = minirtc.decompose_exact(z, mu, logvar, mu_all, logvar_all, chunk_size=100)
    kl = minirtc.kl_normal(mu, logvar)  # (copies N,)
    log_pz = minirtc.log_standard_normal(z).sum(axis=1)
    total = parts.mi + parts.tc + parts.dim_kl
    assert math.isclose(total, np.mean(parts.log_q_zx - log_pz), rel_tol=1e-12)
    v = parts.log_q_zx - log_pz - kl
    assert abs(total - kl.mean()) < 4.0 * v.std(ddof=1) / math.sqrt(len(v))
    assert parts.mi > 0 and parts.tc > 0 and parts.dim_kl > 0  # each term is a KL
