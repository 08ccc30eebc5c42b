"""Progress of long work: a tqdm bar on a terminal, a few plain lines in a log.

Every long command (train, evaluate and its metrics, sweep, experiment, data
render, show) reports through `progress(...)`.  When stderr is a terminal it is
a tqdm bar with rate and ETA.  When it is not (CI logs, files, pipes), tqdm's
carriage-return redraws would fill the log, so the bar stays silent and one
line is printed per stage instead: at each `stage(text)` (or, for work that
names no stages, at every tenth of the total) and at the end, each with the
count, rate and ETA.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO, TypeVar

T = TypeVar("T")

LINES_PER_RUN = 10  # a log gets a line at every tenth of the total


def is_terminal(stream: TextIO) -> bool:
    """Whether `stream` is an interactive terminal (a closed or odd stream is not)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """A tqdm bar on a terminal, else one line per stage; the tqdm subset the callers use.

    `update(n)`, `set_postfix(**values)`, `n` and `close()` behave as tqdm's, so code
    that drove a tqdm bar drives this unchanged; `stage(text)` names a step of the work.
    `log_lines=False` keeps an inner bar (one metric's batches) to the terminal only.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        *,
        unit: str = "it",
        initial: int = 0,
        enabled: bool = True,
        stream: TextIO | None = None,
        leave: bool = True,
        log_lines: bool = True,
    ):
        from tqdm.auto import tqdm

        self.stream = sys.stderr if stream is None else stream
        self.total, self.desc, self.unit = total, desc, unit
        self.interactive = enabled and is_terminal(self.stream)
        enabled = enabled and (self.interactive or log_lines)  # log_lines=False: silent in a log
        self.enabled = enabled
        self.bar = tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit=unit,
            leave=leave,
            file=self.stream,
            dynamic_ncols=True,
            disable=not self.interactive,
        )
        self.n = self.start = initial
        self.t_start = time.perf_counter()
        self.postfix: dict[str, Any] = {}
        self.next_line = self._next_milestone(initial)
        self.closed = False
        self.staged = False  # once stages are named, they are the log's lines

    def _next_milestone(self, n: int) -> float:
        if not self.total:
            return float("inf")
        step = max(self.total / LINES_PER_RUN, 1)
        return (int(n // step) + 1) * step

    def update(self, n: int = 1) -> None:
        """Advance by `n` units."""
        self.n += n
        self.bar.update(n)
        quiet = self.interactive or not self.enabled or self.staged
        if not quiet and self.n >= self.next_line and self.n < (self.total or 0):
            self._line()
            self.next_line = self._next_milestone(self.n)

    def set_postfix(self, refresh: bool = False, **values: Any) -> None:
        """Values shown after the bar (and at the end of each log line)."""
        self.postfix = values
        self.bar.set_postfix(refresh=refresh, **values)

    def stage(self, text: str) -> None:
        """Name the step now under way: the bar's description, or one log line."""
        if self.interactive:
            self.bar.set_description_str(f"{self.desc}: {text}")
        elif self.enabled:
            self.staged = True
            self._line(text)

    def write(self, text: str, echo: Callable[[str], None] = print) -> None:
        """Print a line of results with `echo` without breaking the bar (tqdm clears and redraws it)."""
        if self.interactive:
            with self.bar.external_write_mode(file=self.stream):
                echo(text)
        else:
            echo(text)

    def _line(self, text: str = "") -> None:
        elapsed = time.perf_counter() - self.t_start
        done = self.n - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        parts = [text] if text else []
        parts.append(f"{self.n}/{self.total}" if self.total else f"{self.n}")
        parts.append(f"{rate:.3g} {self.unit}/s" if done else f"{elapsed:.0f} s")
        if self.total and done and self.n < self.total:
            parts.append(f"ETA {_clock((self.total - self.n) / max(rate, 1e-12))}")
        parts += [f"{k}={v}" for k, v in self.postfix.items()]
        print(f"{self.desc}: " + "  ".join(parts), file=self.stream, flush=True)

    def close(self) -> None:
        """Finish the bar; in a log, one last line with the elapsed time."""
        if self.closed:
            return
        self.closed = True
        self.bar.close()
        if self.enabled and not self.interactive:
            self._line(f"done in {_clock(time.perf_counter() - self.t_start)}")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(total: int | None, desc: str, **options: Any) -> Progress:
    """A `Progress` over `total` units (None: unknown); options as `Progress`'s."""
    return Progress(total, desc, **options)


def track(iterable: Iterable[T], desc: str, total: int | None = None, **options: Any) -> Iterator[T]:
    """The items of `iterable`, advancing a `Progress` by one per item (tqdm(iterable)'s use)."""
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    with Progress(total, desc, **options) as bar:
        for item in iterable:
            yield item
            bar.update(1)


def _clock(seconds: float) -> str:
    """Seconds as h:mm:ss or m:ss."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
