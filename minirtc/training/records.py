"""The run directory: what a training run writes, and how it is written safely.

    RUN_DIR/
      config.json      every setting, the resolved objective, the dataset actually
                       used, library versions, git commit, command line
      history.jsonl    one JSON object per line: "kind": "train" rows (terms averaged
                       over log_every steps) and "kind": "eval" rows (TC_mean, TC_sample)
      checkpoint.pkl   the latest checkpoint (model, optimisers, RNG states, step)
      summary.json     written at the end (or on failure, with the error)

Every file except history.jsonl is replaced atomically (temp file, fsync,
rename), so a killed run never leaves a half-written checkpoint; history rows
past the last checkpoint are dropped on resume.
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

CONFIG, HISTORY, CHECKPOINT, SUMMARY = "config.json", "history.jsonl", "checkpoint.pkl", "summary.json"
CHECKPOINT_FORMAT = 1


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


def read_history(run_dir: Path) -> list[dict[str, Any]]:
    """All complete rows of history.jsonl (a torn last line from a kill is skipped)."""
    path = Path(run_dir) / HISTORY
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_history(run_dir: Path, last_step: int) -> None:
    """Keep only rows up to `last_step` (what the checkpoint has seen), atomically."""
    rows = [row for row in read_history(run_dir) if row["step"] <= last_step]
    text = "".join(json.dumps(row, sort_keys=True, default=_json_default) + "\n" for row in rows)
    atomic_write_bytes(Path(run_dir) / HISTORY, text.encode())


# -- checkpoints -------------------------------------------------------------------


def save_checkpoint(run_dir: Path, step: int, trainer_state: dict[str, Any]) -> None:
    payload = {"format": CHECKPOINT_FORMAT, "step": step, "trainer": trainer_state}
    atomic_write_bytes(Path(run_dir) / CHECKPOINT, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The latest checkpoint, or None if the run has none yet."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        payload = pickle.loads(path.read_bytes())
    except Exception as error:  # a checkpoint is written atomically, so this is real damage
        raise RuntimeError(
            f"checkpoint {path} is unreadable ({error}); delete it to restart the run"
        ) from error
    if payload.get("format") != CHECKPOINT_FORMAT:
        raise RuntimeError(
            f"checkpoint {path} has format {payload.get('format')}, expected {CHECKPOINT_FORMAT}"
        )
    return payload


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
    return {
        "versions": library_versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
        "argv": sys.argv,
    }
