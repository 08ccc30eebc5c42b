"""Writing an experiment's tables and summaries: atomically, in plain formats.

CSV (one row per dict, columns in first-seen order) and JSON (non-finite floats
written as the strings "inf", "-inf", "nan" so every reader can parse them).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minirtc.training.records import atomic_write_bytes


def prepare_out_dir(out: str | Path) -> Path:
    """Create `out` (and parents) or raise ValueError if it exists and is not a directory."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, but {out} is a file")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_csv(path: str | Path, rows: Sequence[dict]) -> Path:
    """Rows (dicts) as a CSV with a header; floats with full precision."""
    if not rows:
        raise ValueError(f"no rows to write to {path}")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(Path(path), text.getvalue().encode())
    return Path(path)


def read_csv(path: str | Path) -> list[dict]:
    """A CSV written by `write_csv`, numbers parsed back to int or float."""
    with open(path, newline="") as f:
        return [{key: _parse(value) for key, value in row.items()} for row in csv.DictReader(f)]


def write_json(path: str | Path, obj: Any) -> Path:
    """`obj` as indented JSON; inf and nan become strings (JSON has no such numbers)."""
    text = json.dumps(json_safe(obj), indent=2) + "\n"
    atomic_write_bytes(Path(path), text.encode())
    return Path(path)


def json_safe(obj: Any) -> Any:
    """obj with inf/nan floats as strings and NumPy scalars as Python numbers (JSON-writable)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:  # NumPy scalars
        return json_safe(obj.item())
    return obj


def _parse(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
