"""The benchmark suite: one JSON and a printed table of how fast minirtc is here.

    python benchmarks/run.py [--device cpu|cuda] [--quick] [--out FILE.json]
                             [--sections train,overhead,ensemble,decompose,metrics,data]
                             [--threads N] [--compile]

Sections (overhead in step_overhead.py, ensemble in ensemble_speed.py):
  train      training steps/s and images/s per backend, arch, model and batch size
             (benchmarks/train_throughput.py's timing; --compile adds compiled torch cases);
  overhead   the torch training step (`Trainer.step`) against its bare forward and backward
             passes: the same `train_step` on fixed inputs with no optimiser update (and the
             networks alone, and Adam alone): the step/bare ratio and the fraction of the
             step that is neither (draws, bookkeeping);
  ensemble   K seeds as one batched computation (`BatchedTrainer`) against the same K
             trainers stepped one after another, timed in alternation so that other load
             on the machine hits both alike; the speed-up is separate / ensemble;
  decompose  `minirtc.decompose` time and peak memory against M, with and without
             chunking (runs benchmarks/decompose_memory.py, CPU);
  metrics    the metric suite's time (runs benchmarks/metrics_speed.py when present);
  data       procedural rendering time (runs benchmarks/data_render.py when present).

The machine is recorded (CPU model, cores, GPU, torch version and threads, load average
before and after: on a shared machine wall times are inflated, ratios measured in
alternation much less).  `--quick` takes a few minutes on 2 cores.  On CUDA every
torch case also records peak GPU memory (torch.cuda.max_memory_allocated).  Nothing
here is asserted anywhere: this is how we measure.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling benchmark scripts

import train_throughput  # noqa: E402
from ensemble_speed import ensemble_section  # noqa: E402
from measuring import fake_images, machine, peak_mb, reset_peak, sizes  # noqa: E402
from step_overhead import overhead_section  # noqa: E402

import minirtc  # noqa: E402
from minirtc.training.config import TrainConfig  # noqa: E402

SECTIONS = ("train", "overhead", "ensemble", "decompose", "metrics", "data")


# ---------------------------------------------------------------------------
# train: steps/s and images/s
# ---------------------------------------------------------------------------


def train_cases(device: str, quick: bool, compile: bool):
    """(config, compile) per case: numpy MLP, torch MLP and conv, a few models and batch sizes."""
    models = ["vae", "rtc-vae", "factor-vae"] if quick else list(minirtc.MODELS)
    batches = [64] if quick else [64, 256]
    for backend, arch in (("numpy", "mlp"), ("torch", "mlp"), ("torch", "conv")):
        for model in models:
            for batch_size in batches:
                base = TrainConfig(
                    model=model,
                    backend=backend,
                    arch=arch,
                    batch_size=batch_size,
                    device=device if backend == "torch" else "auto",
                )
                yield base, False
                if compile and backend == "torch" and model == "rtc-vae":
                    yield base, True
                if device == "cuda" and backend == "torch" and model == "rtc-vae":
                    yield dataclasses.replace(base, bf16=True), False


def train_section(device: str, quick: bool, compile: bool) -> list[dict[str, Any]]:
    images = fake_images()
    rows = []
    for config, compiled in train_cases(device, quick, compile):
        steps, warmup = sizes(config.arch, device, quick, cpu_conv=(3, 1), fast=(10, 2), full=(50, 5))
        reset_peak(device)
        result = train_throughput.measure(config, images, steps, warmup, compile=compiled)
        row = {
            "backend": config.backend,
            "arch": config.arch,
            "model": config.model,
            "batch_size": config.batch_size,
            "compile": compiled,
            "bf16": config.bf16,
            "steps": steps,
            **result,
            "peak_gpu_mb": peak_mb(device) if config.backend == "torch" else None,
        }
        rows.append(row)
        print(
            f"  {row['backend']:6} {row['arch']:5} {row['model']:11} M={row['batch_size']:<4} "
            f"{_variant(row):13} {row['steps_per_s']:9.2f} steps/s "
            f"{row['images_per_s']:9.0f} img/s",
            flush=True,
        )
    return rows


# ---------------------------------------------------------------------------
# The other engineers' benchmarks, run as they are
# ---------------------------------------------------------------------------


def run_script(name: str, args: list[str], json_arg: str | None) -> dict[str, Any]:
    """Run benchmarks/<name> with `args` (+ its JSON output path); its results, or why not."""
    script = HERE / name
    if not script.exists():
        return {"skipped": f"benchmarks/{name} is not there (yet)"}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        output = [str(out)] if json_arg is None else [json_arg, str(out)]  # None: a positional first
        command = [sys.executable, str(script), *(output + args if json_arg is None else args + output)]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        record: dict[str, Any] = {"command": " ".join(command[1:]), "wall_s": time.perf_counter() - start}
        if done.returncode != 0 or not out.exists():
            return {**record, "error": (done.stderr or done.stdout)[-2000:]}
        print("\n".join("  " + line for line in done.stdout.strip().splitlines()), flush=True)
        return {**record, "results": json.loads(out.read_text())}


def decompose_section(quick: bool) -> dict[str, Any]:
    sizes = ["256", "1024", "4096", "8192"] if quick else ["256", "512", "1024", "2048", "4096", "8192"]
    args = ["--sizes", *sizes, "--backends", *(["torch"] if quick else ["numpy", "torch"])]
    args += ["--max-gb", "4"] if quick else ["--grad"]
    return run_script("decompose_memory.py", args, json_arg=None)


def metrics_section(quick: bool) -> dict[str, Any]:
    return run_script("metrics_speed.py", ["--quick"] if quick else [], json_arg="--out")


def data_section(quick: bool) -> dict[str, Any]:
    return run_script("data_render.py", ["--quick"] if quick else [], json_arg="--out")


# ---------------------------------------------------------------------------
# Headline and main
# ---------------------------------------------------------------------------


def headline(results: dict[str, Any]) -> list[str]:
    """The numbers the issue asks for, one line each, and its targets."""
    lines = [
        "targets: rtc-vae conv M=64 >= 500 steps/s on one H100; "
        "on CPU a step within 1.5x of its bare forward+backward (step/bare <= 1.5)"
    ]
    for row in results.get("train", []):
        if row["backend"] == "torch" and row["model"] == "rtc-vae" and row["batch_size"] == 64:
            lines.append(
                f"single run   rtc-vae {row['arch']:4} M=64 {_variant(row):13}: "
                f"{row['steps_per_s']:8.2f} steps/s" + _peak(row.get("peak_gpu_mb"))
            )
    for row in results.get("ensemble", []):
        lines.append(
            f"ensemble     rtc-vae {row['arch']:4} M=64 K={row['K']} "
            f"{'vmapped' if row['batch_networks'] else 'looped':7} networks: "
            f"{row['ensemble_steps_per_s']:8.2f} steps/s ({row['member_steps_per_s_ensemble']:.2f} "
            f"member-steps/s), {row['speedup']:.2f}x over K separate" + _peak(row.get("peak_gpu_mb_ensemble"))
        )
    for row in results.get("overhead", []):
        lines.append(
            f"overhead     rtc-vae {row['arch']:4} M=64 {'compiled' if row['compile'] else 'eager':8}: "
            f"step/bare {row['step_over_bare']:.2f}, overhead fraction {100 * row['overhead_fraction']:.1f}%"
        )
    return lines


def _variant(row: dict[str, Any]) -> str:
    parts = ["compiled" if row["compile"] else "eager"] + (["bf16"] if row.get("bf16") else [])
    return "+".join(parts)


def _peak(mb: float | None) -> str:
    return "" if mb is None else f", peak GPU memory {mb:.0f} MB"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--quick", action="store_true", help="fewer cases and steps (a few minutes on 2 cores)"
    )
    parser.add_argument("--out", default=None, help="JSON path [default: benchmarks/results-<device>.json]")
    parser.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [default: torch's]")
    parser.add_argument(
        "--compile", action="store_true", help="also time torch.compile'd cases (slow to compile)"
    )
    args = parser.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    results: dict[str, Any] = {
        "machine": machine(args.device),
        "quick": args.quick,
        "sections": args.sections,
    }
    print(f"machine: {json.dumps(results['machine'])}", flush=True)
    runners = {
        "train": lambda: train_section(args.device, args.quick, args.compile),
        "overhead": lambda: overhead_section(args.device, args.quick, args.compile),
        "ensemble": lambda: ensemble_section(args.device, args.quick),
        "decompose": lambda: decompose_section(args.quick),
        "metrics": lambda: metrics_section(args.quick),
        "data": lambda: data_section(args.quick),
    }
    timings = {}
    for section in args.sections:
        print(f"== {section}", flush=True)
        start = time.perf_counter()
        results[section] = runners[section]()
        timings[section] = time.perf_counter() - start
        if isinstance(results[section], dict) and "results" not in results[section]:
            print(f"  {results[section]}", flush=True)
    results["machine"]["load_average_end"] = list(os.getloadavg())
    results["section_wall_s"] = timings
    out = Path(args.out or HERE / f"results-{args.device}.json")
    write_json(out, results)
    print("== headline")
    print("\n".join(headline(results)))
    load = results["machine"]
    print(f"load average start {load['load_average_start']}, end {load['load_average_end']}")
    print(f"wrote {out}")
    return results


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Atomically: temp file in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(payload, out, indent=2, default=str)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


if __name__ == "__main__":
    main()
