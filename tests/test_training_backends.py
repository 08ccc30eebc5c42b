"""The two backends' models agree: same weights and noise give the same loss terms and gradients.

This is micrograd's test applied to whole VAEs: the NumPy/autograd forward and
gradient against torch's, in float64, for every objective.
"""

from __future__ import annotations

import numpy as np
import pytest

import minirtc
from minirtc.backends import numpy_backend as nb
from minirtc.training.config import TrainConfig

torch = pytest.importorskip("torch")
from minirtc.backends import torch_backend as tb  # noqa: E402

M, H, W, C, D = 16, 6, 6, 1, 3


def numpy_to_torch_mlp(params: dict, module) -> None:
    """Copy NumPy MLP params (W{l} (in, out), b{l}) into the torch MLP of the same names."""
    with torch.no_grad():
        for name, value in params.items():
            module.params[name].copy_(torch.from_numpy(np.asarray(value)))


@pytest.fixture
def setup():
    rng = np.random.default_rng(3)
    params = nb.init_vae(rng, H * W * C, (12, 8), D, dtype="float64")
    disc_params = nb.init_discriminator(rng, D, hidden=10, layers=2, dtype="float64")
    model = tb.VAE("mlp", (H, W, C), (12, 8), D).double()
    numpy_to_torch_mlp(params["encoder"], model.encoder)
    numpy_to_torch_mlp(params["decoder"], model.decoder)
    disc = tb.make_discriminator(D, hidden=10, layers=2).double()
    numpy_to_torch_mlp(disc_params, disc)
    x = (rng.random((M, H * W * C)) > 0.5).astype(np.float64)
    eps = rng.standard_normal((M, D))
    return params, disc_params, model, disc, x, eps


@pytest.mark.parametrize("model_name", minirtc.MODELS)
def test_same_weights_same_noise_same_terms_and_grads(setup, model_name):
    params, disc_params, model, disc, x, eps = setup
    config = TrainConfig(model=model_name).objective().resolved()
    uses_disc = config.tc_estimator == "discriminator"
    N = 1000

    grads_np, terms_np = nb._vae_grad(params, disc_params if uses_disc else None, x, eps, config, N)

    xt, epst = torch.from_numpy(x), torch.from_numpy(eps)
    mu, logvar = model.encode(xt)
    z = tb.reparameterise(mu, logvar, epst)
    logits = model.decode(z)
    loss, terms_t = minirtc.objective(config, xt, logits, mu, logvar, z, N, disc(z) if uses_disc else None)
    loss.backward()

    assert set(terms_np) == set(terms_t)
    for name in terms_np:
        np.testing.assert_allclose(terms_np[name], terms_t[name].item(), rtol=1e-10, atol=1e-10, err_msg=name)
    for part, module in (("encoder", model.encoder), ("decoder", model.decoder)):
        for name, g in grads_np[part].items():
            np.testing.assert_allclose(g, module.params[name].grad.numpy(), rtol=1e-8, atol=1e-10)


def test_discriminator_loss_and_grads_agree(setup):
    _, disc_params, _, disc, _, _ = setup
    rng = np.random.default_rng(5)
    z, z_perm = rng.standard_normal((2, M, D))
    grads_np, terms_np = nb._disc_grad(disc_params, z, z_perm)
    loss = minirtc.discriminator_loss(disc(torch.from_numpy(z)), disc(torch.from_numpy(z_perm)))
    loss.backward()
    np.testing.assert_allclose(terms_np["disc_loss"], loss.item(), rtol=1e-12)
    for name, g in grads_np.items():
        np.testing.assert_allclose(g, disc.params[name].grad.numpy(), rtol=1e-8, atol=1e-12)


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
