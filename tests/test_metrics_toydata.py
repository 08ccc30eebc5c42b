"""A tiny ground-truth dataset and representations with known answers, for the metric tests.

`FactorImages` renders each factor vector as a 1 x 1 x K uint8 "image" holding the
factor classes, so a representation can read the factors back exactly.  The
representations below are the known-answer cases: identity codes,
the same codes rotated, pure noise, duplicated codes and a collapsed code.
"""

from __future__ import annotations

import numpy as np
import pytest

from minirtc.data.base import GroundTruthDataset

SIZES = (1, 2, 3, 4)  # factor 0 is constant, like dSprites' colour
VARYING = np.array([1, 2, 3])


class FactorImages(GroundTruthDataset):
    """Images (B, 1, 1, K) uint8 whose pixels are the factor classes themselves."""

    name = "factor-images"
    pixel_max = 255

    def __init__(self, factor_sizes: tuple[int, ...] = SIZES):
        self.factor_sizes = tuple(factor_sizes)
        self.factor_names = tuple(f"f{k}" for k in range(len(factor_sizes)))
        self.image_shape = (1, 1, len(factor_sizes))

    def images(self, index: np.ndarray) -> np.ndarray:
        return self.index_to_factors(index).astype(np.uint8)[:, None, None, :]


def factors_of(images: np.ndarray) -> np.ndarray:
    """The varying factors (B, 3) as floats, read back from FactorImages."""
    return images.reshape(len(images), -1)[:, VARYING].astype(np.float64)


def identity(images: np.ndarray) -> np.ndarray:
    """Codes equal to the varying factors, each scaled to unit range."""
    return factors_of(images) / (np.array(SIZES)[VARYING] - 1)


# Householder reflection I - 2 v v^T / |v|^2 with v = (1, 1, 1): orthogonal, and every
# code mixes all three factors (diagonal 1/3, off-diagonal -2/3).
ROTATION = np.eye(3) - 2.0 / 3.0 * np.ones((3, 3))


def rotated(images: np.ndarray) -> np.ndarray:
    return identity(images) @ ROTATION


def duplicated(images: np.ndarray) -> np.ndarray:
    codes = identity(images)
    return np.concatenate([codes, codes], axis=1)


def collapsed(images: np.ndarray) -> np.ndarray:
    """Identity codes plus one code that never moves."""
    codes = identity(images)
    return np.concatenate([codes, np.full((len(codes), 1), 0.3)], axis=1)


def make_noise(seed: int = 11):
    """A representation that ignores its input: independent N(0, 1) codes."""
    rng = np.random.default_rng(seed)
    return lambda images: rng.standard_normal((len(images), 3))


def encode_identity(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An encode_fn: mu = identity codes, logvar = log 0.01."""
    mu = identity(images)
    return mu, np.full_like(mu, np.log(0.01))


@pytest.fixture
def dataset() -> FactorImages:
    return FactorImages()


def test_factor_images_round_trip(dataset):
    rng = np.random.default_rng(0)
    factors = dataset.sample_factors(50, rng)
    images = dataset.sample_observations_from_factors(factors, rng)
    assert images.shape == (50, 1, 1, 4) and images.dtype == np.uint8
    np.testing.assert_array_equal(images.reshape(50, 4), factors)
    np.testing.assert_allclose(identity(images) * (np.array(SIZES)[VARYING] - 1), factors[:, VARYING])


def test_rotation_is_orthogonal():
    np.testing.assert_allclose(ROTATION @ ROTATION.T, np.eye(3), atol=1e-12)
