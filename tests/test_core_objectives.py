"""Objectives, penalties and the discriminator's TC against brute force.

See docs/theory.md#objectives and docs/estimators.md#density-ratio-discriminator.

The objectives are recomputed from an independent transcription of docs/theory.md#objectives, with
hyper-parameters chosen unequal so that a swapped weight shows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minirtc

M, D, N = 9, 4, 100


@pytest.fixture
def batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
    mu = rng.normal(size=(M, D))
    logvar = 0.5 * rng.normal(size=(M, D))
    return {
        "x": rng.uniform(size=(M, 3, 3)),
        "x_logits": rng.normal(size=(M, 3, 3)),
        "mu": mu,
        "logvar": logvar,
        "z": mu + np.exp(logvar / 2) * rng.normal(size=(M, D)),
        "disc_logits": rng.normal(size=(M, 2)),
    }


# ---------------------------------------------------------------------------
# Penalties
# ---------------------------------------------------------------------------


def test_variance_penalty_equals_loop(batch) -> None:
    logvar = batch["logvar"]
    expected = sum(sum(math.exp(logvar[n, k]) for n in range(M)) / M for k in range(D))
    assert minirtc.variance_penalty(logvar) == pytest.approx(expected, rel=1e-13)


def brute_dip(mu, logvar, kind: str, lambda_od: float, lambda_d: float) -> float:
    """lambda_od sum_{i!=j} C_ij^2 + lambda_d sum_i (C_ii - 1)^2 with C from loops (biased 1/M)."""
    mean = [sum(mu[n, k] for n in range(M)) / M for k in range(D)]
    C = [
        [sum((mu[n, i] - mean[i]) * (mu[n, j] - mean[j]) for n in range(M)) / M for j in range(D)]
        for i in range(D)
    ]
    if kind == "ii":
        for i in range(D):
            C[i][i] += sum(math.exp(logvar[n, i]) for n in range(M)) / M
    off = sum(C[i][j] ** 2 for i in range(D) for j in range(D) if i != j)
    diagonal = sum((C[i][i] - 1.0) ** 2 for i in range(D))
    return lambda_od * off + lambda_d * diagonal


@pytest.mark.parametrize("kind", ["i", "ii"])
def test_dip_penalty_equals_loop(batch, kind: str) -> None:
    mu, logvar = batch["mu"], batch["logvar"]
    got = minirtc.dip_penalty(mu, logvar, kind, lambda_od=0.7, lambda_d=3.1)
    assert got == pytest.approx(brute_dip(mu, logvar, kind, 0.7, 3.1), rel=1e-12)
    # Defaults (Kumar et al.): lambda_d = 10 lambda_od for I, lambda_od for II.
    default_d = 10 * 2.0 if kind == "i" else 2.0
    assert minirtc.dip_penalty(mu, logvar, kind, lambda_od=2.0) == pytest.approx(
        brute_dip(mu, logvar, kind, 2.0, default_d), rel=1e-12
    )


def test_batch_covariance_is_biased_numpy_cov(batch) -> None:
    np.testing.assert_allclose(
        minirtc.batch_covariance(batch["mu"]), np.cov(batch["mu"].T, bias=True), rtol=1e-13
    )


# ---------------------------------------------------------------------------
# The discriminator (docs/estimators.md#density-ratio-discriminator)
# ---------------------------------------------------------------------------


def test_discriminator_tc_of_known_logits() -> None:
    logits = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, -3.0]])
    assert minirtc.discriminator_tc(logits) == pytest.approx(5.0 / 3.0, rel=1e-15)
    # The same as E[log D / (1 - D)] with D = softmax(logits)[0].
    p_real = np.exp(logits[:, 0]) / np.exp(logits).sum(axis=1)
    assert minirtc.discriminator_tc(logits) == pytest.approx(
        np.mean(np.log(p_real / (1 - p_real))), rel=1e-12
    )


def test_discriminator_loss_equals_cross_entropy_loop(rng: np.random.Generator) -> None:
    real, permuted = 3.0 * rng.normal(size=(6, 2)), 3.0 * rng.normal(size=(5, 2))

    def mean_cross_entropy(logits, label):
        return sum(
            -math.log(math.exp(row[label]) / (math.exp(row[0]) + math.exp(row[1]))) for row in logits
        ) / len(logits)

    expected = 0.5 * (mean_cross_entropy(real, 0) + mean_cross_entropy(permuted, 1))
    assert minirtc.discriminator_loss(real, permuted) == pytest.approx(expected, rel=1e-12)
    # A perfect discriminator has (almost) zero loss; swapping the classes is heavily penalised.
    assert minirtc.discriminator_loss(np.array([[50.0, 0.0]]), np.array([[0.0, 50.0]])) < 1e-20
    assert minirtc.discriminator_loss(np.array([[0.0, 50.0]]), np.array([[50.0, 0.0]])) == pytest.approx(50.0)


def _check_permutation(z: np.ndarray, permuted: np.ndarray) -> np.ndarray:
    """Every column of `permuted` is a permutation of z's column; returns the permutations (M, D)."""
    assert permuted.shape == z.shape
    order = np.zeros(z.shape, dtype=int)
    for k in range(z.shape[1]):
        np.testing.assert_array_equal(np.sort(permuted[:, k]), np.sort(z[:, k]))
        position = {value: i for i, value in enumerate(z[:, k])}
        order[:, k] = [position[value] for value in permuted[:, k]]
    return order


def _distinct_latents(M_: int = 40, D_: int = 5) -> np.ndarray:
    return np.arange(M_)[:, None] + 1000.0 * np.arange(D_)[None, :] + 0.5  # every entry distinct


def test_permute_dims_numpy() -> None:
    z = _distinct_latents()
    first = minirtc.permute_dims(z, np.random.default_rng(5))
    order = _check_permutation(z, first)
    assert len({tuple(order[:, k]) for k in range(z.shape[1])}) == z.shape[1]  # independent columns
    np.testing.assert_array_equal(minirtc.permute_dims(z, np.random.default_rng(5)), first)  # same seed
    assert not np.array_equal(minirtc.permute_dims(z, np.random.default_rng(6)), first)


def test_permute_dims_torch_and_its_gradient() -> None:
    torch = pytest.importorskip("torch")
    z = torch.tensor(_distinct_latents(), requires_grad=True)
    first = minirtc.permute_dims(z, torch.Generator().manual_seed(5))
    assert isinstance(first, torch.Tensor) and first.dtype == torch.float64
    order = _check_permutation(z.detach().numpy(), first.detach().numpy())
    assert len({tuple(order[:, k]) for k in range(order.shape[1])}) == order.shape[1]
    again = minirtc.permute_dims(z, torch.Generator().manual_seed(5))
    assert torch.equal(again, first)
    assert not torch.equal(minirtc.permute_dims(z, torch.Generator().manual_seed(6)), first)
    # d/dz sum(w * permuted) puts w[i, k] back at row order[i, k].
    w = torch.randn(first.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (grad,) = torch.autograd.grad((w * first).sum(), z)
    expected = np.zeros(order.shape)
    expected[order, np.arange(order.shape[1])[None, :]] = w.numpy()
    np.testing.assert_array_equal(grad.numpy(), expected)


def test_permute_dims_autograd_gradient() -> None:
    import autograd

    z = _distinct_latents()
    w = np.random.default_rng(0).normal(size=z.shape)
    order = _check_permutation(z, minirtc.permute_dims(z, np.random.default_rng(5)))
    grad = autograd.grad(lambda z_: np.sum(w * minirtc.permute_dims(z_, np.random.default_rng(5))))(z)
    expected = np.zeros(z.shape)
    expected[order, np.arange(z.shape[1])[None, :]] = w
    np.testing.assert_array_equal(grad, expected)


def test_permute_dims_breaks_the_dependence(rng: np.random.Generator) -> None:
    """Permuted samples of a strongly correlated z are uncorrelated: a sample of prod_k q(z_k)."""
    z = rng.multivariate_normal(np.zeros(2), [[1.0, 0.99], [0.99, 1.0]], size=4000)
    r = np.corrcoef(minirtc.permute_dims(z, rng).T)[0, 1]
    assert abs(r) < 4.0 / math.sqrt(4000)


# ---------------------------------------------------------------------------
# The objectives (docs/theory.md#objectives)
# ---------------------------------------------------------------------------

HYPER = {"beta": 2.5, "gamma": 1.7, "alpha": 0.6, "eta": 3.0, "lambda_od": 0.8, "lambda_d": 2.2}


def spec2_objective(model: str, terms: dict[str, float], h: dict[str, float]) -> float:
    """The objectives of docs/theory.md#objectives, transcribed independently of minirtc.objectives."""
    recon, kl = terms["recon"], terms["kl"]
    if model == "vae":
        return recon - kl
    if model == "beta-vae":
        return recon - h["beta"] * kl
    if model == "beta-tcvae":
        return recon - h["alpha"] * terms["mi"] - h["beta"] * terms["tc"] - h["gamma"] * terms["dim_kl"]
    if model == "factor-vae":
        return recon - kl - h["gamma"] * terms["tc"]
    if model in ("dip-vae-i", "dip-vae-ii"):
        return recon - kl - terms["dip"]
    if model == "annealed-vae":  # Burgess et al. 2018 at step 0, where C = C_min = 0 by default
        return recon - h["gamma"] * abs(kl - 0.0)
    assert model == "rtc-vae"
    return recon - kl - h["beta"] * terms["tc"] - h["eta"] * terms["var"]


def independent_terms(model: str, estimator: str, b: dict[str, np.ndarray], h: dict[str, float]) -> dict:
    """The terms from the separately tested building blocks, batch-averaged (docs/theory.md#notation)."""
    parts = minirtc.decompose(
        b["z"], b["mu"], b["logvar"], N, method="mss1" if estimator == "discriminator" else estimator
    )
    kind = "ii" if model == "dip-vae-ii" else "i"
    return {
        "recon": np.mean(minirtc.bernoulli_log_likelihood(b["x"], b["x_logits"])),
        "kl": np.mean(minirtc.kl_normal(b["mu"], b["logvar"])),
        "mi": parts.mi,
        "tc": minirtc.discriminator_tc(b["disc_logits"]) if estimator == "discriminator" else parts.tc,
        "dim_kl": parts.dim_kl,
        "var": minirtc.variance_penalty(b["logvar"]),
        "dip": brute_dip(b["mu"], b["logvar"], kind, h["lambda_od"], h["lambda_d"]),
    }


def valid_pairs() -> list[tuple[str, str]]:
    return [
        (model, estimator)
        for model in minirtc.MODELS
        for estimator in minirtc.TC_ESTIMATORS
        if not (model == "beta-tcvae" and estimator == "discriminator")
        and not (model == "factor-vae" and estimator != "discriminator")
    ]


def run_objective(config: minirtc.ObjectiveConfig, b: dict[str, np.ndarray]) -> minirtc.Objective:
    return minirtc.objective(config, b["x"], b["x_logits"], b["mu"], b["logvar"], b["z"], N, b["disc_logits"])


@pytest.mark.parametrize(("model", "estimator"), valid_pairs())
def test_objective_equals_spec2_table(batch, model: str, estimator: str) -> None:
    config = minirtc.ObjectiveConfig(model=model, tc_estimator=estimator, **HYPER)
    result = run_objective(config, batch)
    terms = independent_terms(model, estimator, batch, HYPER)
    assert result.loss == pytest.approx(-spec2_objective(model, terms, HYPER), rel=1e-12)
    assert result.terms["loss"] == result.loss
    for name in ("recon", "kl", "mi", "tc", "dim_kl"):
        assert result.terms[name] == pytest.approx(terms[name], rel=1e-12), name
    assert result.terms["var_penalty"] == pytest.approx(terms["var"], rel=1e-12)
    assert result.terms["elbo"] == pytest.approx(terms["recon"] - terms["kl"], rel=1e-12)
    if model.startswith("dip-vae"):
        assert result.terms["dip_penalty"] == pytest.approx(terms["dip"], rel=1e-12)


DEFAULTS = {  # docs/theory.md#objectives: alpha = gamma = 1 for beta-tcvae; eta = 10 (paper)
    "beta-tcvae": {"alpha": 1.0, "gamma": 1.0},
    "rtc-vae": {"eta": 10.0},
}


@pytest.mark.parametrize("model", ["beta-tcvae", "rtc-vae"])
def test_spec_fixed_defaults(batch, model: str) -> None:
    config = minirtc.ObjectiveConfig(model=model, beta=2.0, tc_estimator="mss1").resolved()
    for name, value in DEFAULTS[model].items():
        assert getattr(config, name) == value


@pytest.mark.parametrize(("model", "kind", "ratio"), [("dip-vae-i", "i", 10.0), ("dip-vae-ii", "ii", 1.0)])
def test_dip_vae_default_lambda_d_follows_lambda_od(batch, model: str, kind: str, ratio: float) -> None:
    """l_d = 10 l_od (I) and l_d = l_od (II) by default, whatever l_od the user sets (docs/theory.md)."""
    result = run_objective(minirtc.ObjectiveConfig(model=model, lambda_od=2.0), batch)
    expected = brute_dip(batch["mu"], batch["logvar"], kind, 2.0, ratio * 2.0)
    assert result.terms["dip_penalty"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("estimator", ["mws", "mws-noconst", "mss0", "mss1"])
def test_beta_tcvae_with_unit_weights_is_recon_minus_decomposition(batch, estimator: str) -> None:
    config = minirtc.ObjectiveConfig(
        model="beta-tcvae", alpha=1.0, beta=1.0, gamma=1.0, tc_estimator=estimator
    )
    t = run_objective(config, batch).terms
    assert t["loss"] == pytest.approx(-(t["recon"] - t["mi"] - t["tc"] - t["dim_kl"]), rel=1e-12)


def test_beta_vae_with_beta_one_is_the_vae(batch) -> None:
    vae = run_objective(minirtc.ObjectiveConfig(model="vae"), batch).loss
    assert run_objective(minirtc.ObjectiveConfig(model="beta-vae", beta=1.0), batch).loss == pytest.approx(
        vae
    )
    assert vae == pytest.approx(
        -(
            np.mean(minirtc.bernoulli_log_likelihood(batch["x"], batch["x_logits"]))
            - np.mean(minirtc.kl_normal(batch["mu"], batch["logvar"]))
        ),
        rel=1e-12,
    )


def test_gaussian_likelihood_and_chunking(batch) -> None:
    config = minirtc.ObjectiveConfig(model="rtc-vae", likelihood="gaussian", tc_estimator="mss1", **HYPER)
    result = run_objective(config, batch)
    recon = np.mean(minirtc.gaussian_log_likelihood(batch["x"], batch["x_logits"]))
    assert result.terms["recon"] == pytest.approx(recon, rel=1e-12)
    chunked = run_objective(minirtc.ObjectiveConfig(**{**config.__dict__, "chunk_size": 2}), batch)
    assert chunked.loss == pytest.approx(result.loss, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("step", "C"), [(0, 2.0), (250, 7.75), (1000, 25.0), (5000, 25.0)])
def test_annealed_vae_holds_the_kl_near_a_rising_capacity(batch, step: int, C: float) -> None:
    """E_q[log p(x|z)] - gamma |KL - C|, C = C_min + (C_max - C_min) min(1, step / capacity_steps)."""
    config = minirtc.ObjectiveConfig(
        model="annealed-vae", gamma=30.0, capacity_min=2.0, capacity_max=25.0, capacity_steps=1000
    )
    b = batch
    result = minirtc.objective(config, b["x"], b["x_logits"], b["mu"], b["logvar"], b["z"], N, step=step)
    recon = np.mean(minirtc.bernoulli_log_likelihood(b["x"], b["x_logits"]))
    kl = np.mean(minirtc.kl_normal(b["mu"], b["logvar"]))
    assert result.terms["capacity"] == pytest.approx(C, rel=1e-12)
    assert result.terms["kl_capacity_gap"] == pytest.approx(abs(kl - C), rel=1e-12)
    assert result.loss == pytest.approx(-(recon - 30.0 * abs(kl - C)), rel=1e-12)


def test_annealed_vae_defaults_are_burgess_et_al() -> None:
    resolved = minirtc.ObjectiveConfig(model="annealed-vae").resolved()
    assert (resolved.gamma, resolved.capacity_min, resolved.capacity_max, resolved.capacity_steps) == (
        1000.0,
        0.0,
        25.0,
        100_000,
    )
    with pytest.raises(ValueError, match="capacity_min"):
        minirtc.ObjectiveConfig(model="annealed-vae", capacity_min=30.0).resolved()
