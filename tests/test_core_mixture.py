"""`ops.log_mixture`, the sliced mixture log densities behind every minibatch estimator.

Slicing must not change a number: one row per slice and one slice for everything give the
same values and gradients (NumPy through autograd, and torch), and both equal the mixture
written out with an explicit (M, C, D) tensor.  The BLAS thread choice of NumPy-backend
training is checked here too.
"""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.scipy.special import logsumexp
from threadpoolctl import threadpool_info

from minirtc.backends import numpy_ops
from minirtc.ops import ops_by_name
from minirtc.training import threads

M, C, D = 7, 5, 3


def inputs(seed: int = 0):
    r = np.random.default_rng(seed)
    z, mu = r.normal(size=(M, D)), r.normal(size=(C, D))
    logvar = r.uniform(-3.0, 1.0, size=(C, D))
    log_weights = np.log(r.uniform(0.1, 1.0, size=(M, C)))
    log_weights[0, 1] = -np.inf  # a zero weight, as MSS has when N = M - 1
    return z, mu, logvar, log_weights


def explicit(z, mu, logvar, log_weights):
    """The mixture with L (M, C, D) built whole, every term kept (autograd can differentiate it)."""
    L = -0.5 * (anp.log(2 * anp.pi) + logvar[None] + (z[:, None, :] - mu[None]) ** 2 * anp.exp(-logvar[None]))
    return (
        logsumexp(log_weights + anp.sum(L, axis=2), axis=1),
        logsumexp(log_weights[:, :, None] + L, axis=1),
    )


def weighted_total(log_qz, marginals):
    """A scalar of both outputs with distinct weights, so one gradient checks every cotangent."""
    rows, latents = marginals.shape
    weights_qz = np.arange(1, rows + 1)
    weights_marginals = np.cos(np.arange(rows * latents)).reshape(rows, latents)
    if hasattr(log_qz, "new_tensor"):  # torch
        weights_qz, weights_marginals = log_qz.new_tensor(weights_qz), log_qz.new_tensor(weights_marginals)
    return (weights_qz * log_qz).sum() + (weights_marginals * marginals).sum()


def numpy_values_and_grads(z, mu, logvar, log_weights, mixture=None):
    """`mixture` (default: the NumPy backend's) and its gradient through autograd."""
    mixture = mixture or ops_by_name("numpy").log_mixture

    def total(z, mu, logvar):
        return weighted_total(*mixture(z, mu, logvar, log_weights))

    return mixture(z, mu, logvar, log_weights), autograd.grad(total, (0, 1, 2))(z, mu, logvar)


def torch_values_and_grads(z, mu, logvar, log_weights):
    """The torch backend's mixture and gradient, in float64."""
    torch = pytest.importorskip("torch")
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (z, mu, logvar)]
    values = ops_by_name("torch").log_mixture(*tensors, log_weights)
    grads = torch.autograd.grad(weighted_total(*values), tensors)
    return [v.detach().numpy() for v in values], [g.numpy() for g in grads]


@pytest.mark.parametrize("slice_elements", [1, 2 * C * D, 10**9])
def test_numpy_slices_change_nothing(monkeypatch, slice_elements: int) -> None:
    z, mu, logvar, log_weights = inputs()
    reference_values, reference_grads = numpy_values_and_grads(z, mu, logvar, log_weights)
    monkeypatch.setattr(numpy_ops, "SLICE_ELEMENTS", slice_elements)
    values, grads = numpy_values_and_grads(z, mu, logvar, log_weights)
    for a, b in zip((*values, *grads), (*reference_values, *reference_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for a, b in zip(values, explicit(z, mu, logvar, log_weights)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("slice_elements", [1, 2 * C * D, 10**9])
def test_torch_slices_equal_numpy(monkeypatch, slice_elements: int) -> None:
    pytest.importorskip("torch")
    from minirtc.backends import torch_ops

    z, mu, logvar, log_weights = inputs(1)
    (log_qz, marginals), grads = numpy_values_and_grads(z, mu, logvar, log_weights)
    monkeypatch.setattr(torch_ops, "SLICE_ELEMENTS", slice_elements)
    (t_qz, t_marginals), t_grads = torch_values_and_grads(z, mu, logvar, log_weights)
    np.testing.assert_allclose(t_qz, log_qz, rtol=1e-12)
    np.testing.assert_allclose(t_marginals, marginals, rtol=1e-12)
    for a, b in zip(t_grads, grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def sharp_inputs(seed: int = 2, M: int = 12, D: int = 3):
    """Posteriors far narrower than the spread of their means: most terms lie hundreds of nats below
    the largest, where the mixture floors them (LOGSUMEXP_FLOOR)."""
    r = np.random.default_rng(seed)
    mu = r.normal(scale=3.0, size=(M, D))
    logvar = r.uniform(-12.0, -6.0, size=(M, D))
    z = mu + np.exp(0.5 * logvar) * r.normal(size=(M, D))  # z_i drawn from component i, as in training
    log_weights = np.log(r.uniform(0.1, 1.0, size=(M, M)))
    return z, mu, logvar, log_weights


def test_the_floor_on_far_terms_changes_no_value_or_gradient() -> None:
    """Terms more than 60 nats below a logsumexp's largest are floored (for speed): in float64 the values
    and gradients of both backends still equal the explicit mixture's, which keeps every term."""
    z, mu, logvar, log_weights = sharp_inputs()
    L = -0.5 * (np.log(2 * np.pi) + logvar[None] + (z[:, None, :] - mu[None]) ** 2 * np.exp(-logvar[None]))
    terms = log_weights[:, :, None] + L  # (M, M, D)
    assert np.mean(terms < terms.max(axis=1, keepdims=True) - 60.0) > 0.5  # the floor binds for most terms
    reference_values, reference_grads = numpy_values_and_grads(z, mu, logvar, log_weights, mixture=explicit)
    for values, grads in (
        numpy_values_and_grads(z, mu, logvar, log_weights),
        torch_values_and_grads(z, mu, logvar, log_weights),
    ):
        for a, b in zip(values, reference_values):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        for a, b in zip(grads, reference_grads):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9 * np.max(np.abs(b)))


def blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_numpy_training_uses_one_blas_thread_unless_the_user_sets_a_count(monkeypatch) -> None:
    for name in threads.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    before = blas_threads()
    with threads.training_threads("numpy"):
        assert all(n == threads.CLASSROOM_BLAS_THREADS for n in blas_threads())
    assert blas_threads() == before
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with threads.training_threads("numpy"):
        assert blas_threads() == before
    monkeypatch.delenv("OMP_NUM_THREADS")
    with threads.training_threads("torch"):
        assert blas_threads() == before
