"""Drawing factors from a ground-truth dataset, rendering them and encoding them.

The dataset-level metrics talk to a dataset only through the interface of
`minirtc.data.base.GroundTruthDataset` (factor_sizes, sample_factors,
sample_observations_from_factors) and to a model only through a representation
function `representation_fn(images uint8 (B, H, W, C)) -> codes (B, D)`.

Factors that take a single value (dSprites' colour) carry no information and
make entropies zero; the metrics use only the VARYING factors, as
disentanglement_lib does for dSprites.  Images are encoded `batch_size` at a
time; all random draws of factors happen before the batching, so for datasets
whose rendering is deterministic the numbers do not depend on `batch_size`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minirtc.metrics.checks import check_count, check_rng

RepresentationFn = Callable[[np.ndarray], Any]  # images (B, H, W, C) uint8 -> codes (B, D)
EncodeFn = Callable[[np.ndarray], Any]  # images (B, H, W, C) uint8 -> (mu (B, D), logvar (B, D))


POINTS_PER_DRAW = 64  # BetaVAE points / FactorVAE votes whose factors are drawn in one go (never batch_size)


class RepresentationError(ValueError):
    """The representation (or encode) function returned something that is not (B, D) finite codes."""


def varying_factors(dataset: Any) -> np.ndarray:
    """Indices of the dataset's factors that take more than one value; ValueError if none."""
    sizes = getattr(dataset, "factor_sizes", None)
    name = getattr(dataset, "name", type(dataset).__name__)
    if sizes is None or len(sizes) == 0:
        raise ValueError(
            f"dataset {name!r} has no ground-truth factors (factor_sizes is missing or empty); "
            f"the metrics need a GroundTruthDataset"
        )
    for method in ("sample_factors", "sample_observations_from_factors"):
        if not callable(getattr(dataset, method, None)):
            raise ValueError(f"dataset {name!r} has no {method}(); the metrics need a GroundTruthDataset")
    varying = np.flatnonzero(np.asarray(sizes) > 1)
    if varying.size == 0:
        raise ValueError(f"dataset {name!r} has no factor with more than one value (sizes {tuple(sizes)})")
    return varying


def encode_factors(
    dataset: Any,
    representation_fn: RepresentationFn,
    factors: np.ndarray,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> np.ndarray:
    """Codes (n, D) of the observations of ALL-factor vectors (n, K), rendered and encoded in batches."""
    batch_size = check_count(batch_size, "batch_size")
    parts = []
    for start in range(0, len(factors), batch_size):
        images = dataset.sample_observations_from_factors(factors[start : start + batch_size], rng)
        parts.append(_checked_codes(representation_fn(images), len(images), "representation_fn"))
        if parts[-1].shape[1] != parts[0].shape[1]:
            raise RepresentationError(
                f"representation_fn returned {parts[-1].shape[1]} code dimensions for one batch "
                f"and {parts[0].shape[1]} for another"
            )
    return np.concatenate(parts, axis=0)


def sample_codes(
    dataset: Any,
    representation_fn: RepresentationFn,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """num_points random observations: varying factor classes (n, K') and their codes (n, D)."""
    num_points = check_count(num_points, "num_points")
    varying = varying_factors(dataset)
    factors = dataset.sample_factors(num_points, check_rng(rng))  # (n, K)
    codes = encode_factors(dataset, representation_fn, factors, rng, batch_size)
    return np.asarray(factors)[:, varying].astype(np.int64), codes


def sample_split(
    dataset: Any,
    representation_fn: RepresentationFn,
    num_train: int,
    num_test: int,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Independent train and test draws: (train_factors, train_codes, test_factors, test_codes)."""
    train = sample_codes(dataset, representation_fn, num_train, rng, batch_size)
    test = sample_codes(dataset, representation_fn, num_test, rng, batch_size)
    return (*train, *test)


def posterior_as_codes(encode_fn: EncodeFn) -> RepresentationFn:
    """Wrap encode_fn (images -> (mu, logvar)) as a representation giving [mu, logvar] (B, 2D)."""

    def mu_logvar(images: np.ndarray) -> np.ndarray:
        out = encode_fn(images)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise RepresentationError(f"encode_fn must return a pair (mu, logvar), got {type(out).__name__}")
        mu = _checked_codes(out[0], len(images), "encode_fn's mu")
        logvar = _checked_codes(out[1], len(images), "encode_fn's logvar")
        if mu.shape != logvar.shape:
            raise RepresentationError(
                f"encode_fn returned mu {mu.shape} and logvar {logvar.shape}; they must match"
            )
        return np.concatenate([mu, logvar], axis=1)  # (B, 2D)

    return mu_logvar


def mean_representation(encode_fn: EncodeFn) -> RepresentationFn:
    """The representation the supervised metrics score: the posterior mean mu (B, D)."""
    as_codes = posterior_as_codes(encode_fn)

    def mean(images: np.ndarray) -> np.ndarray:
        codes = as_codes(images)  # (B, 2D)
        return codes[:, : codes.shape[1] // 2]

    return mean


def sample_posteriors(
    dataset: Any,
    encode_fn: EncodeFn,
    num_points: int,
    rng: np.random.Generator,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """mu and logvar (n, D) of num_points random observations."""
    _, codes = sample_codes(dataset, posterior_as_codes(encode_fn), num_points, rng, batch_size)
    D = codes.shape[1] // 2
    return codes[:, :D], codes[:, D:]


def _checked_codes(codes: Any, batch: int, source: str) -> np.ndarray:
    """A representation function's output as float64 (batch, D), or a RepresentationError."""
    c = _to_numpy(codes)
    if c.ndim != 2 or c.shape[0] != batch:
        raise RepresentationError(
            f"{source} returned shape {c.shape} for a batch of {batch} images; expected ({batch}, D)"
        )
    if not np.all(np.isfinite(c)):
        raise RepresentationError(f"{source} returned NaN or inf codes for a batch of {batch} images")
    return c


def _to_numpy(x: Any) -> np.ndarray:
    """Accept torch tensors without importing torch."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)
