"""What the benchmark numbers are measured on and with: the machine, fake images, configs.

Shared by benchmarks/run.py and its sections (step_overhead.py, ensemble_speed.py).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np

from minirtc.training.config import TrainConfig


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
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
