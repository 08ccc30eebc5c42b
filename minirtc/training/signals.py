"""Stopping a run cleanly on SIGINT (Ctrl-C) or SIGTERM (a scheduler, `kill`).

The first signal asks the loop to stop at the next log step, where the term
averages have just been written, so the checkpoint written there resumes to the
same history as a run never stopped.  A second SIGINT stops at once (the last
periodic checkpoint is kept).  SIGKILL cannot be caught: a killed run loses at
most the steps since its last checkpoint (docs/training.md, checkpoints).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal after writing its checkpoint; the message says how to resume."""


class StopRequest:
    """Set by the signal handlers; the loop polls `requested` after every step."""

    def __init__(self) -> None:
        self.requested: str | None = None  # the signal's name once one arrived

    def handle(self, signum: int, frame: object) -> None:
        name = signal.Signals(signum).name
        if self.requested is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.requested = name


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM set the returned request while the block runs (main thread only)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request  # signal handlers can only be set from the main thread
        return
    previous = {s: signal.signal(s, request.handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def resume_line(name: str, out: object, step: int) -> str:
    """The message of a run stopped by signal `name` with its checkpoint at `step`."""
    return (
        f"stopped by {name} at step {step}; checkpoint written; resume with: "
        f"minirtc train --out {out} --resume"
    )
