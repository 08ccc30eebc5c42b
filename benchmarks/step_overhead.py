"""benchmarks/run.py's overhead section: the torch training step against its bare passes.

`Trainer.step` is timed against the same `train_step` on fixed inputs with no optimiser
update (and the networks alone, and Adam alone), in alternation, so that load on the
machine hits every part alike.
"""

from __future__ import annotations

import functools
import statistics
import time
from typing import Any, Callable

import numpy as np
from measuring import fake_images, sizes, synchroniser, torch_config

from minirtc.training.config import TrainConfig
from minirtc.training.step import train_step, vae_loss
from minirtc.training.trainer import make_trainer


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
