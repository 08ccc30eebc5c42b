"""`minirtc train`: every bad input gets one clear line and a non-zero exit, and nothing is lost."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.training import TrainConfig, TrainingFailed, train
from minirtc.training.records import load_checkpoint, read_history
from minirtc.training.trainer import Trainer

FAST = [
    "--dataset",
    "dsprites-procedural",
    "--subset",
    "256",
    "--hidden",
    "16",
    "--latent-dim",
    "2",
    "--model",
    "vae",
    "--steps",
    "20",
    "--log-every",
    "10",
    "--eval-every",
    "10",
    "--eval-size",
    "64",
    "--checkpoint-every",
    "10",
    "--quiet",
]


def run(*args):
    return CliRunner().invoke(main, ["train", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--beta", "-1"], "--beta"),
        (["--eta", "-0.5"], "--eta"),
        (["--gamma", "-2"], "--gamma"),
        (["--latent-dim", "0"], "--latent-dim"),
        (["--model", "nope"], "rtc-vae"),  # the choices are listed
        (["--backend", "jax"], "numpy"),
        (["--dataset", "mnist"], "dsprites-procedural"),
        (["--subset", "100", "--batch-size", "200"], "batch_size"),
        (["--dataset", "gaussian", "--batch-size", "5000"], "larger than the dataset"),
        (["--arch", "conv"], "--backend torch"),
        (["--backend", "numpy", "--device", "cuda"], "need --backend torch"),
        (["--checkpoint-every", "15", "--log-every", "10"], "multiple of log_every"),
        (["--resume"], "--resume needs --out"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, args, message):
    result = run(*args, "--out", str(tmp_path / "run"), "--quiet") if "--resume" not in args else run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "run" / "config.json").exists()


def test_cuda_requested_without_cuda(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run(*FAST, "--backend", "torch", "--device", "cuda", "--out", str(tmp_path / "run"))
    assert result.exit_code != 0 and "no CUDA device" in result.output
    assert not (tmp_path / "run" / "config.json").exists()


def test_existing_run_is_refused_then_overwritten_or_resumed(tmp_path):
    out = str(tmp_path / "run")
    assert run(*FAST, "--out", out).exit_code == 0
    before = (tmp_path / "run" / "history.jsonl").read_text()
    refused = run(*FAST, "--out", out)
    assert refused.exit_code != 0 and "--resume" in refused.output and "--overwrite" in refused.output
    assert (tmp_path / "run" / "history.jsonl").read_text() == before  # nothing overwritten

    changed = run(*FAST, "--out", out, "--resume", "--lr", "0.01", "--seed", "3")
    assert changed.exit_code != 0 and "lr" in changed.output and "seed" in changed.output

    extended = run("--out", out, "--resume", "--steps", "30", "--quiet")
    assert extended.exit_code == 0, extended.output
    assert [r["step"] for r in read_history(tmp_path / "run") if r["kind"] == "train"] == [10, 20, 30]
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["train"]["steps"] == 30 and [r["step"] for r in record["resumes"]] == [20]

    again = run("--out", out, "--resume", "--steps", "30", "--quiet")  # already finished: nothing redone
    assert again.exit_code == 0 and "final ELBO" in again.output
    assert [r["step"] for r in read_history(tmp_path / "run") if r["kind"] == "train"] == [10, 20, 30]
    shorter = run("--out", out, "--resume", "--steps", "10", "--quiet")
    assert shorter.exit_code != 0 and "past --steps 10" in shorter.output

    assert run(*FAST, "--out", out, "--overwrite", "--seed", "1").exit_code == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["seed"] == 1


def test_success_prints_run_dir_elbo_and_tcs(tmp_path):
    result = run(*FAST, "--out", str(tmp_path / "run"))
    assert result.exit_code == 0
    assert f"run directory: {tmp_path / 'run'}" in result.output
    for word in ("final ELBO", "TC_mean", "TC_sample"):
        assert word in result.output


def test_flags_override_config_file(tmp_path):
    config_file = tmp_path / "c.json"
    config_file.write_text(json.dumps({"model": "beta-vae", "beta": 3.0, "steps": 7}))
    result = run("--config", str(config_file), "--steps", "9", "--dry-run")
    shown = json.loads(result.output)
    assert (shown["objective"]["model"], shown["objective"]["beta"], shown["steps"]) == ("beta-vae", 3.0, 9)
    config_file.write_text(json.dumps({"modle": "vae"}))
    bad = run("--config", str(config_file), "--dry-run")
    assert bad.exit_code != 0 and "modle" in bad.output


def test_nan_stops_names_step_and_term_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    original_step = Trainer.step

    def poisoned_step(self):
        original_step(self)
        if self.step_count == 25:  # after the checkpoint at step 20
            decoder = self.train_state.params["decoder"]
            decoder["b0"] = decoder["b0"] * np.nan

    monkeypatch.setattr(Trainer, "step", poisoned_step)
    config = TrainConfig(
        dataset="dsprites-procedural",
        subset=256,
        hidden=(16,),
        latent_dim=2,
        model="vae",
        steps=100,
        log_every=10,
        eval_every=10,
        eval_size=64,
        checkpoint_every=10,
    )
    with pytest.raises(TrainingFailed, match=r"at step 26.*last good checkpoint: step 20"):
        train(config, tmp_path / "run", progress=False)
    assert load_checkpoint(tmp_path / "run")["step"] == 20
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["failed_step"] == 26
    assert np.all(np.isfinite(load_checkpoint(tmp_path / "run")["trainer"]["params"]["decoder"]["b0"]))
