"""Training throughput (images/s) for each backend, architecture and model at batch 64.

    python benchmarks/train_throughput.py [--device cpu|cuda] [--quick] [--out FILE.json]

Random binary 64x64 images stand in for dSprites (the cost does not depend on the
pixels).  Timings exclude a short warm-up.  Nothing here is asserted anywhere:
this is how we measure.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

import minirtc
from minirtc.training.config import TrainConfig
from minirtc.training.trainer import make_trainer


def measure(config: TrainConfig, images: np.ndarray, steps: int, warmup: int, compile: bool = False) -> dict:
    trainer = make_trainer(config, images, 1)
    if compile:
        trainer.compile()
    seconds = time_steps(trainer, steps, warmup, _synchroniser(config))
    images_per_step = config.batch_size * (2 if trainer.objective.tc_estimator == "discriminator" else 1)
    return {"steps_per_s": steps / seconds, "images_per_s": images_per_step * steps / seconds}


def time_steps(trainer, steps: int, warmup: int, sync) -> float:
    """Seconds for `steps` steps after `warmup` untimed ones, with the terms' one host transfer."""
    for _ in range(warmup):
        trainer.step()
    trainer.pop_metrics()
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        trainer.step()
    trainer.pop_metrics()  # includes the one host transfer per log row
    sync()
    return time.perf_counter() - start


def _synchroniser(config: TrainConfig):
    if config.backend == "torch":
        import torch

        if torch.cuda.is_available() and config.device != "cpu":
            return torch.cuda.synchronize
    return lambda: None


def cases(quick: bool, device: str):
    models = ["vae", "rtc-vae", "factor-vae"] if quick else list(minirtc.MODELS)
    for backend in ("numpy", "torch"):
        for arch in ("mlp", "conv"):
            if backend == "numpy" and arch == "conv":
                continue
            for model in models:
                yield TrainConfig(
                    model=model,
                    backend=backend,
                    arch=arch,
                    batch_size=64,
                    device=device if backend == "torch" else "auto",
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--quick", action="store_true", help="fewer models and steps")
    parser.add_argument("--out", default="benchmarks/train_throughput.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = (rng.random((2048, 64, 64, 1)) < 0.1).astype(np.uint8)
    steps, warmup = (10, 2) if args.quick else (50, 5)
    results = []
    print(f"{'backend':8} {'arch':5} {'model':12} {'steps/s':>9} {'images/s':>10}")
    for config in cases(args.quick, args.device):
        n = max(3, steps // 5) if config.arch == "conv" and args.device == "cpu" else steps
        row = {
            "backend": config.backend,
            "arch": config.arch,
            "model": config.model,
            **measure(config, images, n, warmup),
        }
        results.append(row)
        print(
            f"{row['backend']:8} {row['arch']:5} {row['model']:12} {row['steps_per_s']:9.1f} "
            f"{row['images_per_s']:10.0f}"
        )
    machine = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()}
    try:
        import torch

        machine.update(
            torch=torch.__version__,
            threads=torch.get_num_threads(),
            gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        )
    except ImportError:
        pass
    with open(args.out, "w") as f:
        json.dump({"machine": machine, "batch_size": 64, "results": results}, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
