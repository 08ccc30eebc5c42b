"""benchmarks/run.py's ensemble section: K seeds as one batched computation against K trainers.

The two are timed in alternation, so that other load on the machine hits both alike;
the speed-up is separate / ensemble.
"""

from __future__ import annotations

import statistics
from typing import Any

import train_throughput
from measuring import fake_images, peak_mb, reset_peak, sizes, synchroniser, torch_config

from minirtc.training.batched import BatchedTrainer, make_members
from minirtc.training.trainer import make_trainer


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
