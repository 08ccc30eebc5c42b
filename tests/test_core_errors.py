"""Bad input gets a ValueError naming the argument and, where there is a list, the allowed values.

Also: `import minirtc` and the NumPy backend never import torch, and work without it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minirtc
import minirtc.backends

M, D = 6, 3
METHODS_LIST = re.escape("['mws', 'mws-noconst', 'mss0', 'mss1']")


@pytest.fixture
def latents(rng: np.random.Generator):
    mu = rng.normal(size=(M, D))
    return mu + rng.normal(size=(M, D)), mu, np.zeros((M, D))


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


def test_mismatched_shapes(latents) -> None:
    z, mu, logvar = latents
    with pytest.raises(ValueError, match=r"logvar has shape \(6, 2\) but mu has shape \(6, 3\)"):
        minirtc.decompose(z, mu, logvar[:, :2], 100)
    with pytest.raises(ValueError, match=r"z has shape \(5, 3\) but mu has shape \(6, 3\)"):
        minirtc.decompose(z[:5], mu, logvar, 100)
    with pytest.raises(ValueError, match="mu must be 2-D"):
        minirtc.decompose(z[0], mu[0], logvar[0], 100)
    with pytest.raises(ValueError, match=r"z must have shape \(M, 3\)"):
        minirtc.exact_log_qz(z[:, :2], mu, logvar)
    with pytest.raises(ValueError, match="dataset_logvar has shape"):
        minirtc.exact_log_qz(z, mu, logvar[:4])
    with pytest.raises(ValueError, match="dataset_mu must be 2-D"):
        minirtc.exact_log_qz(z, mu[0], logvar[0])
    with pytest.raises(ValueError, match="z has shape"):
        minirtc.decompose_exact(z[:4], mu, logvar, mu, logvar)
    with pytest.raises(ValueError, match="x has shape .* logits has shape"):
        minirtc.bernoulli_log_likelihood(np.zeros((M, 4)), np.zeros((M, 5)))
    with pytest.raises(ValueError, match="x has shape .* mean has shape"):
        minirtc.gaussian_log_likelihood(np.zeros((M, 4)), np.zeros((M, 5)))
    with pytest.raises(ValueError, match=re.escape("logits must have shape (M, 2)")):
        minirtc.discriminator_tc(np.zeros((M, 3)))
    with pytest.raises(ValueError, match=re.escape("logits must have shape (M, 2)")):
        minirtc.discriminator_loss(np.zeros((M, 2)), np.zeros(M))


def test_mismatched_moments_are_named(latents) -> None:
    """kl_normal and dip_penalty take mu and logvar of one shape; numpy's broadcast error names neither."""
    _, mu, logvar = latents
    with pytest.raises(ValueError, match="logvar has shape .* mu has shape"):
        minirtc.kl_normal(mu, logvar[:, :2])
    with pytest.raises(ValueError, match="logvar has shape .* mu has shape"):
        minirtc.dip_penalty(mu, logvar[:, :2], kind="ii")


def test_empty_dataset_is_named(latents) -> None:
    z, _, _ = latents
    with pytest.raises(ValueError, match="dataset_mu"):
        minirtc.exact_log_qz(z, np.zeros((0, D)), np.zeros((0, D)))


# ---------------------------------------------------------------------------
# Sizes and names of the estimators
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dataset_size", [0, -5, 2.5, None])
@pytest.mark.parametrize("method", minirtc.METHODS)
def test_bad_dataset_size(latents, method: str, dataset_size) -> None:
    with pytest.raises(ValueError, match="dataset_size must be a positive integer"):
        minirtc.decompose(*latents, dataset_size, method=method)
    with pytest.raises(ValueError, match="dataset_size must be a positive integer"):
        minirtc.log_weight_matrix(method, M, dataset_size)


@pytest.mark.parametrize("batch_size", [0, -1, 3.0])
def test_bad_batch_size(batch_size) -> None:
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        minirtc.log_weight_matrix("mws", batch_size, 10)


@pytest.mark.parametrize("method", ["mss0", "mss1"])
def test_stratified_sampling_needs_a_batch_from_the_dataset(latents, method: str) -> None:
    with pytest.raises(ValueError, match=r"batch_size \(6\) must not exceed dataset_size \(5\)"):
        minirtc.decompose(*latents, 5, method=method)
    with pytest.raises(ValueError, match=f"batch_size must be at least 2 for '{method}'"):
        minirtc.log_weight_matrix(method, 1, 10)
    z, mu, logvar = latents
    with pytest.raises(ValueError, match=f"batch_size must be at least 2 for '{method}', got 1"):
        minirtc.decompose(z[:1], mu[:1], logvar[:1], 10, method=method)
    minirtc.decompose(*latents, M, method=method)  # M == N is allowed


@pytest.mark.parametrize("method", ["mws", "mws-noconst"])
def test_mws_allows_any_sizes(latents, method: str) -> None:
    assert np.isfinite(minirtc.decompose(*latents, 2, method=method).tc)
    assert minirtc.log_weight_matrix(method, 1, 1).shape == (1, 1)


@pytest.mark.parametrize("method", ["MSS", "mss", "mss2", "", "disc"])
def test_unknown_method(latents, method: str) -> None:
    with pytest.raises(ValueError, match=f"method must be one of {METHODS_LIST}, got '{method}'"):
        minirtc.decompose(*latents, 100, method=method)
    with pytest.raises(ValueError, match=f"method must be one of {METHODS_LIST}"):
        minirtc.log_weight_matrix(method, M, 100)


@pytest.mark.parametrize("chunk_size", [0, -3, 2.0])
def test_bad_chunk_size(latents, chunk_size) -> None:
    z, mu, logvar = latents
    with pytest.raises(ValueError, match="chunk_size must be a positive integer or None"):
        minirtc.decompose(z, mu, logvar, 100, chunk_size=chunk_size)
    with pytest.raises(ValueError, match="chunk_size must be a positive integer or None"):
        minirtc.exact_log_qz(z, mu, logvar, chunk_size=chunk_size)


def test_bad_penalty_arguments(latents) -> None:
    _, mu, logvar = latents
    with pytest.raises(ValueError, match=re.escape("kind must be one of ['i', 'ii'], got 'iii'")):
        minirtc.dip_penalty(mu, logvar, kind="iii")
    with pytest.raises(ValueError, match="lambda_od and lambda_d must be >= 0"):
        minirtc.dip_penalty(mu, logvar, lambda_od=-1.0)
    with pytest.raises(ValueError, match="lambda_od and lambda_d must be >= 0"):
        minirtc.dip_penalty(mu, logvar, lambda_d=-1.0)


def test_permute_dims_wrong_generator(latents) -> None:
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        minirtc.permute_dims(latents[0], 0)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match=re.escape("backend must be one of ['numpy', 'torch'], got 'jax'")):
        minirtc.backends.get("jax")


# ---------------------------------------------------------------------------
# The objective's configuration
# ---------------------------------------------------------------------------

MODELS_LIST = re.escape(str(list(minirtc.MODELS)))
ESTIMATORS_LIST = re.escape(str(list(minirtc.TC_ESTIMATORS)))


def resolve(**kwargs) -> minirtc.ObjectiveConfig:
    return minirtc.ObjectiveConfig(**kwargs).resolved()


def test_unknown_model() -> None:
    with pytest.raises(ValueError, match=f"model must be one of {MODELS_LIST}, got 'beta_vae'"):
        resolve(model="beta_vae")


@pytest.mark.parametrize("name", ["beta", "gamma", "alpha", "eta", "lambda_od", "lambda_d"])
@pytest.mark.parametrize("value", [-0.5, float("nan")])
def test_negative_or_nan_weights(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{name} must be >= 0"):
        resolve(model="rtc-vae", **{name: value})


def test_unknown_or_incompatible_tc_estimator() -> None:
    with pytest.raises(ValueError, match=f"tc_estimator must be one of {ESTIMATORS_LIST}, got 'mss'"):
        resolve(model="rtc-vae", tc_estimator="mss")
    for estimator in ("mws", "mss1"):
        with pytest.raises(ValueError, match="tc_estimator must be 'discriminator'"):
            resolve(model="factor-vae", tc_estimator=estimator)
    with pytest.raises(ValueError, match="tc_estimator must be one of " + re.escape("['mws', 'mws-noconst'")):
        resolve(model="beta-tcvae", tc_estimator="discriminator")


def test_unknown_likelihood() -> None:
    with pytest.raises(ValueError, match=re.escape("likelihood must be one of ['bernoulli', 'gaussian']")):
        resolve(model="vae", likelihood="laplace")


@pytest.mark.parametrize("model", ["factor-vae", "rtc-vae"])
def test_missing_disc_logits(latents, model: str) -> None:
    z, mu, logvar = latents
    x = np.zeros((M, 4))
    with pytest.raises(ValueError, match="disc_logits"):
        minirtc.objective(minirtc.ObjectiveConfig(model=model), x, x, mu, logvar, z, 100)


def test_objective_passes_size_errors_through(latents) -> None:
    z, mu, logvar = latents
    x = np.zeros((M, 4))
    with pytest.raises(ValueError, match="dataset_size must be a positive integer"):
        minirtc.objective(minirtc.ObjectiveConfig(model="beta-tcvae"), x, x, mu, logvar, z, -1)
    with pytest.raises(ValueError, match="x has shape"):
        minirtc.objective(minirtc.ObjectiveConfig(model="vae"), x[:, :2], x, mu, logvar, z, 100)


# ---------------------------------------------------------------------------
# The NumPy path never imports torch
# ---------------------------------------------------------------------------


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_numpy_path_does_not_import_torch_and_needs_none() -> None:
    """The NumPy path leaves torch out of sys.modules; with torch blocked (as if it were not
    installed), asking for the torch backend is a clear ImportError."""
    result = run_python(
        """
        import sys, importlib.abc
        import numpy as np
        import minirtc, minirtc.backends
        minirtc.backends.get("numpy")
        z = np.random.default_rng(0).normal(size=(8, 3))
        minirtc.objective(minirtc.ObjectiveConfig(model="beta-tcvae"), z > 0, z, z, 0 * z, z, 100)
        minirtc.decompose(z, z, 0 * z, 100, method="mss1", chunk_size=3)
        minirtc.exact_log_qz(z, z, 0 * z, chunk_size=3)
        minirtc.gaussian_tc_of_samples(z)
        assert "torch" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torch"))

        class NoTorch(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is not installed (blocked by the test)")
        sys.meta_path.insert(0, NoTorch())
        try:
            minirtc.backends.get("torch")
        except ImportError as error:
            assert "minirtc[torch]" in str(error), error
        else:
            raise AssertionError("the torch backend imported without torch")
        """
    )
    assert result.returncode == 0, result.stderr
