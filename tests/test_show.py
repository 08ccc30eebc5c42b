"""`minirtc show` on a real run, live loggers read back, the progress helper's log lines."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from minirtc.cli import main
from minirtc.progress import Progress
from minirtc.training import TrainConfig, train
from minirtc.training.loggers import RunLoggers, open_loggers, parse_log_option
from minirtc.training.records import read_history

TINY = dict(
    dataset="dsprites-procedural",
    subset=512,
    hidden=(32,),
    latent_dim=3,
    batch_size=32,
    lr=3e-3,
    steps=60,
    log_every=10,
    eval_every=30,
    eval_size=100,
    checkpoint_every=30,
    seed=3,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("show") / "run"
    train(TrainConfig(**TINY), out, progress=False)
    return out


def test_show_writes_every_figure(tiny_run, tmp_path):
    from PIL import Image

    result = CliRunner().invoke(
        main,
        [
            "show",
            str(tiny_run),
            "--out",
            str(tmp_path),
            "--num-frames",
            "5",
            "--num-points",
            "300",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = [f"traversal_z{d}.gif" for d in (1, 2, 3)] + [
        "kl.png",
        "mutual_information.png",
        "reconstructions.png",
        "training_curves.png",
        "traversals.png",
        "traversals_all.gif",
    ]
    assert names == sorted(expected)
    for name in ("traversal_z1.gif", "traversals_all.gif"):
        gif = Image.open(tmp_path / name)
        assert gif.n_frames == 2 * 5 - 2
        assert (tmp_path / name).stat().st_size < 3_000_000
    assert result.output.count("wrote ") == len(expected)


def test_show_quantile_range_and_bad_input(tiny_run, tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        main, ["show", str(tiny_run), "--out", str(tmp_path), "--range", "quantiles", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(main, ["show", str(empty)])
    assert result.exit_code != 0
    assert "not a minirtc run directory" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("backend", ["numpy", pytest.param("torch", marks=pytest.mark.torch)])
def test_tensorboard_events_hold_the_logged_values(tmp_path, backend):
    pytest.importorskip("tensorboard")
    if backend == "torch":
        pytest.importorskip("torch")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    loggers = open_loggers(("tensorboard",), out)
    train(TrainConfig(**TINY, backend=backend), out, progress=False, on_row=loggers)
    loggers.close()
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    rows = read_history(out)
    train_rows = [r for r in rows if r["kind"] == "train"]
    eval_rows = [r for r in rows if r["kind"] == "eval"]
    logged = events.Scalars("train/loss")
    assert [e.step for e in logged] == [r["step"] for r in train_rows]
    assert [e.value for e in logged] == pytest.approx([r["loss"] for r in train_rows], rel=1e-6)
    tc = events.Scalars("eval/tc_mean")
    assert [e.value for e in tc] == pytest.approx([r["tc_mean"] for r in eval_rows], rel=1e-6)
    for tag in ("eval/reconstructions", "eval/traversals"):
        images = events.Images(tag)
        assert [i.step for i in images] == [r["step"] for r in eval_rows]
        assert images[0].width > 64 and images[0].encoded_image_string.startswith(b"\x89PNG")


def test_tbparse_reads_the_same_scalars(tmp_path):
    tbparse = pytest.importorskip("tbparse")
    out = tmp_path / "run"
    loggers = open_loggers(("tensorboard",), out)
    train(TrainConfig(**{**TINY, "steps": 20}), out, progress=False, on_row=loggers)
    loggers.close()
    frame = tbparse.SummaryReader(str(out / "tensorboard")).scalars
    loss = frame[frame.tag == "train/loss"]
    rows = [r for r in read_history(out) if r["kind"] == "train"]
    assert loss.value.tolist() == pytest.approx([r["loss"] for r in rows], rel=1e-6)


def test_mlflow_logs_metrics_and_images(tmp_path, monkeypatch):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from mlflow.tracking import MlflowClient

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps local file stores behind this
    out = tmp_path / "my-run"
    loggers = open_loggers(("mlflow",), out)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a logger failure would warn: fail instead
        train(TrainConfig(**TINY), out, progress=False, on_row=loggers)
    loggers.close()
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("minirtc").experiment_id])
    assert run.info.run_name == "my-run" and run.info.status == "FINISHED"
    rows = [r for r in read_history(out) if r["kind"] == "train"]
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
        [r["loss"] for r in rows]
    )


def test_a_failing_logger_warns_once_and_training_goes_on(tmp_path):
    class Broken:
        name = "broken"
        calls = 0

        def scalars(self, step, values):
            Broken.calls += 1
            raise OSError("disk full")

        def images(self, step, images):
            raise AssertionError("a dropped logger gets nothing more")

        def close(self):
            pass

    loggers = RunLoggers({"broken": Broken})
    with pytest.warns(RuntimeWarning, match="broken logging stopped .*disk full") as caught:
        summary = train(TrainConfig(**TINY), tmp_path / "run", progress=False, on_row=loggers)
    assert summary["status"] == "finished" and Broken.calls == 1
    assert len([w for w in caught if "broken" in str(w.message)]) == 1


def test_log_option_parsing_and_the_missing_extra_message(monkeypatch, tmp_path):
    assert parse_log_option(("tensorboard,mlflow", "tensorboard")) == ("tensorboard", "mlflow")
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    result = CliRunner().invoke(
        main, ["train", "--log", "mlflow", "--steps", "5", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == ['Error: --log mlflow needs the mlflow package: pip install "minirtc[mlflow]"']
    assert not (tmp_path / "r").exists()
    result = CliRunner().invoke(
        main, ["train", "--log", "wandb", "--steps", "5", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code != 0 and "unknown logger wandb" in result.output


def test_progress_in_a_log_is_a_few_plain_lines():
    stream = io.StringIO()  # not a terminal
    with Progress(100, "train", unit="step", stream=stream) as bar:
        for _ in range(100):
            bar.update(1)
            bar.set_postfix(loss=1.5)
    text = stream.getvalue()
    lines = text.splitlines()
    assert "\r" not in text
    assert len(lines) == 9 + 1  # each tenth short of the end, the final line
    assert lines[0].startswith("train: 10/100") and "ETA" in lines[0] and "step/s" in lines[0]
    assert "loss=1.5" in lines[1]
    assert lines[-1].startswith("train: done in") and "100/100" in lines[-1]
    staged = io.StringIO()
    with Progress(3, "show", unit="figure", stream=staged) as bar:
        for name in ("a", "b", "c"):
            bar.stage(f"figure {name}")
            bar.update(1)
    lines = staged.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "show: figure a",
        "show: figure b",
        "show: figure c",
        "show: done in 0:00",
    ]
    quiet = io.StringIO()
    with Progress(10, "x", stream=quiet, enabled=False) as bar:
        bar.update(10)
        bar.stage("nothing")
    assert quiet.getvalue() == ""


def test_show_numbers_do_not_depend_on_anything_but_the_seed(tiny_run):
    from minirtc.experiments.show import ShowSettings, encode_sample
    from minirtc.training.restore import load_run

    run = load_run(tiny_run)
    a = encode_sample(run, ShowSettings(num_points=100, seed=5))
    b = encode_sample(run, ShowSettings(num_points=100, seed=5))
    assert np.array_equal(a.index, b.index) and np.array_equal(a.mu, b.mu)


def test_a_sweep_logs_each_run_under_its_own_name(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    from minirtc.experiments.sweep import make_spec, run_sweep

    train_settings = dict(hidden=(16,), latent_dim=3, batch_size=32, steps=20, log_every=10, eval_every=10)
    spec = make_spec(
        "laptop",
        "gaussian",
        models=("rtc-vae",),
        betas=(2.0,),
        seeds=(0, 1),
        evaluate=False,
        train_overrides={**train_settings, "subset": None, "checkpoint_every": 20, "eval_size": 100},
    )
    run_sweep(tmp_path, spec, echo=lambda line: None, log=("tensorboard",))
    runs = EventMultiplexer().AddRunsFromDirectory(str(tmp_path))
    runs.Reload()
    names = sorted(runs.Runs())
    assert names == sorted(f"{run.name}/tensorboard" for run in spec.runs())
    for name in names:
        rows = [r for r in read_history(tmp_path / name.split("/")[0]) if r["kind"] == "train"]
        assert [e.value for e in runs.Scalars(name, "train/loss")] == pytest.approx([r["loss"] for r in rows])


def test_progress_on_a_terminal_is_a_tqdm_bar_with_rate_and_eta():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    with Progress(4, "show", unit="figure", stream=stream) as bar:
        bar.stage("GIF of z1")
        for _ in range(4):
            bar.update(1)
    text = stream.getvalue()
    assert bar.interactive and "\r" in text
    assert "show: GIF of z1" in text and "4/4" in text and "figure/s" in text and "<" in text  # elapsed<ETA
