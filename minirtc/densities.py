"""Log densities and the closed-form KL of the VAE's Gaussian and Bernoulli terms.

docs/theory.md#notation: q(z|n) = N(mu(n), diag(exp(logvar(n)))), p(z) = N(0, I), and a
Bernoulli decoder p(x|z) with logits.  Conventions that change numbers: the
likelihood and the KL are SUMMED over pixels and latents (per example); the
batch mean is taken by the objectives, never here.
"""

from __future__ import annotations

import math

from minirtc.ops import Array, check_same_shape, ops_for

LOG_2PI = math.log(2.0 * math.pi)

# A logsumexp's terms more than this many nats below its largest are raised to it before
# exp: each then counts e^-60 (about 1e-26) of the largest, below the rounding of even
# float64 sums of millions of terms, and exp stays out of the underflow range, where CPU
# exp kernels take a slow path (docs/estimators.md#cost).
LOGSUMEXP_FLOOR = -60.0


def log_normal(x: Array, mu: Array, logvar: Array) -> Array:
    """Elementwise log N(x; mu, exp(logvar)); broadcasts, sums over nothing."""
    ops = ops_for(mu)
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 * ops.exp(-logvar))


def log_standard_normal(x: Array) -> Array:
    """Elementwise log N(x; 0, 1): the prior p(z_k)."""
    return -0.5 * (LOG_2PI + x**2)


def kl_normal(mu: Array, logvar: Array) -> Array:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per example, summed over latents.

    Closed form: 0.5 * sum_k (mu_k^2 + sigma_k^2 - 1 - log sigma_k^2).
    mu, logvar: (M, D) -> (M,)
    """
    check_same_shape(logvar, mu, "logvar", "mu")
    ops = ops_for(mu)
    return 0.5 * ops.sum(mu**2 + ops.exp(logvar) - 1.0 - logvar, axis=1)


def bernoulli_log_likelihood(x: Array, logits: Array) -> Array:
    """log p(x|z) for a Bernoulli decoder, summed over every non-batch axis.

    x in [0, 1] (binary or grey levels, as in Locatello et al.), logits of the same
    shape (M, ...) -> (M,).  x log s(l) + (1 - x) log s(-l) = x l - softplus(l),
    since log s(l) = l - softplus(l): one softplus, stable for any l.
    """
    ops = ops_for(logits)
    check_same_shape(x, logits, "x", "logits")
    M = logits.shape[0]
    per_pixel = x * logits - ops.softplus(logits)
    return ops.sum(per_pixel.reshape(M, -1), axis=1)


def gaussian_log_likelihood(x: Array, mean: Array) -> Array:
    """log N(x; mean, I) summed over every non-batch axis: (M, ...) -> (M,)."""
    ops = ops_for(mean)
    check_same_shape(x, mean, "x", "mean")
    M = mean.shape[0]
    per_pixel = -0.5 * (LOG_2PI + (x - mean) ** 2)
    return ops.sum(per_pixel.reshape(M, -1), axis=1)
