"""Checkpoints that hold only arrays and plain data, verified on every read.

    RUN_DIR/checkpoint-000000500.safetensors   every array of the trainer state
    RUN_DIR/checkpoint-000000500.json          the rest: format, step, minirtc version,
                                               the state's plain values, and the sha256
                                               of the arrays file and of the record itself

A trainer's state is a nested dict of NumPy arrays and plain JSON values (ints,
floats, strings, lists, dicts, None).  The arrays go to safetensors under their
path in the dict ("params/encoder/W0"); everything else stays in the JSON record.
Nothing here ever unpickles: a planted file can hold wrong numbers, never code.

Each checkpoint is written as a pair (arrays first, the JSON record last, both
atomically), and the last two are kept: a checkpoint damaged on disk is reported
naming its file, and a resume falls back to the one before
(docs/training.md, checkpoints).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

import minirtc
from minirtc.training.records import CHECKPOINT_FORMAT, atomic_write_bytes, atomic_write_json

FORMAT = CHECKPOINT_FORMAT  # format 1 was a pickle (checkpoint.pkl), which is never read
KEEP = 2  # checkpoints kept in a run directory
PICKLE = "checkpoint.pkl"
CONVERT_COMMAND = "minirtc convert-pickle"
_NAME = re.compile(r"^checkpoint-(\d+)\.json$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, of a newer format, a pickle, or does not fit the run."""


class NewerFormat(CheckpointError):
    """A checkpoint or run directory written by a newer minirtc, in a format this one cannot read."""


class PickleCheckpoint(CheckpointError):
    """The run directory holds only an old pickle checkpoint, which is never unpickled."""


# -- a state as (arrays, plain values) ----------------------------------------------------------


def flatten(state: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split a nested state into {"a/b/c": array} and the same tree without its arrays."""
    arrays: dict[str, np.ndarray] = {}

    def walk(tree: dict[str, Any], prefix: str) -> dict[str, Any]:
        plain = {}
        for key, value in tree.items():
            if not isinstance(key, str) or "/" in key:
                raise TypeError(f"state keys must be strings without '/', got {key!r} under {prefix!r}")
            path = f"{prefix}{key}"
            if isinstance(value, np.ndarray):
                arrays[path] = value
            elif isinstance(value, dict):
                plain[key] = walk(value, path + "/")
            else:
                plain[key] = _plain(value, path)
        return plain

    return arrays, walk(state, "")


def _plain(value: Any, path: str) -> Any:
    """A JSON value (NumPy scalars become Python numbers); arrays inside lists are refused."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v, path) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, path) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"state value at {path!r} is a {type(value).__name__}, not an array or plain data")


def unflatten(arrays: dict[str, np.ndarray], plain: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `flatten`: the arrays put back at their paths in the plain tree."""
    state = json.loads(json.dumps(plain))  # a deep copy
    for path, array in arrays.items():
        *parents, leaf = path.split("/")
        node = state
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = array
    return state


def leaves(state: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{path: ("array", (shape, dtype)) or ("value", type name)} of every leaf, for comparing states."""
    arrays, plain = flatten(state)
    out: dict[str, tuple[str, Any]] = {k: ("array", (v.shape, str(v.dtype))) for k, v in arrays.items()}

    def walk(tree: dict[str, Any], prefix: str) -> None:
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                walk(value, f"{prefix}{key}/")
            elif not isinstance(value, dict):
                out[f"{prefix}{key}"] = ("value", type(value).__name__)

    walk(plain, "")
    return out


# -- writing ------------------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(record: dict[str, Any]) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":")).encode()


def paths(run_dir: Path, step: int) -> tuple[Path, Path]:
    """The (record, arrays) files of the checkpoint at `step`."""
    stem = f"checkpoint-{step:09d}"
    return Path(run_dir) / f"{stem}.json", Path(run_dir) / f"{stem}.safetensors"


def save(run_dir: str | Path, step: int, state: dict[str, Any]) -> Path:
    """Write the checkpoint of `step` (arrays, then the record) and keep the last KEEP; its record path."""
    from safetensors.numpy import save as save_arrays

    arrays, plain = flatten(state)
    blob = save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()})
    record_path, arrays_path = paths(Path(run_dir), step)
    atomic_write_bytes(arrays_path, blob)
    record = {
        "format": FORMAT,
        "step": int(step),
        "minirtc_version": minirtc.__version__,
        "arrays": arrays_path.name,
        "arrays_sha256": _digest(blob),
        "state": plain,
    }
    atomic_write_json(record_path, {**record, "record_sha256": _digest(_canonical(record))})
    prune(Path(run_dir))
    return record_path


def prune(run_dir: Path, keep: int = KEEP) -> None:
    """Delete all but the newest `keep` checkpoints (and arrays files no kept record names)."""
    records = listed(run_dir)
    kept = {paths(run_dir, step)[1].name for step, _ in records[:keep]}
    for _, record_path in records[keep:]:
        record_path.unlink(missing_ok=True)
    for arrays_path in run_dir.glob("checkpoint-*.safetensors"):
        if arrays_path.name not in kept:
            arrays_path.unlink(missing_ok=True)


# -- reading ------------------------------------------------------------------------------------


def listed(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, record path) of every checkpoint record in `run_dir`, newest first."""
    found = []
    for path in Path(run_dir).glob("checkpoint-*.json"):
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found, reverse=True)


def exists(run_dir: str | Path) -> bool:
    """Whether `run_dir` holds a checkpoint of any format (a pickle one included)."""
    return bool(listed(run_dir)) or (Path(run_dir) / PICKLE).exists()


def pickle_message(run_dir: Path) -> str:
    return (
        f"{run_dir} holds an old pickle checkpoint ({PICKLE}), which minirtc no longer reads because "
        f"unpickling a file can run any code; if you trust where it came from, convert it with "
        f"`{CONVERT_COMMAND} {run_dir}`"
    )


def read(record_path: str | Path) -> dict[str, Any]:
    """One checkpoint, verified: {"format", "step", "trainer": state, "path"}.

    CheckpointError, naming the file, when it is damaged or of a newer format.
    """
    from safetensors.numpy import load as load_arrays

    record_path = Path(record_path)

    def damaged(why: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {record_path} is damaged ({why})")

    try:
        record = json.loads(record_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise damaged(f"not JSON: {error}") from None
    if not isinstance(record, dict) or not isinstance(record.get("format"), int):
        raise damaged("not a checkpoint record")
    if record["format"] > FORMAT:
        raise NewerFormat(
            f"checkpoint {record_path} has format {record['format']} (written by minirtc "
            f"{record.get('minirtc_version')}); this minirtc {minirtc.__version__} reads format {FORMAT} "
            "and older: upgrade minirtc (pip install -U minirtc)"
        )
    claimed = record.pop("record_sha256", None)
    if claimed != _digest(_canonical(record)):
        raise damaged("its record does not match its checksum")
    arrays_path = record_path.with_name(str(record.get("arrays")))
    try:
        blob = arrays_path.read_bytes()
    except FileNotFoundError:
        raise damaged(f"its arrays file {arrays_path.name} is missing") from None
    if _digest(blob) != record.get("arrays_sha256"):
        raise damaged(f"{arrays_path.name} does not match its checksum")
    try:
        arrays = load_arrays(blob)
    except Exception as error:  # safetensors' own error (or another) for a malformed file
        raise damaged(f"{arrays_path.name} is unreadable: {error}") from None
    state = unflatten(arrays, record["state"])
    return {"format": record["format"], "step": record["step"], "trainer": state, "path": str(record_path)}


def load_latest(run_dir: str | Path, fallback: bool = True) -> dict[str, Any] | None:
    """The newest good checkpoint of `run_dir`, or None if it has none.

    fallback: a damaged newest checkpoint is reported on stderr and the one before it
    used; otherwise (and when none is good) CheckpointError names the damaged file.
    """
    run_dir = Path(run_dir)
    found = listed(run_dir)
    if not found:
        if (run_dir / PICKLE).exists():
            raise PickleCheckpoint(pickle_message(run_dir))
        return None
    first_error = None
    for step, record_path in found:
        try:
            checkpoint = read(record_path)
        except NewerFormat:
            raise
        except CheckpointError as error:
            if not fallback:
                raise CheckpointError(
                    f"{error}; `minirtc train --out {run_dir} --resume` continues from the one before it"
                ) from None
            first_error = first_error or error
            continue
        if checkpoint["step"] != step:
            first_error = first_error or CheckpointError(f"checkpoint {record_path} is damaged (wrong step)")
            continue
        if first_error is not None:
            note(f"{first_error}; using the previous checkpoint, step {step}")
        return checkpoint
    raise CheckpointError(f"{first_error}, and no earlier checkpoint is good; start again with --overwrite")


def note(text: str) -> None:
    """A one-line note on stderr (what was repaired or taken over, and why)."""
    print(f"note: {text}", file=sys.stderr)


def load_into(trainer: Any, checkpoint: dict[str, Any], ignore: tuple[str, ...] = ()) -> None:
    """Load a checkpoint into a freshly built trainer, after checking it fits the trainer's config.

    `ignore`: top-level keys whose shapes may differ (the data order of a trainer built on a sample).
    """
    where = checkpoint.get("path", "checkpoint")
    fresh, saved = leaves(trainer.state()), leaves(checkpoint["trainer"])
    for path, kind in fresh.items():
        if path.split("/")[0] in ignore:
            continue
        if path not in saved:
            raise CheckpointError(
                f"checkpoint {where} does not fit this run: it has no {path!r}; "
                "it was written for another model or config.json was changed"
            )
        if kind[0] == "array" and saved[path] != kind:
            (shape, dtype), got = kind[1], saved[path][1]
            raise CheckpointError(
                f"checkpoint {where} does not fit config.json: {path} is {got}, the config makes "
                f"{(shape, dtype)}; restore the run's own config.json"
            )
    try:
        trainer.load_state(checkpoint["trainer"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"checkpoint {where} cannot be loaded into this run ({error})") from None
