"""Many seeds at once: each member of a batched ensemble is the single run of its seed.

Compared against separate `train(...)` runs: every logged term of history.jsonl,
the evaluation rows and the final weights (float64, so "float tolerance" is tight).
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirtc.training import TrainConfig, train
from minirtc.training.ensemble import seed_run_dirs, train_seeds
from minirtc.training.loop import TIMING_KEYS, RunDirectoryError
from minirtc.training.records import load_checkpoint, read_history

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from minirtc.backends import torch_backend  # noqa: E402  (needs torch)
from minirtc.errors import NonFiniteLoss  # noqa: E402
from minirtc.training.batched import BatchedTrainer, make_members  # noqa: E402
from minirtc.training.trainer import make_trainer  # noqa: E402

TINY = TrainConfig(
    model="rtc-vae",  # discriminator TC: the most random draws per step
    backend="torch",
    device="cpu",
    dtype="float64",
    dataset="dsprites-procedural",
    subset=128,
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=2,
    batch_size=16,
    lr=3e-3,
    disc_lr=3e-3,
    steps=10,
    log_every=5,
    eval_every=5,
    eval_size=64,
    checkpoint_every=5,
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine they lose a lot."""
    with torch_backend.torch_threads(1):
        yield


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


def assert_same_run(member_dir, single_dir, rtol: float = 1e-9) -> None:
    """Same history rows (every term, to rtol) and the same final weights and Adam moments."""
    member, single = _without_timing(read_history(member_dir)), _without_timing(read_history(single_dir))
    assert [(r["kind"], r["step"]) for r in member] == [(r["kind"], r["step"]) for r in single]
    for a, b in zip(member, single):
        assert sorted(a) == sorted(b)
        for key in a:
            if isinstance(b[key], str):
                assert a[key] == b[key]
            else:
                np.testing.assert_allclose(
                    a[key], b[key], rtol=rtol, atol=1e-12, err_msg=f"{key} {a['step']}"
                )
    ca, cb = load_checkpoint(member_dir), load_checkpoint(single_dir)
    assert ca["step"] == cb["step"]
    for part in ("params", "disc_params"):
        for name, value in cb["trainer"][part].items():
            np.testing.assert_allclose(ca["trainer"][part][name], value, rtol=rtol, atol=1e-12, err_msg=name)
    for part in ("adam", "disc_adam"):
        assert ca["trainer"][part]["t"] == cb["trainer"][part]["t"]
        for name, value in cb["trainer"][part]["v"].items():
            np.testing.assert_allclose(ca["trainer"][part]["v"][name], value, rtol=1e-7, atol=1e-15)
    assert np.array_equal(ca["trainer"]["rng"], cb["trainer"]["rng"])  # same draws consumed
    assert np.array_equal(ca["trainer"]["order"], cb["trainer"]["order"])


def test_each_member_matches_a_separate_run_of_its_seed(tmp_path):
    seeds = (0, 1, 2)
    outs = seed_run_dirs(tmp_path / "ens", TINY, seeds)
    summaries = train_seeds(TINY, seeds, outs, progress=False)
    assert [s["status"] for s in summaries] == ["finished"] * 3
    for seed, out in zip(seeds, outs):
        single = tmp_path / f"single{seed}"
        train(dataclasses.replace(TINY, seed=seed), single, progress=False)
        assert_same_run(out, single)
        saved = json.loads((out / "config.json").read_text())
        assert saved["train"]["seed"] == seed and saved["dataset"]["subset"]["seed"] == seed
        assert json.loads((out / "summary.json").read_text())["status"] == "finished"
    # Different seeds really are different runs.
    first, second = (read_history(o)[0]["loss"] for o in outs[:2])
    assert first != second


def test_members_killed_at_different_steps_are_brought_level_on_resume(tmp_path):
    """Seed 0 checkpointed at step 10, seed 1 only at 5 (a kill between the two writes).

    Seed 0's directory is also taken to step 10 by the single-run loop: a member's
    directory is an ordinary run directory.
    """
    seeds = (0, 1)
    outs = seed_run_dirs(tmp_path / "ens", TINY, seeds)
    train_seeds(dataclasses.replace(TINY, steps=5), seeds, outs, progress=False)
    train(dataclasses.replace(TINY, seed=0), outs[0], resume=True, progress=False)
    assert [load_checkpoint(o)["step"] for o in outs] == [10, 5]
    longer = dataclasses.replace(TINY, steps=15)
    train_seeds(longer, seeds, outs, resume=True, progress=False)
    for seed, out in zip(seeds, outs):
        single = tmp_path / f"single{seed}"
        train(dataclasses.replace(longer, seed=seed), single, progress=False)
        assert_same_run(out, single)


def test_a_nan_in_one_member_leaves_the_others_untouched():
    configs = [dataclasses.replace(TINY, seed=s) for s in (0, 1)]
    from minirtc.training.ensemble import member_data

    images = [im for _, im in member_data(configs)]
    ensemble = BatchedTrainer(make_members(configs, images, 1))
    single = make_trainer(configs[0], images[0], 1)
    with torch.no_grad():
        next(iter(ensemble.train_state.params.values()))[1].fill_(float("nan"))  # member 1's first weight
    for _ in range(3):
        ensemble.step()
        single.step()
    with pytest.raises(NonFiniteLoss):
        ensemble.member_metrics(1)
    got, want = ensemble.member_metrics(0), single.pop_metrics()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-10)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (torch sees none)")


@pytest.mark.parametrize(
    "arch, batch_networks, device, dtype, rtol",
    [
        ("conv", True, "cpu", "float64", 1e-9),
        ("conv", False, "cpu", "float64", 1e-9),
        pytest.param("mlp", True, "cuda", "float32", 1e-4, marks=[CUDA, pytest.mark.cuda]),
        pytest.param("conv", True, "cuda", "float32", 1e-4, marks=[CUDA, pytest.mark.cuda]),
    ],
    ids=["conv-vmapped-cpu", "conv-looped-cpu", "mlp-cuda", "conv-cuda"],
)
def test_members_match_single_trainers(arch, batch_networks, device, dtype, rtol):
    """Terms after 3 steps and the weights (conv: grouped vs looped convolutions; CUDA, TF32 off)."""
    # TF32 off for the CUDA cases.  Plain save/restore, not monkeypatch: cuBLAS's flag is a
    # computed attribute, which pytest >= 9.2's monkeypatch tries to delete on undo.
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        _check_members_match_single_trainers(arch, batch_networks, device, dtype, rtol)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _check_members_match_single_trainers(arch, batch_networks, device, dtype, rtol):
    from minirtc.training.ensemble import member_data

    tiny = dataclasses.replace(TINY, arch=arch, subset=16, batch_size=4, device=device, dtype=dtype)
    configs = [dataclasses.replace(tiny, seed=s) for s in (0, 1)]
    images = [im for _, im in member_data(configs)]
    members = make_members(configs, images, 1)
    ensemble = BatchedTrainer(members, batch_networks=batch_networks)
    singles = [make_trainer(c, im, 1) for c, im in zip(configs, images)]
    for _ in range(3):
        ensemble.step()
        for single in singles:
            single.step()
    for k, single in enumerate(singles):
        got, want = ensemble.member_metrics(k), single.pop_metrics()
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=rtol, atol=rtol * 1e-3, err_msg=name)
        ensemble.export(k)
        for name, a in members[k].train_state.params.items():
            torch.testing.assert_close(a, single.train_state.params[name], rtol=rtol, atol=rtol * 1e-3)


def test_refuses_members_that_differ_in_more_than_the_seed():
    configs = [TINY, dataclasses.replace(TINY, seed=1, lr=1e-3)]
    from minirtc.training.ensemble import member_data

    images = [im for _, im in member_data(configs)]
    with pytest.raises(ValueError, match="lr"):
        BatchedTrainer(make_members(configs, images, 1))


def test_same_data_is_shared_on_the_device():
    configs = [dataclasses.replace(TINY, subset=0, dataset="gaussian", arch="mlp", seed=s) for s in (0, 1)]
    from minirtc.training.ensemble import member_data

    images = [im for _, im in member_data(configs)]
    assert images[0] is images[1]  # the full dataset is loaded once
    members = make_members(configs, images, 1)
    assert members[0].images.data_ptr() == members[1].images.data_ptr()


def test_numpy_backend_runs_the_members_one_after_another(tmp_path):
    config = dataclasses.replace(TINY, backend="numpy", device="auto", steps=10)
    outs = seed_run_dirs(str(tmp_path / "run-{seed}"), config, (5, 6))
    assert outs == [tmp_path / "run-5", tmp_path / "run-6"]
    train_seeds(config, (5, 6), outs, progress=False)
    train(dataclasses.replace(config, seed=6), tmp_path / "single", progress=False)
    assert _without_timing(read_history(outs[1])) == _without_timing(read_history(tmp_path / "single"))


def test_refuses_a_directory_holding_a_run_before_writing_anything(tmp_path):
    outs = seed_run_dirs(tmp_path, TINY, (0, 1))
    short = dataclasses.replace(TINY, steps=5, log_every=5, checkpoint_every=5, eval_every=5)
    train_seeds(short, (1,), outs[1:], progress=False)
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        train_seeds(TINY, (0, 1), outs, progress=False)
    assert not outs[0].exists()


def test_cli_seeds(tmp_path):
    from minirtc.cli import main

    args = [
        "train", "--backend", "torch", "--device", "cpu", "--model", "vae", "--subset", "64",
        "--hidden", "8", "--latent-dim", "2", "--batch-size", "16", "--steps", "5", "--log-every", "5",
        "--eval-every", "5", "--checkpoint-every", "5", "--eval-size", "32", "--quiet",
    ]  # fmt: skip
    runner = CliRunner()
    done = runner.invoke(main, [*args, "--seeds", "0-1", "--out", str(tmp_path / "ens")])
    assert done.exit_code == 0, done.output
    assert "seed 0:" in done.output and "seed 1:" in done.output
    for seed in (0, 1):
        assert (
            json.loads((tmp_path / "ens" / f"seed{seed}" / "config.json").read_text())["train"]["seed"]
            == seed
        )
    both = runner.invoke(main, [*args, "--seeds", "0-1", "--seed", "3"])
    assert both.exit_code != 0 and "exclude each other" in both.output
    bad = runner.invoke(main, [*args, "--seeds", "2-1"])
    assert bad.exit_code != 0 and "backwards" in bad.output
    numpy_compile = runner.invoke(
        main, [*args[:2], "numpy", *args[3:], "--compile", "--out", str(tmp_path / "n")]
    )
    assert numpy_compile.exit_code != 0 and "--compile needs --backend torch" in numpy_compile.output


def test_a_cpu_ensemble_asks_the_allocator_to_keep_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(torch_backend, "keep_freed_heap", lambda: calls.append(1) or True)
    torch_backend.Engine()  # one run: left to the allocator's defaults
    assert calls == []
    torch_backend.Engine(members=3)  # K members on CPU: their gradient buffers are reused
    assert calls == [1]


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_heap_sets_glibcs_thresholds():
    assert torch_backend.keep_freed_heap() is True
