"""Every script in benchmarks/ runs against today's code, at its smallest size.

Nothing else imports these scripts, so an API change in the library can break one
silently (batch_scaling.py once called a removed `make_trainer`).  Each runs here in
a subprocess from the repository root, with tiny batches, a few steps, one thread and
its output in a temporary folder, and must exit 0 and write what it says it writes.
No timing is asserted: only that the numbers are there.  benchmarks/gpu_check.sh is
tested in tests/test_sweep_cost.py.  Left out, as each takes 20 s to minutes even at
its smallest: run.py's train, ensemble, decompose, metrics and data sections (the
last three run the scripts tested here on their own) and its --compile,
metrics_speed.py's DCI, and data_render.py's --write (the whole dSprites as .npz)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Callable

import pytest

from minirtc.experiments.sweep import read_throughput
from minirtc.training import train
from minirtc.training.config import TrainConfig

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
TIMEOUT_S = 300  # for a hung script, not a speed check
# One thread each: on a busy 2-core machine, threads waiting for a core make a step many times slower.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
HAS_TORCH = find_spec("torch") is not None


@dataclass(frozen=True)
class Case:
    """One script: its tiny command line, given a fresh folder, and the checks of what it wrote."""

    script: str
    args: str  # split at spaces, then {tmp} is the folder
    check: Callable[[Path, str], None]  # (the folder, its stdout)
    needs_torch: bool = False
    prepare: Callable[[Path], None] | None = None  # what the script reads, put in the folder


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def check_batch_scaling(tmp: Path, stdout: str) -> None:
    report = read_json(tmp / "out.json")
    assert set(report["agreement"]) == {
        "M",
        "D",
        "N",
        "A_vs_B_float64",
        "B_float32_vs_float64",
        "A_float32_vs_float64",
    }
    rows = [(r["backend"], r["model"], r["batch"]) for r in report["rows"]]
    assert rows == [("torch", "beta-tcvae", 8), ("numpy", "beta-tcvae", 8)]
    for row in report["rows"]:
        assert set(row["images_per_s"]) == set(row["seconds"]) == {"A_whole", "B_sliced"}
        assert all(len(s) == 1 for s in row["seconds"].values())  # --rounds 1


def check_classroom_threads(tmp: Path, stdout: str) -> None:
    report = read_json(tmp / "out.json")
    assert report["steps"] == 2
    assert {k: len(v) for k, v in report["seconds"].items()} == {"1": 1, "2": 1, "default": 1}
    assert set(report["load"]) == {"1", "2", "default"}


def check_data_render(tmp: Path, stdout: str) -> None:
    results = read_json(tmp / "out.json")
    for key in (
        "dsprites_random_64_s",
        "dsprites_subset_50000_all_s",
        "shapes3d_all_geometries_s",
        "shapes3d_subset_10000_all_s",
        "gaussian_all_4096_s",
    ):
        assert isinstance(results[key], float), key
    assert not any(key.startswith("dsprites_all_737280") for key in results)  # --quick: no whole render
    printed = {line.split()[0] for line in stdout.splitlines() if line.strip()}
    assert printed == set(results)  # one printed line per result


DECOMPOSE_BACKENDS = ["numpy", "torch"] if HAS_TORCH else ["numpy"]


def check_decompose_memory(tmp: Path, stdout: str) -> None:
    results = read_json(tmp / "out.json")["results"]
    cases = {(r["backend"], r["chunk_size"], r["grad"]) for r in results}
    assert cases == {(b, c, g) for b in DECOMPOSE_BACKENDS for c in (None, 8) for g in (False, True)}
    assert not [r for r in results if "error" in r or "skipped" in r], results
    first = results[0]["tc"]  # the same inputs in every case: chunking and backend change no value
    assert all(r["tc"] == pytest.approx(first, rel=1e-9) for r in results)


def check_metrics_speed(tmp: Path, stdout: str) -> None:
    report = read_json(tmp / "out.json")
    assert report["sizes"] == {"num_train": 1000, "num_eval": 500}  # --quick
    assert set(report["scores"]) == {"mig", "sap"}
    assert 0.0 <= report["scores"]["mig"]["mig"] <= 1.0
    assert set(report["timings"]) == {"mig_core_10000x10_s", "mig_s", "sap_s"}
    assert stdout.splitlines()[-1].startswith("total_s")


def finished_run(tmp: Path) -> None:
    """A finished 2-step run in {tmp}/run, for paper_throughput.py to read."""
    train(TrainConfig(steps=2, subset=256, batch_size=16), tmp / "run", progress=False)


def check_paper_throughput(tmp: Path, stdout: str) -> None:
    record = read_throughput(tmp / "out.json")  # the sweep's own reader accepts it
    assert [(r["settings"]["model"], r["steps"]) for r in record["runs"]] == [("rtc-vae", 2)]
    assert record["machine"]["device"] == "cpu"


def check_train_throughput(tmp: Path, stdout: str) -> None:
    rows = read_json(tmp / "out.json")["results"]
    models = ["vae", "rtc-vae", "factor-vae"]  # --quick
    expected = [(b, a, m) for b, a in (("numpy", "mlp"), ("torch", "mlp"), ("torch", "conv")) for m in models]
    assert [(r["backend"], r["arch"], r["model"]) for r in rows] == expected
    assert all({"steps_per_s", "images_per_s"} <= set(r) for r in rows)
    table = [line.split()[:3] for line in stdout.splitlines()[1:-1]]  # header, a row per case, "wrote"
    assert [tuple(row) for row in table] == expected


def check_lecture_seeds(tmp: Path, stdout: str) -> None:
    rows = [json.loads(line) for line in (tmp / "rows.jsonl").read_text().splitlines()]
    assert [(r["seed"], r["steps"]) for r in rows] == [(0, 2), (1, 2), (2, 2)]
    assert all(0.0 <= r["mig"] <= 1.0 and r["final_loss"] > 0 for r in rows)
    summary = json.loads(stdout.strip().splitlines()[-1])["pick_by_loss"]
    assert summary["groups"] == 1 and summary["size"] == 3  # the three seeds, once
    lowest = min(rows, key=lambda r: r["final_loss"])
    assert summary["lowest_loss_reaches"] == float(lowest["mig"] >= 0.5)
    assert summary["best_mig_reaches"] == float(max(r["mig"] for r in rows) >= 0.5)


def check_time_to_mig(tmp: Path, stdout: str) -> None:
    rows = [json.loads(line) for line in (tmp / "rows.jsonl").read_text().splitlines()]
    assert [r["steps"] for r in rows] == [1, 2]  # one row per evaluation, every step
    assert [r["step"] for r in rows] == [1, 2]  # scored on the checkpoint of that step
    for row in rows:
        assert 0.0 <= row["mig"] <= 1.0
        assert len(row["kl_per_latent"]) == 10
    assert set(rows[-1]["minutes_to_mig"]) == {"0.1", "0.2"}


SEARCH_ROWS = BENCHMARKS / "results" / "cpu_profile_search.jsonl"


def check_search_table(tmp: Path, stdout: str) -> None:
    lines = stdout.strip().splitlines()
    rows = [line for line in SEARCH_ROWS.read_text().splitlines() if line.strip()]
    assert len(lines) == 2 + len(rows)  # header, rule, a line per evaluation row
    assert all(line.count(" | ") == 9 for line in lines[2:])  # ten cells each


def check_run(tmp: Path, stdout: str) -> None:
    results = read_json(tmp / "out.json")
    assert results["sections"] == ["overhead"] and results["quick"]
    rows = results["overhead"]
    assert [(r["arch"], r["compile"]) for r in rows] == [("mlp", False), ("conv", False)]
    for row in rows:
        assert {"step_ms", "bare_ms", "networks_ms", "adam_ms", "step_over_bare"} <= set(row)
    assert "== headline" in stdout


CASES = [
    Case(
        "batch_scaling.py",
        "--threads 1 --batches 8 --backends torch,numpy --models beta-tcvae --rounds 1 "
        "--images-per-round 8 --log-every 2 --out {tmp}/out.json",
        check_batch_scaling,
        needs_torch=True,
    ),
    Case("classroom_threads.py", "--steps 2 --rounds 1 --out {tmp}/out.json", check_classroom_threads),
    Case("data_render.py", "--quick --out {tmp}/out.json", check_data_render),  # about 15 s, its least
    Case(
        "decompose_memory.py",
        "{tmp}/out.json --sizes 16 --chunk 8 --grad --backends " + " ".join(DECOMPOSE_BACKENDS),
        check_decompose_memory,
    ),
    Case(
        "metrics_speed.py", "--quick --metrics mig,sap --n-jobs 0 --out {tmp}/out.json", check_metrics_speed
    ),
    Case(
        "paper_throughput.py",
        "{tmp}/run --out {tmp}/out.json",
        check_paper_throughput,
        prepare=finished_run,
    ),
    Case("train_throughput.py", "--quick --out {tmp}/out.json", check_train_throughput, needs_torch=True),
    Case(
        "time_to_mig.py",
        "--set subset=256 --set batch_size=16 --eval-every 1 --max-steps 2 --out {tmp}/run "
        "--rows {tmp}/rows.jsonl",
        check_time_to_mig,
    ),
    Case(
        "lecture_seeds.py",
        "--seeds 0-2 --steps 2 --group-size 3 --out {tmp}/runs --rows {tmp}/rows.jsonl",
        check_lecture_seeds,
    ),
    Case("search_table.py", "benchmarks/results/cpu_profile_search.jsonl", check_search_table),
    Case(
        "run.py",
        "--quick --threads 1 --sections overhead --out {tmp}/out.json",
        check_run,
        needs_torch=True,
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.script for case in CASES])
def test_benchmark_script_runs_at_its_smallest_size(case: Case, tmp_path: Path) -> None:
    if case.needs_torch:
        pytest.importorskip("torch")
    if case.prepare is not None:
        case.prepare(tmp_path)
    args = [arg.format(tmp=tmp_path) for arg in case.args.split()]
    command = [sys.executable, str(BENCHMARKS / case.script), *args]
    done = subprocess.run(
        command,
        cwd=REPO,
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    case.check(tmp_path, done.stdout)
