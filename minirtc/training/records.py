"""The run directory: what a training run writes, and how it is written safely.

    RUN_DIR/
      config.json      every setting, the resolved objective, the dataset actually
                       used, library versions, git commit, command line
      history.jsonl    one JSON object per line: "kind": "train" rows (terms averaged
                       over log_every steps) and "kind": "eval" rows (TC_mean, TC_sample)
      checkpoint-<step>.json, checkpoint-<step>.safetensors
                       the last two checkpoints: arrays and plain data, checksummed
                       (minirtc.training.checkpoint)
      summary.json     written at the end (or on failure, with the error)
      run.lock         while a process writes here (minirtc.training.lock)

Every file except history.jsonl is replaced atomically (temp file, fsync,
rename), so a killed run never leaves a half-written checkpoint; history rows
past the last checkpoint are dropped on resume.  A damaged history row is an
error, except a torn last line (a kill during its write), which is dropped with a note.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from minirtc.data.files import as_plain_file

CONFIG, HISTORY, SUMMARY = "config.json", "history.jsonl", "summary.json"
CHECKPOINT_FORMAT = 2  # of minirtc.training.checkpoint; recorded in config.json


class HistoryError(RuntimeError):
    """A row of history.jsonl in the middle of the file is not a JSON object."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        as_plain_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(
        path, (json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n").encode()
    )


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


# -- history ---------------------------------------------------------------------


def append_history(run_dir: Path, row: dict[str, Any]) -> None:
    """Append one row to history.jsonl and flush it to disk."""
    with open(Path(run_dir) / HISTORY, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, sort_keys=True, default=_json_default) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_history(run_dir: Path, note: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """All rows of history.jsonl; HistoryError names a damaged row.

    Only a torn last line (a kill while it was written) is skipped, and `note` hears of it.
    """
    path = Path(run_dir) / HISTORY
    if not path.exists():
        return []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as error:
        raise HistoryError(f"{path} is not UTF-8 text ({error}); restore it or delete it") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                raise ValueError("not a row with a step")
        except ValueError as error:
            if number == len(lines):  # no newline after it: torn by a kill
                if note is not None:
                    note(f"{path}: dropped the torn last line {number} (a kill while it was written)")
                continue
            raise HistoryError(
                f"{path} line {number} is damaged ({error}); repair or delete that line, then rerun"
            ) from None
        rows.append(row)
    return rows


def final_loss(run_dir: Path, intervals: int = 3) -> float:
    """Mean training loss of the last `intervals` history rows: a label-free score of a finished
    run (examples/08_lecture_positions.py picks the seed to show by it)."""
    losses = [row["loss"] for row in read_history(run_dir) if row["kind"] == "train"]
    if not losses:
        raise HistoryError(f"{Path(run_dir) / HISTORY} has no training rows yet")
    return sum(losses[-intervals:]) / len(losses[-intervals:])


def truncate_history(run_dir: Path, last_step: int, note: Callable[[str], None] | None = None) -> None:
    """Keep only rows up to `last_step` (what the checkpoint has seen), atomically."""
    rows = [row for row in read_history(run_dir, note) if row["step"] <= last_step]
    text = "".join(json.dumps(row, sort_keys=True, default=_json_default) + "\n" for row in rows)
    atomic_write_bytes(Path(run_dir) / HISTORY, text.encode())


# -- checkpoints -------------------------------------------------------------------


def save_checkpoint(run_dir: Path, step: int, trainer_state: dict[str, Any]) -> None:
    """Write the checkpoint of `step` (see minirtc.training.checkpoint)."""
    from minirtc.training import checkpoint

    checkpoint.save(run_dir, step, trainer_state)


def load_checkpoint(run_dir: Path, fallback: bool = True) -> dict[str, Any] | None:
    """The newest good checkpoint {"step", "trainer", ...}, or None if the run has none yet."""
    from minirtc.training import checkpoint

    return checkpoint.load_latest(run_dir, fallback=fallback)


# -- provenance ---------------------------------------------------------------------


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that change numbers (without importing them)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("minirtc", "numpy", "autograd", "scipy", "torch", "scikit-learn", "h5py"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def git_commit() -> str | None:
    """The commit of the minirtc checkout this code runs from, with '+dirty' if changed."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    """Who wrote a run directory: minirtc and checkpoint format versions, libraries, commit, command."""
    import minirtc

    return {
        "minirtc_version": minirtc.__version__,
        "checkpoint_format": CHECKPOINT_FORMAT,
        "versions": library_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "argv": sys.argv,
    }
