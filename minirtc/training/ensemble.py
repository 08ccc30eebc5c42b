"""Many seeds at once: `train_seeds(config, seeds)` writes one ordinary run directory per seed.

torch: the members train in one process as one batched computation
(`minirtc.training.batched`): the one training step mapped over stacked
weights, one vmapped forward and backward for all of them, each with its own
data order, noise, optimiser state and discriminator.  Every member matches
the single run of its seed to float tolerance, and its directory (config.json with its seed, history.jsonl,
checkpoints, summary.json) is what `train(config, out)` would have written,
so `minirtc evaluate`, resume and the sweeps use it as a separate run.

numpy: the classroom backend has no batching; the members simply train one
after another with `train`.

Resume: each member resumes from its own checkpoint.  Members killed at
different steps (the K checkpoints of one step are written one after another)
are brought level first: the members furthest behind train alone, as a smaller
ensemble, until they reach the next member's step, and so on.  A member that
hits a NaN stops as a single run would (its last good checkpoint kept); the
others go on.  The `images_per_s` of a member's log row is that member's rate
inside the batched computation (the ensemble's total is K times it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from pathlib import Path
from typing import Any, Callable

from minirtc.errors import ConfigError, NonFiniteLoss
from minirtc.training import lock, records
from minirtc.training.batched import BatchedTrainer, EnsembleMember, make_members
from minirtc.training.checkpoint import note as checkpoint_note
from minirtc.training.config import TrainConfig
from minirtc.training.loop import (
    RunDirectoryError,
    RunRecorder,
    TrainingFailed,
    begin_run,
    end_run,
    load_dataset,
    load_training_data,
    make_eval_set,
    prepare_run_dir,
    train,
)


def seed_run_dirs(out: str | Path | None, config: TrainConfig, seeds: tuple[int, ...]) -> list[Path]:
    """The run directory of each seed.

    `out` with "{seed}" in it is formatted per seed; any other `out` is a parent
    holding seed<k>/; None gives each seed a single run's default directory.
    """
    if out is None:
        return [Path(f"runs/{config.model}-{config.dataset}-seed{seed}") for seed in seeds]
    out = str(out)
    if "{seed}" in out:
        return [Path(out.format(seed=seed)) for seed in seeds]
    return [Path(out) / f"seed{seed}" for seed in seeds]


def train_seeds(
    config: TrainConfig,
    seeds: tuple[int, ...],
    outs: list[str | Path],
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    compile: bool = False,
    on_row: Callable[[int, dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train `config` once per seed into `outs` (one directory each); the K summaries.

    A member that fails on a non-finite loss has status "failed" in its summary and
    does not stop the others; the caller decides what that means (the CLI exits non-zero).
    `on_row(seed, row)` sees every history row.  `compile`: torch only (see --compile).
    """
    if not seeds:
        raise ConfigError("seeds must name at least one seed")
    if len(outs) != len(seeds) or len({Path(o).resolve() for o in outs}) != len(outs):
        raise ConfigError(f"need {len(seeds)} distinct run directories, one per seed; got {list(outs)}")
    configs = [dataclasses.replace(config, seed=seed).checked() for seed in seeds]
    outs = [Path(o) for o in outs]
    if compile and config.backend != "torch":
        raise ConfigError("--compile needs --backend torch")
    with contextlib.ExitStack() as held:  # one writer per run directory (minirtc.training.lock)
        for out in outs:
            held.enter_context(lock.run_lock(out, note=checkpoint_note))
        checkpoints = [prepare_run_dir(o, c, resume, overwrite) for c, o in zip(configs, outs)]
        for out, c, checkpoint in zip(outs, configs, checkpoints):  # refuse before anything is written
            if checkpoint is not None and checkpoint["step"] > c.steps:
                raise RunDirectoryError(
                    f"{out} is already at step {checkpoint['step']}, past --steps {c.steps}"
                )
        if config.backend == "numpy":
            return [_train_one(c, o, progress, on_row) for c, o in zip(configs, outs)]
        return _train_batched(configs, outs, checkpoints, progress, compile, on_row)


def _train_one(config: TrainConfig, out: Path, progress: bool, on_row) -> dict[str, Any]:
    """One member with the ordinary loop (the NumPy backend's members run one after another)."""
    try:
        return train(config, out, resume=True, progress=progress, on_row=_member_rows(on_row, config.seed))
    except TrainingFailed:
        return json.loads((out / records.SUMMARY).read_text())


def member_data(configs: list[TrainConfig]) -> list[tuple[Any, Any]]:
    """(dataset, images) of each member; members with the same data share one images array."""
    loaded: dict[str, tuple[Any, Any]] = {}
    out = []
    for config in configs:
        key = json.dumps(load_dataset(config).describe(), sort_keys=True, default=str)
        if key not in loaded:
            loaded[key] = load_training_data(config)
        out.append(loaded[key])
    return out


def _train_batched(configs, outs, checkpoints, progress, compile, on_row) -> list[dict[str, Any]]:
    """The torch members as one batched computation, in phases that bring resumed members level."""
    from minirtc.progress import progress as progress_bar

    data = member_data(configs)
    trainers = make_members(configs, [images for _, images in data], data[0][0].pixel_max)
    views = [EnsembleMember(t) for t in trainers]
    positions = [
        begin_run(o, c, dataset, t, checkpoint)
        for o, c, (dataset, _), t, checkpoint in zip(outs, configs, data, trainers, checkpoints)
    ]
    recorders = [
        RunRecorder(c, o, view, make_eval_set(images, c), start, False, _member_rows(on_row, c.seed))
        for c, o, (_, images), view, start in zip(configs, outs, data, views, positions)
    ]
    steps = configs[0].steps
    summaries: dict[int, dict[str, Any]] = {}
    bar = progress_bar(
        steps,
        f"{configs[0].model} x{len(configs)} seeds",
        initial=min(positions),
        enabled=progress,
        unit="step",
    )
    try:
        active = [k for k in range(len(configs)) if positions[k] < steps]
        while active:
            start = min(positions[k] for k in active)
            group = [k for k in active if positions[k] == start]
            stop = min([positions[k] for k in active if positions[k] > start], default=steps)
            ensemble = BatchedTrainer([trainers[k] for k in group], compile=compile)
            for index, k in enumerate(group):
                views[k].attach(ensemble, index)
            reached, failures = _run_phase(ensemble, [recorders[k] for k in group], start, stop, bar)
            ensemble.export_all()
            for index, k in enumerate(group):
                positions[k] = reached
                if index in failures:
                    summaries[k] = recorders[k].failed(failures[index])
            active = [k for k in active if k not in summaries and positions[k] < steps]
    finally:
        bar.close()
        for recorder in recorders:
            recorder.close()
    return [
        end_run(o, summaries.get(k) or recorders[k].finished(), dataset)
        for k, (o, (dataset, _)) in enumerate(zip(outs, data))
    ]


def _run_phase(ensemble, recorders, start: int, stop: int, bar) -> tuple[int, dict[int, NonFiniteLoss]]:
    """Steps start+1..stop of every member; stops after a step where a member failed."""
    for step in range(start + 1, stop + 1):
        ensemble.step()
        failures = {}
        for index, recorder in enumerate(recorders):
            try:
                recorder.after_step(step)
            except NonFiniteLoss as error:
                failures[index] = error
        bar.update(step - bar.n)
        if failures:
            return step, failures
    return stop, {}


def _member_rows(on_row, seed: int):
    if on_row is not None and hasattr(on_row, "member"):  # live loggers: the member's own callback
        return on_row.member(seed)
    return None if on_row is None else (lambda row: on_row(seed, row))
