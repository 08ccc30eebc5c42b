"""Images/s against batch size, with the minibatch estimators' mixture built whole (A) or sliced (B).

    python benchmarks/batch_scaling.py [--threads 2] [--batches 256,1024,2048] [--out FILE.json]

A is the estimators' earlier formulation, kept here only as the baseline: the
(M, M, D) tensor L[i, j, k] = log N(z_ik; mu_jk, sigma_jk^2) built by
broadcasting and differentiated by the framework.  B is the library's
`ops.log_mixture`, which walks L a cache-sized slice at a time and rebuilds each
slice in its hand-written backward pass.  Both run in ONE process, interleaved
round by round on the same trainer, so a busy machine slows both alike; the
machine's load average is recorded with every number.  MLP trainers on random
binary 64x64 images (the cost does not depend on the pixels).  Rounds are whole
logging intervals (`--log-every`, the training default), since models that do not
train on the decomposition compute it only on the step that writes a history row.

The same file checks that B changes no value: A and B on one batch of latents
(values and gradients, float64), and float32 against float64 for B.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from typing import Any

import numpy as np

import minirtc
from minirtc import estimators, objectives
from minirtc.densities import log_normal
from minirtc.estimators import MixtureLogDensity, _assemble, _over_chunks, log_weight_rows
from minirtc.ops import ops_for
from minirtc.training.config import TrainConfig
from minirtc.training.trainer import make_trainer

MODELS = ("vae", "beta-tcvae", "rtc-vae")


def decompose_whole(z, mu, logvar, dataset_size, method="mss1", chunk_size=None):
    """A: the minibatch decomposition with L (M, M, D) built by broadcasting (the earlier code)."""
    M, D = z.shape
    ops = ops_for(z)

    def mixture_rows(start: int, stop: int) -> MixtureLogDensity:
        L = log_normal(z[start:stop, None, :], mu[None, :, :], logvar[None, :, :])  # (c, M, D)
        logW_rows = ops.asarray(log_weight_rows(method, M, dataset_size, start, stop), like=z)  # (c, M)
        log_qz = ops.logsumexp(logW_rows + ops.sum(L, axis=2), axis=1)  # (c,)
        return MixtureLogDensity(log_qz, ops.logsumexp(logW_rows[:, :, None] + L, axis=1))  # (c, D)

    log_qz, log_qz_marginals = _over_chunks(mixture_rows, M, chunk_size, ops)
    log_q_zx = ops.sum(log_normal(z, mu, logvar), axis=1)  # (M,)
    return _assemble(log_q_zx, log_qz, log_qz_marginals, z)


IMPLEMENTATIONS = {"A_whole": decompose_whole, "B_sliced": estimators.decompose}


def use(implementation: str) -> None:
    """Point the objective at one implementation of the minibatch decomposition."""
    objectives.decompose = IMPLEMENTATIONS[implementation]


def load() -> float:
    return round(os.getloadavg()[0], 2)


def time_round(trainer, steps: int) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) for `steps` steps, with the terms' one host transfer."""
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        trainer.step()
    trainer.pop_metrics()
    return time.perf_counter() - start, time.process_time() - cpu


def measure(
    backend: str,
    model: str,
    batch: int,
    images: np.ndarray,
    rounds: int,
    images_per_round: int,
    log_every: int,
    hidden: tuple[int, ...],
    names: tuple[str, ...] = tuple(IMPLEMENTATIONS),
) -> dict:
    """Images/s of the named implementations on one trainer, rounds interleaved A, B, A, B, ..."""
    config = TrainConfig(
        backend=backend,
        model=model,
        batch_size=batch,
        subset=None,
        device="cpu",
        log_every=log_every,
        hidden=hidden,
    ).checked()
    trainer = make_trainer(config, images, 1)
    per_step = batch * (2 if trainer.objective.tc_estimator == "discriminator" else 1)
    # whole logging intervals: each round holds its share of the steps that compute the logged-only terms
    steps = log_every * max(1, round(images_per_round / per_step / log_every))
    seconds: dict[str, list[float]] = {name: [] for name in names}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in names}
    loads = []
    for name in names:  # warm-up, untimed: one whole logging interval each
        use(name)
        time_round(trainer, log_every)
    for _ in range(rounds):
        for name in names:
            use(name)
            loads.append(load())
            wall, cpu = time_round(trainer, steps)
            seconds[name].append(wall)
            cpu_seconds[name].append(cpu)
    use("B_sliced")
    return {
        "backend": backend,
        "model": model,
        "batch": batch,
        "steps_per_round": steps,
        "log_every": log_every,
        "hidden": list(hidden),
        "images_per_s": {n: per_step * steps / float(np.median(s)) for n, s in seconds.items()},
        "images_per_cpu_s": {n: per_step * steps / float(np.median(s)) for n, s in cpu_seconds.items()},
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "load": loads,
    }


def agreement(M: int = 1024, D: int = 10, N: int = 737_280, seed: int = 0) -> dict[str, Any]:
    """Largest differences A vs B (float64) and B float32 vs B float64, values and gradients."""
    import torch

    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(M, D))
    logvar = rng.uniform(-7.0, 0.0, size=(M, D))  # posteriors from sharp to prior-wide
    z = mu + np.exp(0.5 * logvar) * rng.normal(size=(M, D))

    def run(fn, dtype):
        t = [torch.tensor(a, dtype=dtype, requires_grad=True) for a in (z, mu, logvar)]
        parts = fn(*t, N, method="mss1")
        total = parts.tc + 0.3 * parts.mi + 0.7 * parts.dim_kl  # MI + TC + dimKL alone would telescope
        grads = torch.autograd.grad(total, t)
        values = {"tc": parts.tc, "mi": parts.mi, "dim_kl": parts.dim_kl, "log_qz": parts.log_qz}
        values["log_qz_marginals"] = parts.log_qz_marginals
        return {k: v.detach().double().numpy() for k, v in values.items()}, [
            g.double().numpy() for g in grads
        ]

    def largest(a, b):
        values = {k: float(np.max(np.abs(a[0][k] - b[0][k]))) for k in a[0]}
        grads = {n: float(np.max(np.abs(ga - gb))) for n, ga, gb in zip(("z", "mu", "logvar"), a[1], b[1])}
        scale = {n: float(np.max(np.abs(g))) for n, g in zip(("z", "mu", "logvar"), b[1])}
        return {"values": values, "gradients": grads, "gradient_scale": scale}

    whole64, sliced64 = run(decompose_whole, torch.float64), run(estimators.decompose, torch.float64)
    sliced32, whole32 = run(estimators.decompose, torch.float32), run(decompose_whole, torch.float32)
    return {
        "M": M,
        "D": D,
        "N": N,
        "A_vs_B_float64": largest(whole64, sliced64),
        "B_float32_vs_float64": largest(sliced32, sliced64),
        "A_float32_vs_float64": largest(whole32, whole64),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch and BLAS threads")
    parser.add_argument("--batches", default="256,1024,2048")
    parser.add_argument("--backends", default="torch,numpy")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--images-per-round", type=int, default=2048, help="rounded to whole --log-every")
    parser.add_argument(
        "--implementations", default=",".join(IMPLEMENTATIONS), help="A_whole and/or B_sliced (the library's)"
    )
    parser.add_argument(
        "--hidden", default=",".join(map(str, TrainConfig().hidden)), help="MLP hidden widths, e.g. 256,256"
    )
    parser.add_argument(
        "--log-every", type=int, default=TrainConfig().log_every, help="steps per history row, as in training"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    hidden = tuple(int(w) for w in args.hidden.split(","))
    images = (np.random.default_rng(0).random((2 * max(batches), 64, 64, 1)) < 0.1).astype(np.uint8)
    report: dict[str, Any] = {
        "command": "python benchmarks/batch_scaling.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v is not None),
        "threads": args.threads,
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "minirtc": minirtc.__version__,
        "torch": torch.__version__,
        "agreement": agreement(),
        "rows": [],
    }
    print(json.dumps(report["agreement"], indent=1), flush=True)
    for backend in args.backends.split(","):
        for model in args.models.split(","):
            for batch in batches:
                case = (backend, model, batch)
                sizes = (args.rounds, args.images_per_round, args.log_every, hidden)
                row = measure(*case, images, *sizes, tuple(args.implementations.split(",")))
                report["rows"].append(row)
                rates = {n: round(v) for n, v in row["images_per_s"].items()}
                cpu_rates = {n: round(v) for n, v in row["images_per_cpu_s"].items()}
                print(backend, model, batch, rates, "per cpu-s", cpu_rates, "load", row["load"], flush=True)
    if args.out:
        from minirtc.training.records import atomic_write_json

        atomic_write_json(args.out, report)


if __name__ == "__main__":
    main()
