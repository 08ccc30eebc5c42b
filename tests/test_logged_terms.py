"""Terms only logged are computed only on the steps that write a history row.

The minibatch decomposition (MI, TC, dimension-wise KL) costs O(M^2 D) per step.
Models that do not train on it log it, so it is computed on the step that ends a
row's interval and nowhere else; models that train on it compute it every step.
What must hold: the training itself does not change, and the logged terms are
those of the row's last step.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import minirtc
from minirtc.accumulate import TermAccumulator
from minirtc.errors import NonFiniteLoss
from minirtc.objectives import ObjectiveConfig, decomposition_in_loss
from minirtc.ops import ops_by_name
from minirtc.training.config import TrainConfig
from minirtc.training.trainer import make_trainer

NUMPY = ops_by_name("numpy")
TINY = TrainConfig(hidden=(16,), latent_dim=3, disc_hidden=8, disc_layers=2, batch_size=8, steps=6)
DECOMPOSITION = {"mi", "tc", "dim_kl"}


def _images() -> np.ndarray:
    return (np.random.default_rng(0).random((40, 64, 64, 1)) < 0.2).astype(np.uint8)


def _batch(seed: int = 0, M: int = 8, D: int = 3):
    rng = np.random.default_rng(seed)
    x = (rng.random((M, 6)) < 0.5).astype(float)
    mu, logvar = rng.normal(size=(M, D)), rng.normal(size=(M, D)) - 1.0
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(M, D))
    return x, rng.normal(size=(M, 6)), mu, logvar, z, rng.normal(size=(M, 2))


@pytest.mark.parametrize(
    ("model", "in_loss"),
    [("vae", False), ("beta-vae", False), ("factor-vae", False), ("rtc-vae", False), ("beta-tcvae", True)],
)
def test_which_models_train_on_the_decomposition(model, in_loss):
    assert decomposition_in_loss(ObjectiveConfig(model=model)) is in_loss


def test_rtc_vae_with_a_minibatch_tc_trains_on_it():
    assert decomposition_in_loss(ObjectiveConfig(model="rtc-vae", tc_estimator="mss1"))


@pytest.mark.parametrize("model", ["vae", "factor-vae", "rtc-vae", "beta-tcvae", "annealed-vae"])
def test_leaving_out_the_diagnostics_changes_no_loss(model):
    config = ObjectiveConfig(model=model)
    x, x_logits, mu, logvar, z, disc_logits = _batch()
    full = minirtc.objective(config, x, x_logits, mu, logvar, z, 100, disc_logits, step=3)
    lean = minirtc.objective(config, x, x_logits, mu, logvar, z, 100, disc_logits, step=3, diagnostics=False)
    assert lean.loss == full.loss
    for name, value in lean.terms.items():
        assert value == full.terms[name], name
    missing = set(full.terms) - set(lean.terms)
    if decomposition_in_loss(config):
        assert not missing
    else:
        assert missing == DECOMPOSITION - ({"tc"} if config.needs_discriminator else set())


def _run(config: TrainConfig) -> tuple[list[dict], dict]:
    """Rows popped where the loop would write them, and the final params (NumPy)."""
    trainer = make_trainer(config, _images(), 1)
    rows = []
    for step in range(1, config.steps + 1):
        trainer.step()
        if config.logs_at(step):
            rows.append(trainer.pop_metrics())
    return rows, trainer.state()["params"]


def _flat(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}{key}/") if isinstance(value, dict) else {prefix + key: value})
    return out


@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=pytest.mark.torch)])
@pytest.mark.parametrize("model", ["factor-vae", "rtc-vae", "beta-tcvae"])
def test_logging_less_often_trains_the_same_and_logs_the_rows_last_step(model, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    device = "cpu" if backend == "torch" else "auto"
    every = dataclasses.replace(TINY, model=model, log_every=1, backend=backend, device=device)
    rows_every, params_every = _run(every)
    rows_three, params_three = _run(dataclasses.replace(every, log_every=3))
    for name, value in _flat(params_every).items():
        np.testing.assert_array_equal(_flat(params_three)[name], value, err_msg=name)
    assert len(rows_three) == 2
    for row, last in zip(rows_three, (rows_every[2], rows_every[5])):  # after steps 3 and 6
        assert DECOMPOSITION <= set(row)
        if decomposition_in_loss(every.objective):  # every step's terms: the interval's mean
            continue
        for name in DECOMPOSITION - ({"tc"} if every.objective.needs_discriminator else set()):
            assert row[name] == last[name], name  # the last step's estimate, not a mean
    interval = [r["recon"] for r in rows_every[3:6]]
    np.testing.assert_allclose(rows_three[1]["recon"], np.mean(interval), rtol=1e-6)


def test_accumulator_means_each_term_over_the_steps_that_have_it():
    acc = TermAccumulator(NUMPY)
    acc.add(1, {"recon": np.float32(1.0)})
    acc.add(2, {"recon": np.float32(2.0)})
    acc.add(3, {"recon": np.float32(6.0), "mi": np.float32(0.5)})
    assert acc.pop() == {"recon": 3.0, "mi": 0.5}
    assert acc.pop() == {}


def test_accumulator_names_the_earliest_non_finite_term_across_sets_of_terms():
    acc = TermAccumulator(NUMPY)
    acc.add(1, {"recon": np.float32(1.0)})
    acc.add(2, {"recon": np.float32(1.0), "mi": np.float32(np.nan)})
    acc.add(3, {"recon": np.float32(np.inf)})
    with pytest.raises(NonFiniteLoss) as error:
        acc.pop()
    assert (error.value.step, error.value.term) == (2, "mi")
