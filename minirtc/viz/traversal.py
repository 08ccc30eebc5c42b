"""Latent traversals: which values each latent is swept over, and the decoded frames.

A traversal decodes a reference encoding mu with one latent z_d replaced by each
of K values, so a latent that controls a factor moves that factor across the K
frames.  The values are either the prior's +-2.5 sigma (the prior is N(0, I),
docs/theory.md#notation) or the data's quantiles of that latent's posterior
mean.  Arrays in, arrays out: `decode` is any function z (B, D) -> images
(B, H, W, C) in [0, 1], e.g. a trained run's decoder.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RANGES = ("prior", "quantiles")
PRIOR_SIGMAS = 2.5  # the prior's +-2.5 sigma
QUANTILE_SPAN = (0.025, 0.975)  # the data's central 95% of each latent
ACTIVE_VARIANCE = 0.01  # a latent is active when Var[mu_d] over the data exceeds this (active units)

Decoder = Callable[[np.ndarray], np.ndarray]


def traversal_values(mu: np.ndarray, num_frames: int, value_range: str = "prior") -> np.ndarray:
    """The K values each latent is swept over, (D, K), ascending.

    mu: (N, D) posterior means of data items (used by "quantiles" only).
    "prior": -2.5 .. +2.5 for every latent; "quantiles": the 2.5% .. 97.5% quantiles of mu_d.
    """
    if value_range not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}, got {value_range!r}")
    if num_frames < 2:
        raise ValueError(f"a traversal needs at least 2 frames, got {num_frames}")
    N, D = mu.shape  # items, latents
    if value_range == "prior":
        return np.tile(np.linspace(-PRIOR_SIGMAS, PRIOR_SIGMAS, num_frames), (D, 1))  # (D, K)
    levels = np.linspace(*QUANTILE_SPAN, num_frames)  # (K,)
    return np.quantile(mu, levels, axis=0).T  # (D, K)


def traversal_latents(base: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Codes z (D, R, K, D): z[d, r, k] is base[r] with latent d set to values[d, k].

    base: (R, D) encodings of R reference items; values: (D, K).
    """
    R, D = base.shape
    K = values.shape[1]
    z = np.broadcast_to(base[None, :, None, :], (D, R, K, D)).copy()  # (D, R, K, D)
    d = np.arange(D)
    z[d, :, :, d] = values[:, None, :]  # latent d of block d takes the swept values
    return z


def traverse(decode: Decoder, base: np.ndarray, values: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Decoded traversal frames (D, R, K, H, W, C) in [0, 1] of every latent from every reference."""
    z = traversal_latents(base, values)  # (D, R, K, D)
    flat = z.reshape(-1, z.shape[-1])  # (D R K, D)
    images = np.concatenate(
        [
            np.asarray(decode(flat[i : i + batch_size]), dtype=np.float64)
            for i in range(0, len(flat), batch_size)
        ]
    )  # (D R K, H, W, C)
    return images.reshape(*z.shape[:3], *images.shape[1:])


def kl_per_latent(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """Mean over items of KL(q(z_d | x) || N(0, 1)) per latent, (D,) nats (docs/theory.md#objectives).

    KL = 0.5 (mu^2 + exp(logvar) - logvar - 1) for each item and latent; mu, logvar (N, D).
    """
    return np.mean(0.5 * (mu**2 + np.exp(logvar) - logvar - 1.0), axis=0)


def active_latents(mu: np.ndarray) -> np.ndarray:
    """Boolean (D,): Var[mu_d] over the items above 0.01, the training history's active-units rule."""
    return np.var(mu, axis=0) > ACTIVE_VARIANCE


def kl_order(kl: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Latent indices, active ones first, each group by decreasing KL (ties by index)."""
    return np.lexsort((np.arange(len(kl)), -kl, ~active))
