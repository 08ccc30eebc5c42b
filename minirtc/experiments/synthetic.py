"""Gaussian latent "datasets" with a known total correlation (paper sec. 5.3).

See docs/estimators.md#closed-form-gaussian-tc and docs/theory.md#theorem-1.

A synthetic encoder output for N items: means mu_n ~ N(0, S_mu) and a posterior
q(z|n) = N(mu_n, diag(sigma_n^2)).  When every sigma_n equals a constant s,

    z ~ N(0, S_mu + diag(s^2))            (docs/estimators.md#closed-form-gaussian-tc)

exactly, so the population TC is `gaussian_tc(S_mu + diag(s^2))`.  The finite
dataset defines another q(z): the N-component mixture (1/N) sum_n q(z|n), whose
TC is what the minibatch estimators estimate (docs/estimators.md); `minirtc.exact_log_qz`
scores it.  Everything here is NumPy float64 and takes its randomness as an rng.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minirtc


@dataclass(frozen=True)
class GaussianLatents:
    """The posteriors of N synthetic items: q(z|n) = N(mu[n], diag(exp(logvar[n])))."""

    mu: np.ndarray  # (N, D) posterior means
    logvar: np.ndarray  # (N, D) posterior log-variances
    cov_z: np.ndarray  # (D, D) covariance of the population z (closed form)

    @property
    def size(self) -> int:
        return int(self.mu.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])

    def population_tc(self) -> float:
        """TC of the population Gaussian N(0, cov_z) in nats (Proposition 1)."""
        return minirtc.gaussian_tc(self.cov_z)

    def batch(self, rng: np.random.Generator, batch_size: int) -> tuple[np.ndarray, ...]:
        """A minibatch of distinct items and one sample each: (z, mu, logvar), each (M, D)."""
        if not 1 <= batch_size <= self.size:
            raise ValueError(f"batch_size must be in [1, {self.size}] (the dataset size), got {batch_size}")
        index = rng.choice(self.size, size=batch_size, replace=False)  # (M,)
        return self.sample(rng, index)

    def sample(self, rng: np.random.Generator, index: np.ndarray) -> tuple[np.ndarray, ...]:
        """z_i ~ q(z | n_i) for the items `index` (M,): returns (z, mu, logvar), each (M, D)."""
        mu, logvar = self.mu[index], self.logvar[index]  # (M, D)
        z = mu + np.exp(0.5 * logvar) * rng.standard_normal(mu.shape)  # reparameterisation
        return z, mu, logvar

    def draw(self, rng: np.random.Generator, num_samples: int) -> np.ndarray:
        """num_samples draws of z from the N-point mixture q(z) (items with replacement)."""
        return self.sample(rng, rng.integers(0, self.size, size=num_samples))[0]


def equicorrelation(latent_dim: int, rho: float) -> np.ndarray:
    """S_rho (D, D): ones on the diagonal, rho everywhere else (positive definite for -1/(D-1) < rho < 1)."""
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    lower = -1.0 / (latent_dim - 1) if latent_dim > 1 else -np.inf
    if not lower < rho < 1.0:
        raise ValueError(f"rho must lie in ({lower:.3g}, 1) for latent_dim={latent_dim}, got {rho}")
    S = np.full((latent_dim, latent_dim), float(rho))
    np.fill_diagonal(S, 1.0)
    return S


def equicorrelation_tc(latent_dim: int, rho: float, noise_var: float = 0.0) -> float:
    """TC of N(0, S_rho + noise_var * I) from its eigenvalues, in nats (docs/theory.md#theorem-1).

    S_rho + c^2 I has eigenvalue 1 + c^2 + (D-1) rho once and 1 + c^2 - rho
    (D-1) times; every variance is 1 + c^2, so TC = 0.5 (D log(1+c^2) - log det).
    An independent check on `minirtc.gaussian_tc` for the Theorem 1 curves.
    """
    equicorrelation(latent_dim, rho)  # validates rho
    D, v = latent_dim, 1.0 + noise_var
    log_det = np.log(v + (D - 1) * rho) + (D - 1) * np.log(v - rho)
    return float(0.5 * (D * np.log(v) - log_det))


def theorem1_bound(latent_dim: int, c: float) -> float:
    """0.5 D log((1 + c^2) / c^2): TC(z) of z | mu ~ N(mu, c^2 I) stays below it for every rho.

    See docs/theory.md#theorem-1.
    """
    if c <= 0:
        raise ValueError(f"the posterior width c must be > 0, got {c}")
    return 0.5 * latent_dim * float(np.log((1.0 + c * c) / (c * c)))


def gaussian_latents(
    rng: np.random.Generator, num_items: int, cov_mu: np.ndarray, sigma: float | np.ndarray
) -> GaussianLatents:
    """N items with mu_n ~ N(0, cov_mu) and a constant posterior width sigma (scalar or (D,)).

    A zero in sigma is not allowed (log-variance -inf); the covariance of the
    means may be singular (a perfectly correlated pair, paper Fig. 2).
    """
    cov_mu = np.asarray(cov_mu, dtype=np.float64)
    D = cov_mu.shape[0]
    if cov_mu.shape != (D, D):
        raise ValueError(f"cov_mu must be a square matrix, got shape {cov_mu.shape}")
    if num_items < 2:
        raise ValueError(f"num_items must be >= 2, got {num_items}")
    sigma = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (D,))
    if np.any(sigma <= 0):
        raise ValueError(f"sigma must be > 0 in every dimension, got {sigma}")
    mu = draw_normal(rng, num_items, cov_mu)  # (N, D)
    logvar = np.broadcast_to(2.0 * np.log(sigma), (num_items, D)).copy()  # (N, D)
    return GaussianLatents(mu, logvar, cov_mu + np.diag(sigma**2))


def draw_normal(rng: np.random.Generator, n: int, cov: np.ndarray) -> np.ndarray:
    """n draws of N(0, cov) (n, D) via a symmetric square root, so a singular cov works too."""
    eigvals, eigvecs = np.linalg.eigh(cov)  # cov = V diag(w) V^T
    if eigvals.min() < -1e-10 * max(1.0, eigvals.max()):
        raise ValueError("cov_mu must be positive semi-definite")
    root = eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))  # (D, D): root @ root.T = cov
    return rng.standard_normal((n, cov.shape[0])) @ root.T
