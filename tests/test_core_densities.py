"""Densities, the closed-form KL and the Gaussian TC against independent references.

References: scipy.stats for log densities, a numerical KL integral on a fine 2-D grid for
`gaussian_tc`, Monte Carlo (within its error bar) for `kl_normal`, Python loops for the
Bernoulli likelihood.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import minirtc


def test_log_normal_equals_scipy(rng: np.random.Generator) -> None:
    x = rng.normal(size=(4, 1, 3))
    mu, logvar = rng.normal(size=(1, 5, 3)), rng.normal(size=(1, 5, 3))  # broadcasts to (4, 5, 3)
    expected = stats.norm.logpdf(x, loc=mu, scale=np.sqrt(np.exp(logvar)))
    np.testing.assert_allclose(minirtc.log_normal(x, mu, logvar), expected, rtol=1e-13)
    np.testing.assert_allclose(minirtc.log_standard_normal(x), stats.norm.logpdf(x), rtol=1e-13)


def test_gaussian_log_likelihood_equals_scipy(rng: np.random.Generator) -> None:
    x, mean = rng.normal(size=(3, 2, 5)), rng.normal(size=(3, 2, 5))
    expected = stats.norm.logpdf(x, loc=mean).reshape(3, -1).sum(axis=1)
    np.testing.assert_allclose(minirtc.gaussian_log_likelihood(x, mean), expected, rtol=1e-13)


def test_bernoulli_log_likelihood_equals_loop(rng: np.random.Generator) -> None:
    x = rng.uniform(size=(3, 2, 4))  # grey levels, as Locatello et al. allow
    x[0] = rng.integers(0, 2, size=(2, 4))  # and a binary example
    logits = 3.0 * rng.normal(size=(3, 2, 4))
    expected = []
    for n in range(3):
        total = 0.0
        for pixel, logit in zip(x[n].ravel(), logits[n].ravel()):
            p = 1.0 / (1.0 + math.exp(-logit))
            total += pixel * math.log(p) + (1.0 - pixel) * math.log(1.0 - p)
        expected.append(total)
    np.testing.assert_allclose(minirtc.bernoulli_log_likelihood(x, logits), expected, rtol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_bernoulli_log_likelihood_is_stable_for_huge_logits(backend: str) -> None:
    """log sigmoid(800) = 0 and log sigmoid(-800) = -800 to float precision; never -inf or NaN."""
    x = np.array([[1.0, 1.0, 0.0, 0.0]])
    logits = np.array([[800.0, -800.0, 800.0, -800.0]])
    expected = np.array([0.0 - 800.0 - 800.0 + 0.0])
    if backend == "torch":
        torch = pytest.importorskip("torch")
        x, logits = torch.tensor(x), torch.tensor(logits)
    value = minirtc.bernoulli_log_likelihood(x, logits)
    np.testing.assert_allclose(np.asarray(value), expected, rtol=1e-15)


def test_kl_normal_zero_at_the_prior() -> None:
    assert np.all(minirtc.kl_normal(np.zeros((2, 4)), np.zeros((2, 4))) == 0.0)


def test_kl_normal_equals_monte_carlo_within_its_error_bar(rng: np.random.Generator) -> None:
    mu = np.array([[0.0, 1.0, -2.0], [0.5, 0.5, 0.5], [3.0, -1.0, 0.0]])
    logvar = np.array([[0.0, -1.0, 1.0], [-3.0, 0.2, 0.0], [0.5, 0.5, -0.5]])
    sigma = np.exp(logvar / 2)
    closed_form = minirtc.kl_normal(mu, logvar)
    n = 200_000
    for m in range(3):
        z = mu[m] + sigma[m] * rng.normal(size=(n, 3))  # (n, D) draws from q(z|m)
        log_ratio = stats.norm.logpdf(z, mu[m], sigma[m]).sum(1) - stats.norm.logpdf(z).sum(1)
        standard_error = log_ratio.std(ddof=1) / math.sqrt(n)
        assert abs(log_ratio.mean() - closed_form[m]) < 4.0 * standard_error, m


def numerical_tc_2d(cov: np.ndarray, points: int = 1201, width: float = 10.0) -> float:
    """KL(p || p1 p2) = integral of p (log p - log p1 - log p2) on a fine grid (trapezoid rule)."""
    s1, s2 = np.sqrt(np.diag(cov))
    x1 = np.linspace(-width * s1, width * s1, points)
    x2 = np.linspace(-width * s2, width * s2, points)
    X1, X2 = np.meshgrid(x1, x2, indexing="ij")
    log_p = stats.multivariate_normal(mean=[0.0, 0.0], cov=cov).logpdf(np.stack([X1, X2], axis=-1))
    log_p1p2 = stats.norm.logpdf(X1, scale=s1) + stats.norm.logpdf(X2, scale=s2)
    integrand = np.exp(log_p) * (log_p - log_p1p2)
    return float(np.trapezoid(np.trapezoid(integrand, x2, axis=1), x1))


@pytest.mark.parametrize(
    "cov",
    [
        [[1.0, 0.0], [0.0, 4.0]],
        [[1.0, 0.3], [0.3, 1.0]],
        [[2.0, -1.2], [-1.2, 1.0]],
        [[0.25, 0.9 * 0.5 * 3.0], [0.9 * 0.5 * 3.0, 9.0]],  # rho = 0.9, very different scales
    ],
)
def test_gaussian_tc_equals_numerical_kl_integral(cov) -> None:
    cov = np.array(cov)
    assert minirtc.gaussian_tc(cov) == pytest.approx(numerical_tc_2d(cov), abs=1e-8)


def test_gaussian_tc_known_answers() -> None:
    assert minirtc.gaussian_tc(np.diag([0.1, 2.0, 30.0])) == pytest.approx(0.0, abs=1e-14)
    rho = 0.6  # 2-D closed form -0.5 log(1 - rho^2), invariant to rescaling each axis
    scale = np.diag([0.01, 100.0])
    cov = scale @ np.array([[1.0, rho], [rho, 1.0]]) @ scale
    assert minirtc.gaussian_tc(cov) == pytest.approx(-0.5 * math.log(1 - rho**2), rel=1e-12)
    # Independent blocks: TC adds up.
    block = np.zeros((4, 4))
    block[:2, :2] = [[1.0, 0.8], [0.8, 1.0]]
    block[2:, 2:] = [[2.0, -0.5], [-0.5, 1.0]]
    expected = -0.5 * math.log(1 - 0.8**2) - 0.5 * math.log(1 - 0.5**2 / 2.0)
    assert minirtc.gaussian_tc(block) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "cov",
    [
        [[1.0, 1.0], [1.0, 1.0]],  # rank 1
        [[0.0, 0.0], [0.0, 1.0]],  # a zero-variance dimension
        [[0.0, 0.0], [0.0, 0.0]],
        [[1.0, 2.0], [2.0, 1.0]],  # not positive definite
    ],
)
def test_gaussian_tc_singular_is_inf(cov) -> None:
    value = minirtc.gaussian_tc(np.array(cov))
    assert value == math.inf


@pytest.mark.parametrize("dims", [2, 3, 6])
def test_gaussian_tc_of_samples_duplicated_or_constant_column_is_inf(
    rng: np.random.Generator, dims: int
) -> None:
    x = rng.normal(size=(500, dims))
    duplicated = x.copy()
    duplicated[:, -1] = duplicated[:, 0]
    constant = x.copy()
    constant[:, 1] = 3.0
    assert minirtc.gaussian_tc_of_samples(duplicated) == math.inf
    assert minirtc.gaussian_tc_of_samples(constant) == math.inf


def test_gaussian_tc_rejects_nan() -> None:
    with pytest.raises(ValueError, match="cov.*NaN"):
        minirtc.gaussian_tc(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    samples = np.ones((10, 2))
    samples[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        minirtc.gaussian_tc_of_samples(samples)
    with pytest.raises(ValueError, match="cov must be a square matrix"):
        minirtc.gaussian_tc(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        minirtc.gaussian_tc_of_samples(np.ones((1, 3)))


def test_gaussian_tc_of_samples_approaches_closed_form(rng: np.random.Generator) -> None:
    """Two independent correlated pairs (rho = 0.8 and -0.5): TC = sum of the pairs' TCs.

    By the delta method a pair's sample TC has standard deviation |rho| / sqrt(n) (since
    Var r ~ (1 - rho^2)^2 / n and dTC/drho = rho / (1 - rho^2)); the 4 null pairs add a bias
    of about 1/(2n) each.  We allow 5 standard deviations.
    """
    n = 200_000
    cov = np.zeros((4, 4))
    cov[:2, :2] = [[1.0, 0.8], [0.8, 1.0]]
    cov[2:, 2:] = [[4.0, -0.5 * 2.0 * 0.5], [-0.5 * 2.0 * 0.5, 0.25]]
    x = rng.multivariate_normal(np.zeros(4), cov, size=n)
    truth = -0.5 * math.log(1 - 0.8**2) - 0.5 * math.log(1 - 0.5**2)
    assert minirtc.gaussian_tc(cov) == pytest.approx(truth, rel=1e-12)
    tolerance = 5.0 * math.sqrt(0.8**2 + 0.5**2) / math.sqrt(n) + 4 / (2 * n)
    assert abs(minirtc.gaussian_tc_of_samples(x) - truth) < tolerance
