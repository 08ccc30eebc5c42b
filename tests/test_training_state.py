"""A trainer's state is NumPy arrays and JSON values, and loading it continues bit-identically."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from minirtc.training.config import TrainConfig
from minirtc.training.trainer import make_trainer

TINY = TrainConfig(
    model="factor-vae",  # a discriminator: both optimisers and every kind of draw
    hidden=(16,),
    latent_dim=3,
    disc_hidden=8,
    disc_layers=2,
    batch_size=8,
)


def _images() -> np.ndarray:
    return (np.random.default_rng(0).random((20, 64, 64, 1)) < 0.2).astype(np.uint8)  # 2.5 batches


def _leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _leaves(value)
    else:
        yield tree


def _without_arrays(tree):
    if isinstance(tree, dict):
        return {k: _without_arrays(v) for k, v in tree.items()}
    return None if isinstance(tree, np.ndarray) else tree


CASES = [
    ("numpy", "mlp"),
    pytest.param("torch", "mlp", marks=pytest.mark.torch),
    pytest.param("torch", "conv", marks=pytest.mark.torch),
]


@pytest.mark.parametrize(("backend", "arch"), CASES)
def test_state_is_numpy_and_json_and_resumes_bit_identically(backend, arch):
    if backend == "torch":
        pytest.importorskip("torch")
    config = dataclasses.replace(
        TINY, backend=backend, arch=arch, device="cpu" if backend == "torch" else "auto"
    )
    images = _images()
    first = make_trainer(config, images, 1)
    for _ in range(4):  # past the end of one pass: a new data order has been drawn
        first.step()
    first.pop_metrics()
    state = first.state()
    assert all(isinstance(leaf, (np.ndarray, int, float, str, type(None))) for leaf in _leaves(state))
    json.dumps(_without_arrays(state))  # the rest is plain JSON

    second = make_trainer(config, images, 1)
    second.load_state(state)
    for _ in range(3):
        first.step()
        second.step()
    assert first.pop_metrics() == second.pop_metrics()
    a, b = first.state(), second.state()
    for (name, x), y in zip(_flat(a), (leaf for _, leaf in _flat(b))):
        assert np.array_equal(np.asarray(x), np.asarray(y)), name


def _flat(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _flat(value, f"{prefix}{key}/")
    else:
        yield prefix, tree


def test_an_old_checkpoint_is_refused_with_one_clear_line():
    from minirtc.errors import ConfigError

    trainer = make_trainer(TINY, _images(), 1)
    with pytest.raises(ConfigError, match="another version"):
        trainer.load_state({"model": {}, "optimizer": {}, "generator": None, "step": 3})
