"""Download the real dSprites and Shapes3D files from their official public addresses.

The download goes to a temporary file beside the destination and is renamed
into place only after its size (Content-Length, and the known size where
recorded) and checksums (MD5 where known) match and the file opens as the
dataset.  Its SHA-256 is written next to it (`<file>.sha256`).  With no network
the first connection fails within `timeout` seconds and the error names the
procedural alternative.
"""

from __future__ import annotations

import hashlib
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from minirtc.data import dsprites, shapes3d
from minirtc.data.files import DataError, atomic_path

BLOCK = 1 << 20  # bytes read at a time


@dataclass(frozen=True)
class RemoteFile:
    """Where a dataset file lives and what is known about it."""

    url: str
    filename: str
    size: int | None  # bytes, where known
    md5: str | None  # where known (published by many users of the file)
    procedural: str  # the registry name to use without the file


REMOTE_FILES = {
    "dsprites": RemoteFile(
        url="https://raw.githubusercontent.com/deepmind/dsprites-dataset/master/" + dsprites.FILENAME,
        filename=dsprites.FILENAME,
        size=None,
        md5="7da33b31b13a06f4b04a70402ce90c2e",
        procedural="dsprites-procedural",
    ),
    "shapes3d": RemoteFile(
        url="https://storage.googleapis.com/3d-shapes/" + shapes3d.FILENAME,
        filename=shapes3d.FILENAME,
        size=267_573_662,
        md5="099a2078d58cec4daad0702c55d06868",
        procedural="shapes3d-procedural",
    ),
}

CHECKERS: dict[str, Callable[[Path], object]] = {
    "dsprites": lambda path: dsprites.DSprites(path, expected_sizes=dsprites.FACTOR_SIZES),
    "shapes3d": lambda path: shapes3d.Shapes3D(path, expected_sizes=shapes3d.FACTOR_SIZES),
}


class FetchError(RuntimeError):
    """A download failed: no network, a bad response, or a file that does not check out."""


def open_url(url: str, timeout: float):
    """urlopen with a deadline on the whole connection (DNS included), not just on each socket call."""
    result: dict[str, object] = {}

    def connect() -> None:
        try:
            result["response"] = urllib.request.urlopen(url, timeout=timeout)
        except Exception as error:  # handed to the caller below
            result["error"] = error

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no connection within {timeout:g} s")
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result["response"]


def download(
    url: str,
    dest: Path,
    timeout: float = 10.0,
    size: int | None = None,
    md5: str | None = None,
    check: Callable[[Path], object] | None = None,
    progress: bool = True,
) -> str:
    """Download `url` to `dest` atomically after checking size, MD5 and `check(file)`; return its SHA-256."""
    from tqdm import tqdm

    response = open_url(url, timeout)
    with response, atomic_path(dest) as tmp:
        declared = response.headers.get("Content-Length")
        declared = int(declared) if declared else None
        if size is not None and declared is not None and declared != size:
            raise FetchError(f"{url} announces {declared} bytes, expected {size}")
        sha256, md5_digest, received = hashlib.sha256(), hashlib.md5(), 0
        bar = tqdm(total=declared, unit="B", unit_scale=True, desc=dest.name, disable=not progress)
        with open(tmp, "wb") as f, bar:
            for block in iter(lambda: response.read(BLOCK), b""):
                f.write(block)
                sha256.update(block)
                md5_digest.update(block)
                received += len(block)
                bar.update(len(block))
        expected = size if size is not None else declared
        if expected is not None and received != expected:
            raise FetchError(f"{url}: received {received} bytes, expected {expected} (download cut short?)")
        if md5 is not None and md5_digest.hexdigest() != md5:
            raise FetchError(f"{url}: MD5 {md5_digest.hexdigest()} does not match the published {md5}")
        if check is not None:
            try:
                check(tmp)
            except DataError as error:
                raise FetchError(f"the file downloaded from {url} does not check out: {error}") from None
    return sha256.hexdigest()


def fetch(
    name: str,
    data_dir: Path,
    url: str | None = None,
    timeout: float = 10.0,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download dataset `name` into `data_dir` (skipped if present unless `force`); return its path.

    `url` overrides the official address (a mirror, or a local server in tests);
    the published size and MD5 are checked only for the official address.
    """
    if name not in REMOTE_FILES:
        raise ValueError(f"cannot fetch {name!r}; downloadable datasets are {', '.join(REMOTE_FILES)}")
    remote = REMOTE_FILES[name]
    dest = Path(data_dir) / remote.filename
    if dest.exists() and not force:
        return dest
    official = url is None
    url = remote.url if official else url
    try:
        sha256 = download(
            url,
            dest,
            timeout=timeout,
            size=remote.size if official else None,
            md5=remote.md5 if official else None,
            check=CHECKERS[name],
            progress=progress,
        )
    except FetchError:
        raise
    except Exception as error:  # URLError, timeouts, refused connections, HTTP errors
        raise FetchError(
            f"could not download {name} from {url}: {error}. Without network, use the procedural version "
            f"{remote.procedural!r}, which needs no file (`minirtc train --dataset {remote.procedural}`)."
        ) from None
    with atomic_path(dest.with_name(dest.name + ".sha256")) as tmp:
        tmp.write_text(f"{sha256}  {dest.name}\n")
    return dest
