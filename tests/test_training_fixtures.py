"""Recorded histories: every trainer reproduces the 20-step runs stored in tests/fixtures/.

Each case trains a tiny model for 20 steps with a loss row every step (and one
evaluation row at the end) and compares every logged number with the stored
history: exactly where the case is marked exact (same floating-point operations
as when it was recorded), else to 1e-5 relative.  Re-record (only when a change
of numbers is intended and explained) with

    python tests/test_training_fixtures.py --record [CASE ...]

The NumPy cases were recorded again when one data stream came to serve both
backends: each batch is now taken in the shuffled order, where the NumPy trainer
used to sort a batch's indices (same items, another order within the batch, and
so another pairing in the discriminator's permutation).  Everything else,
the torch cases included, is as first recorded.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from minirtc.training import TrainConfig, train
from minirtc.training.ensemble import seed_run_dirs, train_seeds
from minirtc.training.loop import TIMING_KEYS
from minirtc.training.records import read_history

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TINY = TrainConfig(
    dataset="dsprites-procedural",
    subset=64,
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=2,
    batch_size=8,
    lr=3e-3,
    disc_lr=3e-3,
    steps=20,
    log_every=1,
    eval_every=20,
    eval_size=32,
    checkpoint_every=20,
)

# name -> (config, seeds for an ensemble or None, compared exactly)
CASES: dict[str, tuple[TrainConfig, tuple[int, ...] | None, bool]] = {
    "numpy-mlp-rtc-vae": (dataclasses.replace(TINY, model="rtc-vae"), None, True),
    "numpy-mlp-factor-vae": (dataclasses.replace(TINY, model="factor-vae"), None, True),
    "torch-mlp-rtc-vae": (
        dataclasses.replace(TINY, model="rtc-vae", backend="torch", device="cpu"),
        None,
        False,
    ),
    "torch-mlp-factor-vae": (
        dataclasses.replace(TINY, model="factor-vae", backend="torch", device="cpu"),
        None,
        False,
    ),
    "torch-conv-rtc-vae": (
        dataclasses.replace(TINY, model="rtc-vae", backend="torch", device="cpu", arch="conv"),
        None,
        False,
    ),
    "torch-conv-factor-vae": (
        dataclasses.replace(TINY, model="factor-vae", backend="torch", device="cpu", arch="conv"),
        None,
        False,
    ),
    "torch-mlp-rtc-vae-ensemble-k3": (
        dataclasses.replace(TINY, model="rtc-vae", backend="torch", device="cpu"),
        (0, 1, 2),
        False,
    ),
}


def run_case(name: str, out: Path) -> dict[str, list[dict]]:
    """The case's history rows (timing fields dropped) per run: {"seed<k>": rows}."""
    config, seeds, _ = CASES[name]
    with threadpool_limits(1), _torch_threads(config.backend):
        if seeds is None:
            train(config, out / "run", progress=False)
            dirs = {f"seed{config.seed}": out / "run"}
        else:
            outs = seed_run_dirs(out / "runs", config, seeds)
            train_seeds(config, seeds, outs, progress=False)
            dirs = {f"seed{seed}": o for seed, o in zip(seeds, outs)}
    return {
        key: [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in read_history(d)]
        for key, d in dirs.items()
    }


def _torch_threads(backend: str):
    """One torch thread (thread counts change the rounding of CPU reductions)."""
    if backend != "torch":
        import contextlib

        return contextlib.nullcontext()
    from minirtc.backends.torch_backend import torch_threads

    return torch_threads(1)


@pytest.mark.parametrize("name", list(CASES))
def test_reproduces_recorded_history(name, tmp_path):
    if CASES[name][0].backend == "torch":
        pytest.importorskip("torch")
    want = json.loads((FIXTURES / f"history-{name}.json").read_text())
    got = run_case(name, tmp_path)
    assert sorted(got) == sorted(want)
    exact = CASES[name][2]
    for run in want:
        assert [(r["kind"], r["step"]) for r in got[run]] == [(r["kind"], r["step"]) for r in want[run]]
        for a, b in zip(got[run], want[run]):
            assert sorted(a) == sorted(b), f"{run} step {b['step']}"
            for key, value in b.items():
                if exact or not isinstance(value, float):
                    assert a[key] == value, f"{name} {run} step {b['step']} {key}: {a[key]} != {value}"
                else:
                    np.testing.assert_allclose(
                        a[key], value, rtol=1e-5, atol=1e-7, err_msg=f"{name} {run} step {b['step']} {key}"
                    )


def record(names: list[str]) -> None:
    """Write each named case's history (all when none is named) to tests/fixtures/history-<case>.json."""
    import tempfile

    FIXTURES.mkdir(exist_ok=True)
    for name in names or CASES:
        with tempfile.TemporaryDirectory() as folder:
            history = run_case(name, Path(folder))
        (FIXTURES / f"history-{name}.json").write_text(json.dumps(history, indent=1) + "\n")
        print(f"recorded {name}")


if __name__ == "__main__":
    if sys.argv[1:2] != ["--record"] or not set(sys.argv[2:]) <= set(CASES):
        raise SystemExit(
            f"usage: python tests/test_training_fixtures.py --record [CASE ...] from {list(CASES)}"
        )
    record(sys.argv[2:])
