"""One writer per run directory: a lock file naming its owner's pid and host.

`minirtc train` (new or resumed), a sweep's task and `minirtc evaluate` hold
RUN_DIR/run.lock while they write.  A second writer is refused in one line that
names the owner.  The file is held with an advisory `flock`, which the operating
system drops when its process dies: a lock left by a killed process is taken
over, with a note naming the process that left it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Callable

LOCK = "run.lock"


class RunLocked(RuntimeError):
    """Another live process writes to this run directory."""


def _owner() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def read_owner(run_dir: str | Path) -> dict[str, object] | None:
    """The owner recorded in the lock file, {} if unreadable, None if there is no lock file."""
    try:
        owner = json.loads((Path(run_dir) / LOCK).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return owner if isinstance(owner, dict) else {}


def _mine(owner: dict[str, object] | None) -> bool:
    return bool(owner) and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname()


def _open_locked(path: Path) -> int | None:
    """An fd holding the flock of the file now at `path`, or None if a live process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:  # the holder before us may have removed the file meanwhile: lock the new one
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


@contextlib.contextmanager
def run_lock(run_dir: str | Path, note: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold RUN_DIR/run.lock while the block runs; RunLocked if another live process holds it.

    Re-entrant within one process (a member run trained inside a locked group).
    `note(text)` hears about a lock taken over from a process that is gone.
    """
    run_dir = Path(run_dir)
    path = run_dir / LOCK
    created = not run_dir.exists()  # removed again if nothing else was written into it
    run_dir.mkdir(parents=True, exist_ok=True)
    if _mine(read_owner(run_dir)):
        yield
        return
    fd = _open_locked(path)
    if fd is None:
        owner = read_owner(run_dir) or {}
        raise RunLocked(
            f"{run_dir} is in use by process {owner.get('pid', '?')} on {owner.get('host', '?')} "
            f"(since {owner.get('since', '?')}); wait for it to finish, or stop it"
        )
    try:
        left = read_owner(run_dir)
        if left and note is not None:
            note(
                f"{path} was left by process {left.get('pid')} on {left.get('host')}, "
                "which is gone; taken over"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(_owner()) + "\n").encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)  # releases the flock
        if created:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if empty: a run refused before writing leaves nothing


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process other than this one holds the lock of `run_dir`."""
    path = Path(run_dir) / LOCK
    if not path.exists() or _mine(read_owner(run_dir)):
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
