"""Safe run directories: checkpoints that cannot run code, verified on read, kept in pairs;
one writer per directory; resume that keeps or refuses; conversion between backends."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import minirtc
from minirtc import data
from minirtc.cli import main
from minirtc.training import TrainConfig, convert, lock, records, train
from minirtc.training import checkpoint as checkpoints
from minirtc.training.restore import load_run
from minirtc.training.trainer import make_trainer

TINY = TrainConfig(
    dataset="gaussian",
    subset=None,
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=1,
    batch_size=32,
    steps=30,
    lr=3e-3,
    log_every=10,
    eval_every=10,
    checkpoint_every=10,
    eval_size=64,
    seed=3,
)
FLAGS = [
    "--dataset", "gaussian", "--subset", "0", "--hidden", "16", "--latent-dim", "3", "--batch-size", "32",
    "--log-every", "10", "--eval-every", "10", "--checkpoint-every", "10", "--eval-size", "64", "--seed", "3",
]  # fmt: skip


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished NumPy run of TINY (copy it before changing it)."""
    path = tmp_path_factory.mktemp("safety") / "run"
    train(TINY, path, progress=False)
    return path


def copy(run, tmp_path, name="copy"):
    return shutil.copytree(run, tmp_path / name)


def snapshot(run):
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def strip_timing(rows):
    return [{k: v for k, v in r.items() if k not in ("images_per_s", "wall_s")} for r in rows]


# -- the format -----------------------------------------------------------------------------------


def test_flatten_round_trip_keeps_arrays_and_plain_values():
    state = {
        "params": {"encoder": {"W0": np.arange(6.0).reshape(2, 3), "b0": np.zeros(3, np.float32)}},
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**127 + 5, "inc": 3}},
        "groups": [{"lr": 0.1, "betas": [0.9, 0.99], "fused": None}],
        "empty": {},
        "step": 7,
        "scalar": np.array(2.5, np.float32),
    }
    arrays, plain = checkpoints.flatten(state)
    assert set(arrays) == {"params/encoder/W0", "params/encoder/b0", "scalar"}
    back = checkpoints.unflatten(arrays, json.loads(json.dumps(plain)))
    assert back["rng"] == state["rng"] and back["groups"] == state["groups"] and back["step"] == 7
    assert back["empty"] == {} and back["scalar"].shape == () and back["scalar"].dtype == np.float32
    np.testing.assert_array_equal(back["params"]["encoder"]["W0"], state["params"]["encoder"]["W0"])
    with pytest.raises(TypeError, match="not an array or plain data"):
        checkpoints.flatten({"x": object()})


def test_two_checkpoints_kept_as_safetensors_and_json_and_config_says_who_wrote_it(finished):
    names = sorted(p.name for p in finished.iterdir())
    assert [n for n in names if n.startswith("checkpoint")] == [
        "checkpoint-000000020.json",
        "checkpoint-000000020.safetensors",
        "checkpoint-000000030.json",
        "checkpoint-000000030.safetensors",
    ]
    assert "run.lock" not in names
    record = json.loads((finished / "config.json").read_text())
    assert record["minirtc_version"] == minirtc.__version__
    assert record["checkpoint_format"] == checkpoints.FORMAT
    assert checkpoints.load_latest(finished)["step"] == 30


def test_no_pickle_and_no_unsafe_load_in_the_product():
    """The only unpickling is the explicit, warned conversion command."""
    import pathlib

    root = pathlib.Path(minirtc.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        if path.name == "convert.py" and path.parent.name == "training":
            # the one pickle reader: an Unpickler whose find_class admits only NumPy's array globals
            assert "class ArraysOnlyUnpickler(pickle.Unpickler)" in text and "def find_class" in text
            assert text.count("Unpickler(") == 2 and "ArraysOnlyUnpickler(io.BytesIO(" in text
        assert "pickle.load" not in text, path
        assert "allow_pickle=True" not in text, path
        assert "weights_only=False" not in text, path


@pytest.mark.parametrize("damage", ["arrays-bytes", "arrays-truncated", "record-edited", "record-garbage"])
def test_damaged_newest_checkpoint_is_named_and_resume_falls_back(finished, tmp_path, damage):
    run = copy(finished, tmp_path)
    record_path, arrays_path = checkpoints.paths(run, 30)
    if damage == "arrays-bytes":
        blob = bytearray(arrays_path.read_bytes())
        blob[-3] ^= 0xFF
        arrays_path.write_bytes(bytes(blob))
    elif damage == "arrays-truncated":
        arrays_path.write_bytes(arrays_path.read_bytes()[:100])
    elif damage == "record-edited":
        record = json.loads(record_path.read_text())
        record["state"]["cursor"] += 32
        record_path.write_text(json.dumps(record))
    else:
        record_path.write_bytes(os.urandom(300))
    with pytest.raises(checkpoints.CheckpointError, match=str(record_path)):
        load_run(run)  # evaluate never silently scores an older model
    done = cli("train", "--out", str(run), "--resume", "--steps", "40", "--quiet")
    assert done.exit_code == 0, done.output
    assert "using the previous checkpoint, step 20" in done.output
    reference = train(dataclasses.replace(TINY, steps=40), tmp_path / "ref", progress=False)
    assert strip_timing(records.read_history(run)) == strip_timing(records.read_history(tmp_path / "ref"))
    assert reference["status"] == "finished"


def test_both_checkpoints_damaged_is_refused_in_one_line(finished, tmp_path):
    run = copy(finished, tmp_path)
    for step in (20, 30):
        checkpoints.paths(run, step)[1].write_bytes(b"\0" * 64)
    before = snapshot(run)
    done = cli("train", "--out", str(run), "--resume", "--steps", "40")
    assert done.exit_code == 1 and "damaged" in done.output and "--overwrite" in done.output
    assert len(done.output.strip().splitlines()) == 1 and snapshot(run) == before


def test_checkpoint_shapes_are_checked_against_the_config(finished, tmp_path):
    run = copy(finished, tmp_path)
    record = json.loads((run / "config.json").read_text())
    record["train"]["hidden"] = [8]
    (run / "config.json").write_text(json.dumps(record))
    with pytest.raises(checkpoints.CheckpointError, match=r"does not fit config.json: params/encoder/W0"):
        load_run(run)
    done = cli("evaluate", str(run), "--metrics", "unsupervised", "--quiet")
    assert done.exit_code == 1 and "does not fit config.json" in done.output


def test_a_newer_format_is_refused(finished, tmp_path):
    run = copy(finished, tmp_path)
    record = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**record, "checkpoint_format": checkpoints.FORMAT + 1}))
    done = cli("evaluate", str(run), "--quiet")
    assert done.exit_code == 1 and "upgrade minirtc" in done.output
    run = copy(finished, tmp_path, "newer-checkpoint")
    record_path = checkpoints.paths(run, 30)[0]
    saved = json.loads(record_path.read_text())
    record_path.write_text(json.dumps({**saved, "format": checkpoints.FORMAT + 1}))
    with pytest.raises(checkpoints.NewerFormat, match="upgrade minirtc"):
        checkpoints.load_latest(run)


# -- old pickle checkpoints: never read, converted on request -----------------------------------


class Payload:
    """What a stealthy planted checkpoint carries: unpickling it writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def old_pickle_run(finished, tmp_path, marker, planted=True):
    """A run directory of minirtc 0.1: the real state pickled (plus, when planted, a key that runs code)."""
    run = copy(finished, tmp_path, "old" if planted else "old-clean")
    latest = checkpoints.load_latest(run)
    payload = {"format": 1, "step": latest["step"], "trainer": latest["trainer"]}
    if planted:
        payload["note"] = Payload(marker)
    (run / "checkpoint.pkl").write_bytes(pickle.dumps(payload))
    for path in run.glob("checkpoint-*"):
        path.unlink()
    (run / "summary.json").unlink()
    return run


def test_a_planted_pickle_runs_no_code_anywhere(finished, tmp_path):
    from minirtc.experiments import sweep

    marker = tmp_path / "marker"
    run = old_pickle_run(finished, tmp_path, marker)
    before = snapshot(run)
    for args in (
        ["train", "--out", str(run), "--resume", "--steps", "40"],
        ["evaluate", str(run), "--metrics", "unsupervised", "--quiet"],
    ):
        done = cli(*args)
        assert done.exit_code == 1, done.output
        assert f"minirtc convert-pickle {run}" in done.output and "Traceback" not in done.output
        assert len(done.output.strip().splitlines()) == 1
    with pytest.raises(checkpoints.PickleCheckpoint, match="convert-pickle"):
        load_run(run)  # what `minirtc plot` and the reports use to reopen a model
    error = sweep.train_run(TINY, run)  # a sweep resuming this run
    assert "convert-pickle" in error
    assert not marker.exists()
    assert {k: v for k, v in snapshot(run).items() if k != "summary.json"} == before


def test_convert_pickle_refuses_a_planted_payload_without_running_it(finished, tmp_path):
    marker = tmp_path / "marker"
    run = old_pickle_run(finished, tmp_path, marker)
    declined = CliRunner().invoke(main, ["convert-pickle", str(run)], input="n\n")
    assert declined.exit_code == 1 and "a pickle can carry code" in declined.output and not marker.exists()
    done = cli("convert-pickle", str(run), "--trust")
    assert done.exit_code == 1 and "builtins.exec" in done.output and "Traceback" not in done.output
    assert not marker.exists()  # refused before `exec` was even looked up
    assert (run / "checkpoint.pkl").exists() and not (run / "checkpoint.pkl.converted").exists()


def test_convert_pickle_warns_then_the_run_reads_and_resumes(finished, tmp_path):
    run = old_pickle_run(finished, tmp_path, tmp_path / "marker", planted=False)
    declined = CliRunner().invoke(main, ["convert-pickle", str(run)], input="n\n")
    assert declined.exit_code == 1 and "a pickle can carry code" in declined.output
    done = cli("convert-pickle", str(run), "--trust")
    assert done.exit_code == 0, done.output
    assert (run / "checkpoint.pkl.converted").exists() and not (run / "checkpoint.pkl").exists()
    reopened, original = load_run(run), load_run(finished)
    images = original.dataset.images(np.arange(50))
    np.testing.assert_array_equal(reopened.encode(images)[0], original.encode(images)[0])
    assert cli("train", "--out", str(run), "--resume", "--steps", "40", "--quiet").exit_code == 0


@pytest.mark.torch
def test_convert_pickle_of_a_torch_run(tmp_path):
    pytest.importorskip("torch")
    config = dataclasses.replace(TINY, backend="torch", device="cpu", steps=10)
    run = tmp_path / "torch-run"
    train(config, run, progress=False)
    latest = checkpoints.load_latest(run)
    old = {"format": 1, "step": latest["step"], "trainer": latest["trainer"]}  # a pickle of the same state
    (run / "checkpoint.pkl").write_bytes(pickle.dumps(old))
    for path in run.glob("checkpoint-*"):
        path.unlink()
    assert cli("convert-pickle", str(run), "--trust").exit_code == 0
    converted = checkpoints.load_latest(run)["trainer"]
    assert checkpoints.leaves(converted) == checkpoints.leaves(latest["trainer"])
    done = cli("train", "--out", str(run), "--resume", "--steps", "20", "--quiet")
    assert done.exit_code == 0, done.output


# -- between backends ------------------------------------------------------------------------------


def _trainer(backend, config):
    dataset = data.load(config.dataset)
    images = dataset.images(np.arange(len(dataset)))
    return make_trainer(dataclasses.replace(config, backend=backend), images, dataset.pixel_max)


@pytest.mark.torch
@pytest.mark.parametrize("model", ["rtc-vae", "factor-vae"])
def test_convert_between_backends_keeps_the_model_and_adam(tmp_path, model):
    pytest.importorskip("torch")
    config = dataclasses.replace(TINY, model=model, dtype="float64", device="cpu")
    numpy_trainer = _trainer("numpy", config)
    for _ in range(3):
        numpy_trainer.step()
    numpy_state = numpy_trainer.state()
    torch_trainer = _trainer("torch", config)
    torch_trainer.load_state(convert.numpy_to_torch(numpy_state, torch_trainer.state()))
    images = data.load("gaussian").images(np.arange(40))
    np.testing.assert_allclose(
        torch_trainer.encode_images(images)[0], numpy_trainer.encode_images(images)[0], atol=1e-12
    )
    assert torch_trainer.state()["adam"]["t"] == 3
    # and back: the same numbers, the same Adam moments
    back = convert.torch_to_numpy(torch_trainer.state(), _trainer("numpy", config).state())
    for key in ("params", "adam") + (("disc_params", "disc_adam") if model == "factor-vae" else ()):
        a, b = checkpoints.flatten({"x": back[key]})[0], checkpoints.flatten({"x": numpy_state[key]})[0]
        assert a.keys() == b.keys()
        for name in a:
            np.testing.assert_allclose(a[name], b[name], atol=1e-12, err_msg=name)
    assert back["adam"]["t"] == 3
    torch_trainer.step()  # and the converted model trains on
    numpy_again = _trainer("numpy", config)
    numpy_again.load_state(back)
    numpy_again.step()


# -- one writer per run directory -------------------------------------------------------------------


def test_a_second_writer_is_refused_and_a_dead_owner_is_taken_over(finished, tmp_path):
    run = copy(finished, tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from minirtc.training.lock import run_lock\n"
         f"with run_lock({str(run)!r}):\n    print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(run)
        for args in (
            ["train", "--out", str(run), "--resume", "--steps", "40"],
            ["train", "--out", str(run), "--overwrite", *FLAGS],
            ["evaluate", str(run), "--quiet"],
        ):
            done = cli(*args)
            assert done.exit_code == 1 and f"in use by process {holder.pid}" in done.output, done.output
        assert snapshot(run) == before
        assert lock.is_locked(run)
    finally:
        holder.kill()
        holder.wait()
    assert (run / "run.lock").exists() and not lock.is_locked(run)  # left behind by a SIGKILL
    done = cli("train", "--out", str(run), "--resume", "--steps", "40", "--quiet")
    assert done.exit_code == 0, done.output
    assert f"process {holder.pid}" in done.output and "taken over" in done.output
    assert not (run / "run.lock").exists()


def test_lock_is_reentrant_in_one_process(tmp_path):
    with lock.run_lock(tmp_path / "r"):
        with lock.run_lock(tmp_path / "r"):
            assert (tmp_path / "r" / "run.lock").exists()
    assert not (tmp_path / "r" / "run.lock").exists()


# -- resume keeps or refuses, never discards -------------------------------------------------------


def test_resume_without_a_run_is_refused(tmp_path):
    for out in (tmp_path / "typo", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        done = cli("train", "--out", str(out), "--resume")
        assert done.exit_code == 1 and "nothing to resume" in done.output
        assert not (out / "config.json").exists()


def test_missing_config_or_checkpoints_is_refused_not_restarted(finished, tmp_path):
    run = copy(finished, tmp_path)
    (run / "config.json").unlink()
    before = snapshot(run)
    done = cli("train", "--out", str(run), "--resume", *FLAGS)
    assert done.exit_code == 1 and "no config.json" in done.output and snapshot(run) == before
    run = copy(finished, tmp_path, "no-checkpoint")
    for path in run.glob("checkpoint-*"):
        path.unlink()
    before = snapshot(run)
    done = cli("train", "--out", str(run), "--resume", "--steps", "40")
    assert done.exit_code == 1 and "checkpoint files were removed" in done.output and snapshot(run) == before


def test_a_run_stopped_before_its_first_checkpoint_starts_again_with_a_note(tmp_path):
    run = tmp_path / "run"
    train(dataclasses.replace(TINY, steps=10, checkpoint_every=10), run, progress=False)
    for path in [*run.glob("checkpoint-*"), run / "summary.json"]:
        path.unlink()
    records.atomic_write_bytes(run / "history.jsonl", b"")
    done = cli("train", "--out", str(run), "--resume", "--quiet")
    assert done.exit_code == 0, done.output
    assert "starting it from step 0" in done.output


def test_a_damaged_history_row_is_reported_and_a_torn_last_line_repaired(finished, tmp_path):
    run = copy(finished, tmp_path)
    lines = (run / "history.jsonl").read_text().splitlines(keepends=True)
    (run / "history.jsonl").write_text("".join(lines[:2]) + '{"kind": "tra\n' + "".join(lines[3:]))
    before = snapshot(run)
    done = cli("train", "--out", str(run), "--resume", "--steps", "40")
    assert done.exit_code == 1 and "history.jsonl line 3 is damaged" in done.output
    assert snapshot(run) == before
    run = copy(finished, tmp_path, "torn")
    torn = b"".join(line.encode() for line in lines) + b'{"kind": "train", "st'
    (run / "history.jsonl").write_bytes(torn)
    done = cli("train", "--out", str(run), "--resume", "--steps", "40", "--quiet")
    assert done.exit_code == 0, done.output
    assert "dropped the torn last line" in done.output
    reference = train(dataclasses.replace(TINY, steps=40), tmp_path / "ref", progress=False)
    assert reference["status"] == "finished"
    assert strip_timing(records.read_history(run)) == strip_timing(records.read_history(tmp_path / "ref"))


def test_overwrite_empties_the_old_run_first(finished, tmp_path):
    run = copy(finished, tmp_path)
    (run / "metrics.json").write_text("{}")
    (run / "figures").mkdir()
    (run / "figures" / "traversal.png").write_bytes(b"png")
    done = cli("train", "--out", str(run), "--overwrite", *FLAGS, "--steps", "10", "--quiet")
    assert done.exit_code == 0, done.output
    assert not (run / "metrics.json").exists() and not (run / "figures").exists()
    assert not (run / "checkpoint-000000030.json").exists()
    assert checkpoints.load_latest(run)["step"] == 10
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "config.json").write_text('{"editor": "vim"}')
    done = cli("train", "--out", str(stranger), "--overwrite", *FLAGS, "--steps", "10")
    assert done.exit_code == 1 and "not a minirtc run record" in done.output
    assert (stranger / "config.json").read_text() == '{"editor": "vim"}'


def test_a_resume_that_fails_leaves_no_finished_summary(finished, tmp_path, monkeypatch):
    run = copy(finished, tmp_path)
    real = records.atomic_write_bytes

    def full_after_the_first_checkpoint(path, data):
        if "checkpoint-000000040" in str(path):
            raise OSError(28, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(records, "atomic_write_bytes", full_after_the_first_checkpoint)
    monkeypatch.setattr(checkpoints, "atomic_write_bytes", full_after_the_first_checkpoint)
    done = cli("train", "--out", str(run), "--resume", "--steps", "50")
    assert done.exit_code == 1 and "No space left on device" in done.output and "--resume" in done.output
    assert not (run / "summary.json").exists()  # not "finished" any more
    assert checkpoints.load_latest(run)["step"] == 30


def test_final_loss_is_the_mean_of_the_last_training_rows(tmp_path):
    with pytest.raises(records.HistoryError, match="no training rows"):
        records.final_loss(tmp_path)
    for step, loss in [(50, 9.0), (100, 7.0), (150, 5.0), (200, 4.0)]:
        records.append_history(tmp_path, {"kind": "train", "step": step, "loss": loss})
        records.append_history(tmp_path, {"kind": "eval", "step": step, "loss": 100.0})  # not training
    assert records.final_loss(tmp_path) == pytest.approx((7.0 + 5.0 + 4.0) / 3)
    assert records.final_loss(tmp_path, intervals=1) == 4.0
    assert records.final_loss(tmp_path, intervals=10) == pytest.approx(25.0 / 4)
