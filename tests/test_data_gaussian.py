"""The `gaussian` toy: closed-form images of known factors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit
from scipy.stats import norm

from minirtc import data
from minirtc.data.gaussian_toy import GaussianToy


def test_shape_range_and_registry():
    ds = data.load("gaussian")
    assert isinstance(ds, GaussianToy)
    assert len(ds) == 8**4 and ds.image_shape == (1, 1, 8) and ds.pixel_max == 255
    x = ds.images(np.arange(len(ds)))
    assert x.dtype == np.uint8 and x.shape == (4096, 1, 1, 8)
    unit = data.to_unit_float(x, ds.pixel_max)
    assert 0.0 <= unit.min() and unit.max() <= 1.0 and unit.std() > 0.1


def test_factor_values_are_normal_quantiles():
    ds = GaussianToy(factor_sizes=(4,))
    np.testing.assert_allclose(ds.factor_values[0], norm.ppf([0.125, 0.375, 0.625, 0.875]))


def test_images_are_the_closed_form_mixing():
    ds = GaussianToy(factor_sizes=(3, 5), channels=4, gain=2.0, mixing_seed=7)
    np.testing.assert_allclose(ds.mixing.T @ ds.mixing, np.eye(2), atol=1e-12)  # orthonormal columns
    classes = ds.index_to_factors(np.arange(15))
    f = np.stack([ds.factor_values[0][classes[:, 0]], ds.factor_values[1][classes[:, 1]]], axis=1)
    expected = np.rint(255 * expit(2.0 * f @ ds.mixing.T))
    np.testing.assert_array_equal(ds.images(np.arange(15)).reshape(15, 4), expected)


def test_a_linear_decoder_recovers_the_factors():
    """logit(x) = gain A f up to 8-bit rounding, so A^T logit(x) / gain gives back f."""
    ds = GaussianToy()
    x = data.to_unit_float(ds.images(np.arange(len(ds))), 255).reshape(len(ds), -1).astype(np.float64)
    f_hat = logit(np.clip(x, 1e-3, 1 - 1e-3)) @ ds.mixing / ds.gain  # (N, K)
    classes = ds.index_to_factors(np.arange(len(ds)))
    f = np.stack([v[classes[:, k]] for k, v in enumerate(ds.factor_values)], axis=1)
    assert np.corrcoef(f_hat[:, 0], f[:, 0])[0, 1] > 0.97
    assert np.median(np.abs(f_hat - f)) < 0.1


def test_mixing_seed_fixes_the_mixing():
    np.testing.assert_array_equal(GaussianToy().mixing, GaussianToy().mixing)
    assert not np.allclose(GaussianToy(mixing_seed=1).mixing, GaussianToy().mixing)


@pytest.mark.parametrize(
    "kwargs, message", [({"channels": 2}, "channels"), ({"factor_sizes": (0, 3)}, "positive")]
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianToy(**kwargs)
