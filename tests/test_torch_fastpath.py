"""The torch fast path: --compile falls back cleanly, channels-last changes no numbers, CUDA paths.

A real torch.compile takes a minute on a small CPU, so it is measured in
benchmarks/run.py, not here; here the fallback (compile unusable) is checked to
train with exactly the draws and numbers of an uncompiled run.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from minirtc.training import ConfigError, TrainConfig, train

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from minirtc.backends import torch_backend  # noqa: E402
from minirtc.training.batched import BatchedTrainer, make_members  # noqa: E402
from minirtc.training.trainer import make_trainer  # noqa: E402

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)")

MLP = TrainConfig(
    model="factor-vae",
    backend="torch",
    device="cpu",
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=2,
    batch_size=8,
    subset=64,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine they lose a lot."""
    with torch_backend.torch_threads(1):
        yield


def _images(n: int = 64, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.random((n, 64, 64, channels)) < 0.2).astype(np.uint8)


def _unusable_compile(fn, *args, **kwargs):
    """What torch.compile gives on a machine without a working compiler: fails when first run."""

    def compiled(*a, **k):
        raise RuntimeError("no working C++ compiler found\nmore detail")

    return compiled


def _steps(trainer, n: int) -> dict[str, float]:
    for _ in range(n):
        trainer.step()
    return trainer.pop_metrics()


def test_compile_falls_back_with_a_clear_warning_and_the_same_numbers(monkeypatch):
    monkeypatch.setattr(torch, "compile", _unusable_compile)
    images = _images()
    trainer = make_trainer(MLP, images, 1)
    with pytest.warns(
        RuntimeWarning, match=r"--compile: .*RuntimeError: no working C\+\+ compiler.*without it"
    ):
        assert trainer.compile() is False
    assert not {"encode", "decode", "discriminate"} & set(vars(trainer.nets))  # eager networks restored
    assert all(p.grad is None for p in trainer.train_state.params.values())  # the trial left no gradients
    reference = make_trainer(MLP, images, 1)
    assert _steps(trainer, 3) == _steps(reference, 3)  # bit-identical: same draws, same kernels


def test_ensemble_compile_falls_back_with_the_same_numbers(monkeypatch):
    monkeypatch.setattr(torch, "compile", _unusable_compile)
    images = _images()
    configs = [dataclasses.replace(MLP, seed=s) for s in (0, 1)]
    with pytest.warns(RuntimeWarning, match="--compile: .* the networks"):
        compiled = BatchedTrainer(make_members(configs, [images] * 2, 1), compile=True)
    assert compiled.compiled is False
    assert all(p.grad is None for p in compiled.train_state.params.values())  # the trial left no gradients
    eager = BatchedTrainer(make_members(configs, [images] * 2, 1))
    for _ in range(3):
        compiled.step()
        eager.step()
    assert compiled.member_metrics(1) == eager.member_metrics(1)


def test_compile_needs_the_torch_backend(tmp_path):
    with pytest.raises(ConfigError, match="--compile needs --backend torch"):
        train(dataclasses.replace(MLP, backend="numpy", device="auto"), tmp_path / "run", compile=True)
    assert not (tmp_path / "run").exists()


def test_channels_last_conv_keeps_the_images_uncopied_and_the_numbers():
    images = _images(16, channels=3)
    config = dataclasses.replace(MLP, arch="conv", model="vae", dtype="float64", subset=16, batch_size=4)
    trainer = make_trainer(config, images, 1)
    assert trainer.images.data_ptr() == images.ctypes.data  # the NHWC array itself, on CPU
    assert trainer.images.is_contiguous(memory_format=torch.channels_last)
    conv = trainer.train_state.params["encoder.net.0.weight"]
    assert conv.is_contiguous(memory_format=torch.channels_last)
    params = trainer.train_state.params
    plain = {name: p.contiguous(memory_format=torch.contiguous_format) for name, p in params.items()}
    nets = trainer.nets
    x = nets.as_input(trainer.images[:4])
    mu_cl, logvar_cl = nets.encode(params, x)
    mu, logvar = nets.encode(plain, x.contiguous())
    torch.testing.assert_close(mu_cl, mu, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(nets.decode(params, mu_cl), nets.decode(plain, mu), rtol=1e-10, atol=1e-12)


@CUDA
@pytest.mark.cuda
def test_conv_bf16_step_on_cuda_is_finite():
    config = dataclasses.replace(MLP, device="cuda", arch="conv", model="rtc-vae", bf16=True, batch_size=16)
    trainer = make_trainer(config, _images(), 1)
    terms = _steps(trainer, 3)
    assert all(np.isfinite(v) for v in terms.values())
    assert trainer.images.device.type == "cuda"
