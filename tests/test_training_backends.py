"""The two backends' models agree: same weights and noise give the same loss terms and gradients.

This is micrograd's test applied to whole VAEs: the NumPy/autograd forward and
gradient against torch's, in float64, for every objective.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import minirtc
from minirtc.backends import numpy_backend as nb
from minirtc.training.config import TrainConfig
from minirtc.training.step import discriminator_loss, vae_loss

torch = pytest.importorskip("torch")
from minirtc.backends import torch_backend as tb  # noqa: E402

M, H, W, C, D = 16, 6, 6, 1, 3


def torch_names(params: dict) -> dict:
    """NumPy MLP VAE params {"encoder": {"W0": ...}} -> the torch backend's names and tensors."""
    return {
        f"{part}.params.{name}": torch.from_numpy(np.asarray(value)).requires_grad_()
        for part, layers in params.items()
        for name, value in layers.items()
    }


def networks(backend, disc: bool):
    return backend.Networks("mlp", (H, W, C), (12, 8), D, (10, 2) if disc else None, "float64", "cpu", 1)


@pytest.fixture
def setup():
    rng = np.random.default_rng(3)
    params = nb.init_vae(rng, H * W * C, (12, 8), D, dtype="float64")
    disc_params = nb.init_discriminator(rng, D, hidden=10, layers=2, dtype="float64")
    x = (rng.random((M, H * W * C)) > 0.5).astype(np.float64)
    eps = rng.standard_normal((M, D))
    return params, disc_params, x, eps


@pytest.mark.parametrize("model_name", minirtc.MODELS)
def test_same_weights_same_noise_same_terms_and_grads(setup, model_name):
    """The one loss function (minirtc/training/step.py) under each backend's networks and gradients."""
    params, disc_params, x, eps = setup
    config = TrainConfig(model=model_name).objective.resolved()
    uses_disc = config.tc_estimator == "discriminator"
    N, step = 1000, 30_000  # annealed-vae: the capacity is part-way up its ramp

    loss_np = partial(vae_loss, networks(nb, uses_disc), config, N, step)
    (_, (terms_np, _)), grads_np = nb.Engine().value_and_grad(loss_np)(
        params, disc_params if uses_disc else {}, x, eps
    )
    loss_t = partial(vae_loss, networks(tb, uses_disc), config, N, step)
    disc_t = {f"params.{n}": torch.from_numpy(v) for n, v in disc_params.items()} if uses_disc else {}
    (_, (terms_t, _)), grads_t = tb.Engine().value_and_grad(loss_t)(
        torch_names(params), disc_t, torch.from_numpy(x), torch.from_numpy(eps)
    )

    assert set(terms_np) == set(terms_t)
    for name in terms_np:
        np.testing.assert_allclose(terms_np[name], terms_t[name].item(), rtol=1e-10, atol=1e-10, err_msg=name)
    for part in ("encoder", "decoder"):
        for name, g in grads_np[part].items():
            np.testing.assert_allclose(g, grads_t[f"{part}.params.{name}"].numpy(), rtol=1e-8, atol=1e-10)


def test_discriminator_loss_and_grads_agree(setup):
    _, disc_params, _, _ = setup
    rng = np.random.default_rng(5)
    z, z_perm = rng.standard_normal((2, M, D))
    (_, terms_np), grads_np = nb.Engine().value_and_grad(partial(discriminator_loss, networks(nb, True)))(
        disc_params, z, z_perm
    )
    disc_t = {f"params.{n}": torch.from_numpy(v).requires_grad_() for n, v in disc_params.items()}
    (_, terms_t), grads_t = tb.Engine().value_and_grad(partial(discriminator_loss, networks(tb, True)))(
        disc_t, torch.from_numpy(z), torch.from_numpy(z_perm)
    )
    np.testing.assert_allclose(terms_np["disc_loss"], terms_t["disc_loss"].item(), rtol=1e-12)
    for name, g in grads_np.items():
        np.testing.assert_allclose(g, grads_t[f"params.{name}"].numpy(), rtol=1e-8, atol=1e-12)


def test_adam_written_out_matches_torch_adam():
    rng = np.random.default_rng(0)
    p0 = {"w": rng.standard_normal(5)}
    state = nb.adam_init(p0)
    pt = torch.nn.Parameter(torch.from_numpy(p0["w"].copy()))
    opt = torch.optim.Adam([pt], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
    params = p0
    for _ in range(5):
        g = rng.standard_normal(5)
        params, state = nb.adam_update(params, {"w": g}, state, 1e-2, (0.9, 0.999))
        pt.grad = torch.from_numpy(g)
        opt.step()
    # torch adds eps to sqrt(v_hat); the written-out form adds it to sqrt(v): equal up to ~eps.
    np.testing.assert_allclose(params["w"], pt.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_the_trainers_fused_adam_is_torch_adam():
    """make_adam (one fused kernel where torch has it) takes the same steps as plain torch Adam."""
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((7, 3))
    fused, plain = (
        torch.nn.Parameter(torch.from_numpy(w0.copy())),
        torch.nn.Parameter(torch.from_numpy(w0.copy())),
    )
    opt_fused = tb.make_adam([fused], 1e-2, (0.9, 0.999))
    opt_plain = torch.optim.Adam([plain], lr=1e-2, betas=(0.9, 0.999))
    for _ in range(5):
        g = torch.from_numpy(rng.standard_normal((7, 3)))
        fused.grad, plain.grad = g.clone(), g.clone()
        opt_fused.step()
        opt_plain.step()
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 4):  # fused CPU Adam since 2.4
        assert opt_fused.param_groups[0]["fused"]
    np.testing.assert_allclose(fused.detach().numpy(), plain.detach().numpy(), rtol=1e-12, atol=1e-14)
    assert not np.allclose(fused.detach().numpy(), w0)


def test_conv_arch_shapes_and_gradient_flow():
    model = tb.VAE("conv", (64, 64, 3), (), 10)
    x = torch.rand(4, 3, 64, 64)
    mu, logvar = model.encode(x)
    assert mu.shape == (4, 10) and logvar.shape == (4, 10)
    logits = model.decode(mu)
    assert logits.shape == (4, 3, 64, 64)
    minirtc.bernoulli_log_likelihood(x, logits).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="64x64"):
        tb.VAE("conv", (32, 32, 1), (), 10)
