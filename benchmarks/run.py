"""The benchmark suite: one JSON and a printed table of how fast minirtc is here.

    python benchmarks/run.py [--device cpu|cuda] [--quick] [--out FILE.json]
                             [--sections train,overhead,ensemble,decompose,metrics,data]
                             [--threads N] [--compile]

Sections:
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
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling benchmark scripts

import train_throughput  # noqa: E402

import minirtc  # noqa: E402
from minirtc.training.batched import BatchedTrainer, make_members  # noqa: E402
from minirtc.training.config import TrainConfig  # noqa: E402
from minirtc.training.step import train_step, vae_loss  # noqa: E402
from minirtc.training.trainer import make_trainer  # noqa: E402

SECTIONS = ("train", "overhead", "ensemble", "decompose", "metrics", "data")


# ---------------------------------------------------------------------------
# The machine
# ---------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    record = {
        "cpu": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu": None,
        "load_average_start": list(os.getloadavg()),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        record.update(gpu=props.name, gpu_memory_gb=props.total_memory / 2**30, cuda=torch.version.cuda)
    return record


def synchroniser(device: str) -> Callable[[], None]:
    import torch

    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def reset_peak(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_mb(device: str) -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None


def fake_images(n: int = 2048, channels: int = 1) -> np.ndarray:
    """Random binary 64x64 images: the cost does not depend on the pixels."""
    return (np.random.default_rng(0).random((n, 64, 64, channels)) < 0.1).astype(np.uint8)


def sizes(arch: str, device: str, quick: bool, cpu_conv, fast, full):
    """(steps, repeats)-like counts: few for conv on CPU, `fast` for --quick on CPU, else `full`.

    On CUDA a step takes milliseconds, so even --quick uses the full counts.
    """
    if device == "cpu" and arch == "conv":
        return cpu_conv
    return fast if quick and device == "cpu" else full


def torch_config(device: str, arch: str, model: str = "rtc-vae", batch_size: int = 64, seed: int = 0):
    return TrainConfig(
        model=model, backend="torch", device=device, arch=arch, batch_size=batch_size, seed=seed
    )


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
# overhead: the step against its bare forward and backward passes
# ---------------------------------------------------------------------------


class KeepParams:
    """An optimiser that changes nothing: `train_step` with it is the step's passes alone."""

    def update(self, params, grads, state):
        return params, state


def bare_step(trainer, inputs) -> None:
    """The real `train_step` on fixed inputs without updates: its forward and backward passes only.

    The logged-only terms are computed where `Trainer.step` computes them (`TrainConfig.logs_at`).
    """
    keep = KeepParams()
    t = trainer
    args = (t.nets, t.engine, keep, keep, t.train_state, inputs, t.objective, t.dataset_size, t.step_count)
    train_step(*args, diagnostics=t.config.logs_at(t.step_count + 1))


def networks_pass(trainer, inputs) -> None:
    """The networks alone, forward and backward, with a plain sum as the loss."""
    nets, s = trainer.nets, trainer.train_state

    def total(params, disc_params, x):
        mu, logvar = nets.encode(params, x)
        out = nets.decode(params, mu).sum() + logvar.sum()
        if trainer.discriminator:
            out = out + nets.discriminate(disc_params, mu).sum()
        return out, None

    trainer.engine.value_and_grad(total)(s.params, s.disc_params, inputs.x)


def adam_steps(trainer, grads, disc_grads) -> None:
    """Both Adam updates with fixed gradients (on a trainer of their own)."""
    s = trainer.train_state
    s.params, s.opt = trainer.adam.update(s.params, grads, s.opt)
    if trainer.discriminator:
        s.disc_params, s.disc_opt = trainer.disc_adam.update(s.disc_params, disc_grads, s.disc_opt)


def fixed_gradients(trainer, inputs):
    """One step's gradients (small ones, so that hundreds of Adam steps stay finite)."""
    s, nets = trainer.train_state, trainer.nets
    loss = functools.partial(vae_loss, nets, trainer.objective, trainer.dataset_size, 0)
    grads = trainer.engine.value_and_grad(loss)(s.params, s.disc_params, inputs.x, inputs.eps)[1]
    disc_grads = {name: 1e-3 * p.detach().clone() for name, p in s.disc_params.items()}
    return {name: 1e-3 * g for name, g in grads.items()}, disc_grads


def overhead_case(
    config: TrainConfig, images: np.ndarray, n: int, repeats: int, compile: bool
) -> dict[str, Any]:
    """Median ms per step of: the step, its bare passes, the networks alone, Adam alone."""
    trainer = make_trainer(config, images, 1)
    # Adam is timed on a trainer of its own: hundreds of steps on one fixed gradient
    # would drive the timed trainer's weights away from where the step is timed.
    adam_only = make_trainer(config, images, 1)
    grads = fixed_gradients(adam_only, adam_only.draw())
    if compile:
        trainer.compile()
    inputs = trainer.draw()
    sync = synchroniser(config.device)
    parts: dict[str, Callable[[], None]] = {
        "step": trainer.step,
        "bare": lambda: bare_step(trainer, inputs),
        "networks": lambda: networks_pass(trainer, inputs),
        "adam": lambda: adam_steps(adam_only, *grads),
    }
    for fn in parts.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(repeats):  # in alternation: load on the machine hits every part alike
        for name, fn in parts.items():
            sync()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            sync()
            times[name].append((time.perf_counter() - start) / n * 1000)
        trainer.pop_metrics()
    ms = {f"{name}_ms": statistics.median(values) for name, values in times.items()}
    return {
        **ms,
        "step_over_bare": ms["step_ms"] / ms["bare_ms"],
        "overhead_fraction": max(0.0, 1 - (ms["bare_ms"] + ms["adam_ms"]) / ms["step_ms"]),
    }


def overhead_section(device: str, quick: bool, compile: bool) -> list[dict[str, Any]]:
    images = fake_images()
    rows = []
    for arch in ("mlp", "conv"):
        for compiled in (False, True) if compile else (False,):
            n, repeats = sizes(arch, device, quick, cpu_conv=(1, 3), fast=(5, 5), full=(20, 7))
            config = torch_config(device, arch)
            row = {"arch": arch, "model": config.model, "batch_size": config.batch_size, "compile": compiled}
            row.update(overhead_case(config, images, n, repeats, compiled))
            rows.append(row)
            print(
                f"  {arch:5} {'compiled' if compiled else 'eager':8} step {row['step_ms']:8.1f} ms  "
                f"bare fwd+bwd {row['bare_ms']:8.1f} ms  networks {row['networks_ms']:8.1f} ms  "
                f"adam {row['adam_ms']:6.1f} ms  step/bare {row['step_over_bare']:5.2f}  "
                f"overhead {100 * row['overhead_fraction']:4.1f}%",
                flush=True,
            )
    return rows


# ---------------------------------------------------------------------------
# ensemble: K seeds batched against K separate trainers
# ---------------------------------------------------------------------------


def ensemble_case(
    arch: str, K: int, device: str, steps: int, repeats: int, batch: bool | None = None
) -> dict:
    """`batch`: BatchedTrainer's batch_networks (None: its default for the arch and device)."""
    images = fake_images()
    configs = [torch_config(device, arch, seed=seed) for seed in range(K)]
    sync = synchroniser(device)
    reset_peak(device)
    ensemble = BatchedTrainer(make_members(configs, [images] * K, 1), batch_networks=batch)
    train_throughput.time_steps(ensemble, 1, 1, sync)
    ensemble_peak = peak_mb(device)
    singles = [make_trainer(c, images, 1) for c in configs]
    reset_peak(device)
    for single in singles:
        train_throughput.time_steps(single, 1, 1, sync)
    single_peak = peak_mb(device)
    batched, separate = [], []
    for _ in range(repeats):  # in alternation
        batched.append(train_throughput.time_steps(ensemble, steps, 0, sync))
        separate.append(sum(train_throughput.time_steps(s, steps, 0, sync) for s in singles))
    t_batched, t_separate = statistics.median(batched), statistics.median(separate)
    return {
        "arch": arch,
        "model": configs[0].model,
        "batch_size": configs[0].batch_size,
        "K": K,
        "batch_networks": ensemble.batch_networks,
        "steps": steps,
        "ensemble_steps_per_s": steps / t_batched,  # each step advances all K members
        "separate_steps_per_s": steps / t_separate,  # the K trainers one after another
        "member_steps_per_s_ensemble": K * steps / t_batched,
        "member_steps_per_s_separate": K * steps / t_separate,
        "speedup": t_separate / t_batched,
        "peak_gpu_mb_ensemble": ensemble_peak,
        "peak_gpu_mb_single_runs": single_peak,
    }


def ensemble_section(device: str, quick: bool) -> list[dict[str, Any]]:
    rows = []
    for arch in ("mlp", "conv"):
        slow = arch == "conv" and device == "cpu"
        steps, repeats = sizes(arch, device, quick, cpu_conv=(1, 2), fast=(5, 3), full=(20, 5))
        # On CPU, conv is also timed fully batched (grouped convolutions) to show why it is not the default.
        for batch in (None, True) if slow else (None,):
            for K in (3, 5):
                row = ensemble_case(arch, K, device, steps, repeats, batch)
                rows.append(row)
                print(
                    f"  {arch:5} K={K} {'vmapped' if row['batch_networks'] else 'looped'} networks  ensemble "
                    f"{row['member_steps_per_s_ensemble']:8.2f} member-steps/s  separate "
                    f"{row['member_steps_per_s_separate']:8.2f}  speed-up {row['speedup']:5.2f}x",
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
