"""What a run directory holds, and what `--resume` and `--overwrite` may do with it.

Resume keeps or refuses, never discards: a directory without a run, a run without
its config.json, or a run whose checkpoints were removed is refused with what to
do.  Only a run stopped before its first checkpoint starts again from step 0
(it had nothing to keep), with a note.  `--overwrite` empties the directory of the
old run's files first (metrics, figures, summaries included), and refuses a
directory that does not hold a minirtc run (docs/training.md, run directories).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from minirtc.training import checkpoint, records
from minirtc.training.config import ConfigError, TrainConfig, config_differences
from minirtc.training.lock import LOCK

RESUMABLE_CHANGES = ("steps",)  # a resumed run may be extended, nothing else may change
KEPT_ON_OVERWRITE = (LOCK, ".lock")  # the lock files of the process overwriting (and of a sweep's)


class RunDirectoryError(RuntimeError):
    """The output directory holds another run, or a run that cannot be resumed."""


def read_record(out: Path) -> dict[str, Any]:
    """config.json of the run in `out`, checked to be a minirtc run of a format this minirtc reads."""
    path = out / records.CONFIG
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunDirectoryError(f"{path} is not a minirtc run record ({error}); restore it") from None
    if not isinstance(record, dict) or not isinstance(record.get("train"), dict):
        raise RunDirectoryError(f'{path} is not a minirtc run record (no "train" settings)')
    written = record.get("checkpoint_format", 1)
    if isinstance(written, int) and written > checkpoint.FORMAT:
        raise checkpoint.NewerFormat(
            f"{out} was written by minirtc {record.get('minirtc_version')} with checkpoint format "
            f"{written}; this minirtc reads format {checkpoint.FORMAT} and older: upgrade minirtc "
            "(pip install -U minirtc)"
        )
    return record


def has_run_files(out: Path) -> bool:
    """Whether `out` holds anything of a run worth keeping: a checkpoint or a history."""
    return checkpoint.exists(out) or (out / records.HISTORY).exists()


def require_run(out: Path) -> None:
    """RunDirectoryError unless `out` holds a run that `--resume` can look at."""
    if not (out / records.CONFIG).exists() and not has_run_files(out):
        where = "does not exist" if not out.exists() else "holds no run (no config.json)"
        raise RunDirectoryError(
            f"{out} {where}, so there is nothing to resume; drop --resume to start a run there"
        )


def clear(out: Path) -> None:
    """Delete every file and folder of the old run in `out` (its lock files excepted)."""
    for entry in out.iterdir():
        if entry.name in KEPT_ON_OVERWRITE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def prepare(out: Path, config: TrainConfig, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """Check `out` against resume/overwrite; the checkpoint to resume from, or None for a new run."""
    out = Path(out)
    if not (out / records.CONFIG).exists():
        if not has_run_files(out):
            return None
        if overwrite:
            clear(out)
            return None
        raise RunDirectoryError(
            f"{out} holds checkpoints or a history but no {records.CONFIG}; restore {records.CONFIG} "
            "to resume it, or pass --overwrite to start again"
        )
    record = read_record(out)
    if overwrite:
        clear(out)
        return None
    if not resume:
        raise RunDirectoryError(
            f"{out} already holds a run; pass --resume to continue it or --overwrite to replace it"
        )
    try:
        saved = TrainConfig.from_dict(record["train"])
    except (ConfigError, TypeError) as error:
        raise RunDirectoryError(
            f"{out / records.CONFIG} holds settings this minirtc rejects: {error}"
        ) from None
    changed = config_differences(saved, config, ignore=RESUMABLE_CHANGES)
    if changed:
        raise RunDirectoryError(f"cannot resume {out}: the config differs in {', '.join(changed)}")
    found = checkpoint.load_latest(out, fallback=True)
    if found is None:
        _require_nothing_lost(out, config)
    return found


def _require_nothing_lost(out: Path, config: TrainConfig) -> None:
    """A run without a checkpoint restarts only if it never got past its first one; else refuse.

    The rows of a checkpoint's step are written just before it, so a kill between the two
    leaves rows at that step and no checkpoint: only rows past it prove one was written.
    """
    rows = records.read_history(out, checkpoint.note)
    reached = max((row["step"] for row in rows), default=0)
    if reached > config.checkpoint_every:
        raise RunDirectoryError(
            f"{out} has no checkpoint although its history reaches step {reached}: its checkpoint "
            "files were removed; restore them, or start again with --overwrite"
        )
    checkpoint.note(
        f"{out} stopped before its first checkpoint (step {config.checkpoint_every}); starting it from step 0"
    )
