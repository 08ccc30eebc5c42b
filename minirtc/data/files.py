"""Reading and writing the array files the datasets live in: .npz members, atomic writes, hashes.

An `.npz` is a zip of `.npy` members.  These helpers read a member's header
without touching its data, stream a large member in row chunks (so a 3 GB
dSprites `imgs` never has to sit in memory twice), memory-map a member that is
stored uncompressed, and write an `.npz` member by member.  Every failure to
read a file becomes one `DataError` that names the file and what was expected.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)


class DataError(ValueError):
    """A data file is missing, truncated, corrupt, or not in the expected format."""


class NpyHeader(NamedTuple):
    """Shape and dtype of one `.npy` array, as its header declares them."""

    shape: tuple[int, ...]
    dtype: np.dtype


class StreamedArray(NamedTuple):
    """An array to write chunk by chunk: its full shape, dtype and the row chunks in order."""

    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: Iterable[np.ndarray]


def as_plain_file(path: str | Path) -> None:
    """Give a temporary file the mode a plainly created one would have (mkstemp makes it 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; once the writer closed it, fsync and rename onto `dest`.

    On any error the temporary file is removed and `dest` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        as_plain_file(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def file_digest(path: str | Path, algorithm: str = "sha256", block: int = 1 << 22) -> str:
    """Hex digest of a file, read in blocks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(block), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe_file(path: str | Path, origin: str = "real") -> dict[str, object]:
    """What a run directory records about a data file: real or our render, its path, size and sha256."""
    path = Path(path)
    return {
        "source": "real" if origin == "real" else "procedural-file",
        "origin": origin,
        "path": str(path.resolve()),
        "size_bytes": path.stat().st_size,
        "sha256": file_digest(path),
    }


# -- reading .npz -----------------------------------------------------------------


def open_npz(path: Path) -> zipfile.ZipFile:
    """The zip behind an .npz, or a DataError naming the file."""
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"{path} does not exist") from None
    except ZIP_READ_ERRORS as error:
        raise DataError(
            f"{path} is not a readable .npz (zip) file; truncated or corrupt? ({error})"
        ) from None


def npz_keys(archive: zipfile.ZipFile) -> list[str]:
    """Array names in an .npz (member names without `.npy`)."""
    return [n[: -len(".npy")] for n in archive.namelist() if n.endswith(".npy")]


def read_npy_header(fp) -> NpyHeader:
    """Shape and dtype from an open `.npy` stream, leaving it at the start of the data."""
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    if fortran:
        raise ValueError("Fortran-ordered arrays are not supported")
    return NpyHeader(tuple(shape), np.dtype(dtype))


def npz_header(path: Path, archive: zipfile.ZipFile, key: str) -> NpyHeader:
    """Header of member `key` without reading its data."""
    try:
        with archive.open(f"{key}.npy") as fp:
            return read_npy_header(fp)
    except ZIP_READ_ERRORS as error:
        raise DataError(
            f"{path}: cannot read the header of {key!r}; truncated or corrupt? ({error})"
        ) from None


def npz_array(path: Path, archive: zipfile.ZipFile, key: str) -> np.ndarray:
    """Member `key` read whole (for the small members; never unpickles)."""
    try:
        with archive.open(f"{key}.npy") as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)
    except ZIP_READ_ERRORS as error:
        raise DataError(f"{path}: cannot read {key!r}; truncated or corrupt? ({error})") from None


def npz_rows(path: Path, archive: zipfile.ZipFile, key: str, rows: int) -> Iterator[np.ndarray]:
    """Member `key` (C order) as consecutive chunks of at most `rows` rows, decompressed as it goes."""
    try:
        with archive.open(f"{key}.npy") as fp:
            shape, dtype = read_npy_header(fp)
            row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            for start in range(0, shape[0], rows):
                n = min(rows, shape[0] - start)
                buffer = fp.read(n * row_bytes)
                if len(buffer) != n * row_bytes:
                    raise EOFError(f"data ends after row {start + len(buffer) // max(row_bytes, 1)}")
                yield np.frombuffer(buffer, dtype=dtype).reshape((n, *shape[1:]))
    except ZIP_READ_ERRORS as error:
        raise DataError(f"{path}: cannot read {key!r}; truncated or corrupt? ({error})") from None


def npz_memmap(path: Path, archive: zipfile.ZipFile, key: str) -> np.ndarray | None:
    """Read-only memory map of member `key` when it is stored uncompressed, else None."""
    info = archive.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)  # the zip local file header; its name and extra lengths are at bytes 26..29
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(start)
        shape, dtype = read_npy_header(f)
        offset = f.tell()
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)


# -- writing .npz --------------------------------------------------------------------


def write_npz(
    dest: str | Path, arrays: Mapping[str, np.ndarray | StreamedArray], compress: bool = True
) -> Path:
    """Write an .npz that `np.load` reads, streaming `StreamedArray` members; atomic."""
    dest = Path(dest)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_path(dest) as tmp, zipfile.ZipFile(tmp, "w", compression=method) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w", force_zip64=True) as fp:
                if isinstance(array, StreamedArray):
                    write_streamed(fp, array)
                else:
                    np.lib.format.write_array(fp, np.asarray(array, order="C"), allow_pickle=False)
    return dest


def write_streamed(fp, array: StreamedArray) -> None:
    """Write a `.npy` header then the chunks, checking they add up to the declared shape."""
    header = {
        "descr": np.lib.format.dtype_to_descr(array.dtype),
        "fortran_order": False,
        "shape": array.shape,
    }
    np.lib.format.write_array_header_2_0(fp, header)
    rows = 0
    for chunk in array.chunks:
        chunk = np.ascontiguousarray(chunk, dtype=array.dtype)
        if chunk.shape[1:] != tuple(array.shape[1:]):
            raise ValueError(f"chunk shape {chunk.shape} does not fit the declared shape {array.shape}")
        fp.write(chunk.tobytes())
        rows += len(chunk)
    if rows != array.shape[0]:
        raise ValueError(f"chunks gave {rows} rows, the declared shape {array.shape} needs {array.shape[0]}")
