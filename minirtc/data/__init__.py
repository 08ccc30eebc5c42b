"""Ground-truth datasets (docs/data.md) behind one interface, chosen by name.

    ds = load("dsprites-procedural", subset=20_000, seed=0)
    x = to_unit_float(ds.images(np.arange(64)), ds.pixel_max)   # (64, 64, 64, 1) in [0, 1]

Names (DATASETS): `dsprites` and `shapes3d` read the real files (`minirtc data
fetch NAME`); `dsprites-procedural` and `shapes3d-procedural` render the same
factor grids with no file; `faces3d` reads a user-supplied Basel renders file;
`gaussian` is a tiny toy of (1, 1, 8) vectors for fast tests.  Files live in
`data_dir`, else $MINIRTC_DATA, else ~/.cache/minirtc.

Files: base.py (the interface), subsets.py (factor ranges, random subsets),
sprites.py + dsprites.py, scene3d.py + shapes3d.py, faces3d.py, gaussian_toy.py,
files.py (npz/h5 reading, atomic writes, DataError), fetch.py (downloads),
show.py (PNG grids of factor traversals).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minirtc.data import dsprites, faces3d, shapes3d
from minirtc.data.base import GroundTruthDataset, to_unit_float
from minirtc.data.files import DataError
from minirtc.data.gaussian_toy import GaussianToy
from minirtc.data.subsets import FactorRanges, Subset

__all__ = [
    "DATASETS",
    "DataError",
    "GroundTruthDataset",
    "dataset_info",
    "load",
    "resolve_data_dir",
    "to_unit_float",
]

DATASETS = ("dsprites", "dsprites-procedural", "shapes3d", "shapes3d-procedural", "faces3d", "gaussian")
PACKABLE = ("dsprites",)  # datasets with a 1-bit packed in-memory form


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """Where data files live: the argument, else $MINIRTC_DATA, else ~/.cache/minirtc."""
    if data_dir is None:
        data_dir = os.environ.get("MINIRTC_DATA") or Path.home() / ".cache" / "minirtc"
    return Path(data_dir).expanduser()


def open_dataset(name: str, data_dir: Path, packed: bool) -> GroundTruthDataset:
    """The full dataset `name` (no subset or ranges)."""
    if name == "dsprites":
        return dsprites.DSprites(data_dir / dsprites.FILENAME, packed=packed)
    if name == "dsprites-procedural":
        return dsprites.ProceduralDSprites()
    if name == "shapes3d":
        return shapes3d.Shapes3D(data_dir / shapes3d.FILENAME)
    if name == "shapes3d-procedural":
        return shapes3d.ProceduralShapes3D()
    if name == "faces3d":
        path = faces3d.find_faces_file(data_dir)
        if path is None:
            raise DataError(faces3d.missing_faces_message(data_dir))
        return faces3d.Faces3D(path)
    return GaussianToy()


def load(
    name: str,
    data_dir: str | Path | None = None,
    subset: int | None = None,
    factor_ranges: Mapping[str, tuple[int, int]] | None = None,
    seed: int = 0,
    packed: bool = False,
) -> GroundTruthDataset:
    """Dataset `name`, cut to `factor_ranges` (a smaller grid), then to `subset` items drawn from `seed`.

    With `subset`, training sees the N items (`len`, `images`, `indices`) while the
    metrics' `sample_factors` / `sample_observations_from_factors` keep the full
    (range-restricted) grid.  `packed` keeps real dSprites images 1 bit a pixel.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if packed and name not in PACKABLE:
        raise ValueError(f"packed=True applies to {', '.join(PACKABLE)} only, not {name!r}")
    dataset = open_dataset(name, resolve_data_dir(data_dir), packed)
    if factor_ranges:
        dataset = FactorRanges(dataset, factor_ranges)
    if subset is not None:
        dataset = Subset(dataset, subset, seed)
    return dataset


def dataset_info(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """One row per dataset: its name, kind, where its file is expected and whether it is there."""
    data_dir = resolve_data_dir(data_dir)
    faces = faces3d.find_faces_file(data_dir) or data_dir / faces3d.FILENAMES[0]
    files = {
        "dsprites": data_dir / dsprites.FILENAME,
        "shapes3d": data_dir / shapes3d.FILENAME,
        "faces3d": faces,
    }
    rows = []
    for name in DATASETS:
        path = files.get(name)
        row: dict[str, Any] = {"name": name, "kind": "real file" if path else "procedural", "path": None}
        if path is not None:
            row.update(
                path=str(path),
                present=path.exists(),
                size_bytes=path.stat().st_size if path.exists() else None,
            )
        rows.append(row)
    return rows
