"""`minirtc evaluate RUN_DIR`: one metrics.json schema shared with the sweeps, the run's seed by default."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.experiments import sweep
from minirtc.training import TrainConfig, train

TINY = dict(
    dataset="gaussian",
    subset=None,
    hidden=(16,),
    latent_dim=3,
    disc_hidden=16,
    disc_layers=1,
    batch_size=32,
    steps=20,
    lr=3e-3,
    log_every=10,
    eval_every=20,
    checkpoint_every=20,
    eval_size=200,
    seed=7,
)
SMALL = ["--metrics", "mig,unsupervised", "--num-train", "200", "--num-eval", "100", "--quiet"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "run"
    train(TrainConfig(**TINY), path, progress=False)
    return path


def evaluate(*args: str):
    return CliRunner().invoke(main, ["evaluate", *args], catch_exceptions=False)


def test_writes_metrics_json_and_prints_every_score(run_dir):
    done = evaluate(str(run_dir), *SMALL)
    assert done.exit_code == 0, done.output
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "finished" and record["step"] == TINY["steps"]
    assert (record["seed"], record["num_train"], record["num_eval"]) == (TINY["seed"], 200, 100)
    assert set(record["scores"]) == set(record["metric_wall_s"]) == {"mig", "unsupervised"}
    assert record["wall_s"] >= sum(record["metric_wall_s"].values()) > 0
    assert record["dataset"]["name"] == "gaussian"
    for metric, scores in record["scores"].items():
        for name in scores:
            assert f"{metric}.{name}" in done.output


def test_same_numbers_as_the_sweep_and_the_seed_matters(run_dir):
    assert evaluate(str(run_dir), *SMALL).exit_code == 0
    by_cli = json.loads((run_dir / "metrics.json").read_text())["scores"]
    by_sweep = sweep.evaluate_run(
        run_dir, {"metrics": ["mig", "unsupervised"], "num_train": 200, "num_eval": 100}
    )
    assert by_sweep["status"] == "finished" and by_sweep["scores"] == by_cli
    assert evaluate(str(run_dir), *SMALL, "--seed", "8").exit_code == 0
    other = json.loads((run_dir / "metrics.json").read_text())
    assert other["seed"] == 8 and other["scores"]["mig"] != by_cli["mig"]


def test_a_sweep_records_a_failed_evaluation_instead_of_raising(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    record = sweep.evaluate_run(tmp_path, {"metrics": ["mig"]})
    assert record["status"] == "failed" and record["error"]
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "mig,nope"], "unknown metrics ['nope']"),
        (["--num-train", "1"], "--num-train"),
        (["--seed", "-1"], "--seed"),
    ],
)
def test_bad_options_are_one_line_errors(run_dir, args, message):
    done = CliRunner().invoke(main, ["evaluate", str(run_dir), *args])
    assert done.exit_code != 0 and message in done.output


def test_a_directory_that_is_not_a_run(tmp_path):
    done = CliRunner().invoke(main, ["evaluate", str(tmp_path), "--quiet"])
    assert done.exit_code != 0 and "Error:" in done.output and "config.json" in done.output
    assert not (tmp_path / "metrics.json").exists()
