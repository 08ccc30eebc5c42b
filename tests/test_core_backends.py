"""Every public core function: NumPy == autograd-traced NumPy == torch, values AND gradients.

The template is micrograd's one test (the same expression in two frameworks, float64, values
and gradients compared) with wesselb/lab's harness idea: one NumPy input is expanded into
every backend's form (plain NumPy, an autograd-traced ArrayBox, a torch tensor) and each
output is compared with the first.  A function's outputs (arrays, NamedTuples, dicts) are
flattened into leaves; gradients are those of sum_leaf sum(w_leaf * leaf) with fixed random
weights w, so every output element contributes to the gradient that is compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from autograd.test_util import check_grads

import minirtc

torch = pytest.importorskip("torch")

TOL = 1e-10  # float64 agreement required by the issue
M, D, N = 7, 3, 50  # batch, latents, dataset size
N_DATA = 11  # rows of the "whole dataset" given to exact_log_qz


@dataclass(frozen=True)
class Case:
    """One core call: `fn(**inputs)`, differentiated w.r.t. the inputs named in `wrt`."""

    name: str
    fn: Callable[..., Any]
    inputs: dict[str, np.ndarray]
    wrt: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)  # non-array arguments

    def call(self, arrays: dict[str, Any]) -> Any:
        return self.fn(**arrays, **self.kwargs)


def leaves(out: Any) -> list[Any]:
    """The arrays inside an output: itself, a NamedTuple/tuple's fields or a dict's values (by key)."""
    if isinstance(out, dict):
        return [leaf for key in sorted(out) for leaf in leaves(out[key])]
    if isinstance(out, (tuple, list)):
        return [leaf for item in out for leaf in leaves(item)]
    return [out]


def _inputs(seed: int = 0) -> dict[str, np.ndarray]:
    """Random float64 inputs, shaped like one minibatch of a VAE."""
    r = np.random.default_rng(seed)
    mu = r.normal(size=(M, D))
    logvar = 0.5 * r.normal(size=(M, D))
    return {
        "mu": mu,
        "logvar": logvar,
        "z": mu + np.exp(logvar / 2) * r.normal(size=(M, D)),
        "x": r.uniform(size=(M, 2, 4)),
        "logits": 2.0 * r.normal(size=(M, 2, 4)),
        "dataset_mu": r.normal(size=(N_DATA, D)),
        "dataset_logvar": 0.5 * r.normal(size=(N_DATA, D)),
        "disc_logits": r.normal(size=(M, 2)),
        "disc_logits_permuted": r.normal(size=(M, 2)),
    }


def _case(name: str, fn: Callable, names: tuple[str, ...], wrt: tuple[str, ...], **kwargs) -> Case:
    arrays = _inputs()
    return Case(name, fn, {n: arrays[n] for n in names}, wrt, kwargs)


def _rename(fn: Callable, **renames: str) -> Callable:
    """Call `fn` with some harness input names mapped onto its parameter names."""

    def call(**arrays):
        return fn(**{renames.get(k, k): v for k, v in arrays.items()})

    return call


LATENTS = ("z", "mu", "logvar")


def _all_cases() -> list[Case]:
    cases = [
        _case("log_normal", _rename(minirtc.log_normal, z="x"), LATENTS, LATENTS),
        _case("log_standard_normal", _rename(minirtc.log_standard_normal, z="x"), ("z",), ("z",)),
        _case("kl_normal", minirtc.kl_normal, ("mu", "logvar"), ("mu", "logvar")),
        _case("bernoulli_log_likelihood", minirtc.bernoulli_log_likelihood, ("x", "logits"), ("logits",)),
        _case(
            "gaussian_log_likelihood",
            _rename(minirtc.gaussian_log_likelihood, logits="mean"),
            ("x", "logits"),
            ("logits",),
        ),
        _case("variance_penalty", minirtc.variance_penalty, ("logvar",), ("logvar",)),
        _case("batch_covariance", _rename(minirtc.batch_covariance, mu="x"), ("mu",), ("mu",)),
        _case(
            "discriminator_tc",
            _rename(minirtc.discriminator_tc, disc_logits="logits"),
            ("disc_logits",),
            ("disc_logits",),
        ),
        _case(
            "discriminator_loss",
            _rename(
                minirtc.discriminator_loss, disc_logits="logits_real", disc_logits_permuted="logits_permuted"
            ),
            ("disc_logits", "disc_logits_permuted"),
            ("disc_logits", "disc_logits_permuted"),
        ),
    ]
    for kind in ("i", "ii"):
        wrt = ("mu",) if kind == "i" else ("mu", "logvar")  # DIP-VAE-I ignores logvar
        cases.append(_case(f"dip_penalty-{kind}", minirtc.dip_penalty, ("mu", "logvar"), wrt, kind=kind))
        cases.append(
            _case(
                f"dip_penalty-{kind}-lambdas",
                minirtc.dip_penalty,
                ("mu", "logvar"),
                wrt,
                kind=kind,
                lambda_od=0.7,
                lambda_d=3.0,
            )
        )
    for method in minirtc.METHODS:
        for chunk_size in (None, 3):
            cases.append(
                _case(
                    f"decompose-{method}-chunk{chunk_size}",
                    minirtc.decompose,
                    LATENTS,
                    LATENTS,
                    dataset_size=N,
                    method=method,
                    chunk_size=chunk_size,
                )
            )
    for chunk_size in (None, 4):
        cases.append(
            _case(
                f"exact_log_qz-chunk{chunk_size}",
                minirtc.exact_log_qz,
                ("z", "dataset_mu", "dataset_logvar"),
                ("z", "dataset_mu", "dataset_logvar"),
                chunk_size=chunk_size,
            )
        )
        cases.append(
            _case(
                f"decompose_exact-chunk{chunk_size}",
                minirtc.decompose_exact,
                LATENTS + ("dataset_mu", "dataset_logvar"),
                LATENTS + ("dataset_mu", "dataset_logvar"),
                chunk_size=chunk_size,
            )
        )
    return cases


def _objective(config: minirtc.ObjectiveConfig) -> Callable:
    def call(x, logits, mu, logvar, z, disc_logits):
        return minirtc.objective(config, x, logits, mu, logvar, z, N, disc_logits=disc_logits)

    return call


def _objective_cases() -> list[Case]:
    configs = []
    for model in minirtc.MODELS:
        for estimator in minirtc.TC_ESTIMATORS:
            if model == "beta-tcvae" and estimator == "discriminator":
                continue
            if model == "factor-vae" and estimator != "discriminator":
                continue
            configs.append(minirtc.ObjectiveConfig(model=model, tc_estimator=estimator))
    configs.append(minirtc.ObjectiveConfig(model="beta-tcvae", tc_estimator="mss0", chunk_size=3))
    configs.append(minirtc.ObjectiveConfig(model="rtc-vae", likelihood="gaussian", beta=2.0, eta=0.5))
    names = ("x", "logits", "mu", "logvar", "z", "disc_logits")
    return [
        _case(
            f"objective-{c.model}-{c.tc_estimator}-{c.likelihood}-chunk{c.chunk_size}",
            _objective(c),
            names,
            ("logits", "mu", "logvar", "z", "disc_logits"),
        )
        for c in configs
    ]


CASES = _all_cases() + _objective_cases()
CASE_IDS = [c.name for c in CASES]


def _weights(values: list[np.ndarray]) -> list[np.ndarray]:
    r = np.random.default_rng(1)
    return [r.normal(size=np.shape(v)) for v in values]


def run_numpy(case: Case) -> list[np.ndarray]:
    return leaves(case.call(dict(case.inputs)))


def run_autograd(case: Case, weights: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Forward values seen inside an autograd trace, and autograd's gradients."""
    seen: list[np.ndarray] = []

    def total(diff):
        outs = leaves(case.call({**case.inputs, **dict(zip(case.wrt, diff))}))
        seen[:] = [np.array(getattr(o, "_value", o)) for o in outs]
        return sum(anp.sum(o * w) for o, w in zip(outs, weights))

    grads = autograd.grad(total)([case.inputs[n] for n in case.wrt])
    return seen, [np.asarray(g) for g in grads]


def run_torch(case: Case, weights: list[np.ndarray], dtype=None):
    """Outputs (tensors) and torch.autograd gradients on tensors built from the same inputs."""
    dtype = dtype or torch.float64
    tensors = {k: torch.tensor(v, dtype=dtype, requires_grad=k in case.wrt) for k, v in case.inputs.items()}
    outs = leaves(case.call(tensors))
    total = sum((o * torch.as_tensor(w, dtype=o.dtype)).sum() for o, w in zip(outs, weights))
    grads = torch.autograd.grad(total, [tensors[n] for n in case.wrt], allow_unused=True)
    grads = [torch.zeros_like(tensors[n]) if g is None else g for n, g in zip(case.wrt, grads)]
    return outs, grads


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_numpy_autograd_torch_agree_on_values_and_gradients(case: Case) -> None:
    numpy_values = run_numpy(case)
    for value in numpy_values:  # numpy in -> numpy out, float64
        assert isinstance(value, (np.ndarray, np.generic)), type(value)
        assert np.asarray(value).dtype == np.float64
        assert np.all(np.isfinite(value))
    weights = _weights(numpy_values)

    traced_values, autograd_grads = run_autograd(case, weights)
    torch_values, torch_grads = run_torch(case, weights)
    assert len(traced_values) == len(torch_values) == len(numpy_values)
    for reference, traced, tensor in zip(numpy_values, traced_values, torch_values):
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64  # torch in -> torch out
        np.testing.assert_allclose(traced, reference, rtol=TOL, atol=TOL)
        np.testing.assert_allclose(tensor.detach().numpy(), reference, rtol=TOL, atol=TOL)
    for name, g_autograd, g_torch in zip(case.wrt, autograd_grads, torch_grads):
        np.testing.assert_allclose(g_torch.numpy(), g_autograd, rtol=TOL, atol=TOL, err_msg=f"d/d{name}")
    # The gradient is not trivially zero: every differentiated input reaches some output
    # (except disc_logits, which only the discriminator estimator reads).
    for name, g in zip(case.wrt, autograd_grads):
        if name != "disc_logits":
            assert np.any(g != 0.0), f"gradient w.r.t. {name} is identically zero"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_torch_keeps_float32(case: Case) -> None:
    reference = run_numpy(case)
    outs, grads = run_torch(case, _weights(reference), dtype=torch.float32)
    for out, ref in zip(outs, reference):
        assert out.dtype == torch.float32
        scale = 1.0 + np.max(np.abs(ref))
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-4 * scale)
    assert all(g.dtype == torch.float32 for g in grads)


def test_discriminator_accuracy_agrees_and_keeps_dtype() -> None:
    arrays = _inputs()
    real, permuted = arrays["disc_logits"], arrays["disc_logits_permuted"]
    expected = 0.5 * (np.mean(real[:, 0] > real[:, 1]) + np.mean(permuted[:, 1] > permuted[:, 0]))
    value = minirtc.discriminator_accuracy(real, permuted)
    assert isinstance(value, (np.ndarray, np.generic)) and value == pytest.approx(expected, abs=1e-15)
    for dtype in (torch.float64, torch.float32):
        tensor = minirtc.discriminator_accuracy(
            torch.tensor(real, dtype=dtype), torch.tensor(permuted, dtype=dtype)
        )
        assert float(tensor) == pytest.approx(expected, abs=1e-7)
        assert tensor.dtype == dtype  # the accuracy of float64 logits is a float64 tensor


@pytest.mark.parametrize("fn", [minirtc.gaussian_tc, minirtc.gaussian_tc_of_samples])
def test_gaussian_tc_accepts_torch_and_returns_a_float(fn) -> None:
    x = np.random.default_rng(3).normal(size=(40, 3)) @ np.array(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 1.0]]
    )
    arg = np.cov(x, rowvar=False) if fn is minirtc.gaussian_tc else x
    value = fn(arg)
    assert isinstance(value, float) and value > 0
    assert fn(torch.tensor(arg)) == value
    assert fn(torch.tensor(arg, requires_grad=True)) == value


def test_autograd_gradients_match_finite_differences() -> None:
    """Independent of torch: autograd's gradients of the estimators agree with finite differences."""
    arrays = _inputs()
    z, mu, logvar = arrays["z"], arrays["mu"], arrays["logvar"]

    def tc_terms(z, mu, logvar):
        parts = minirtc.decompose(z, mu, logvar, N, method="mss1", chunk_size=3)
        return parts.mi + 2.0 * parts.tc + 3.0 * parts.dim_kl

    check_grads(tc_terms, modes=["rev"], order=1)(z, mu, logvar)
