"""Running means of the logged loss terms, kept in the backend's own arrays.

Training adds every step's terms here and reads them once per log row, so a
GPU backend never waits on the host in between (no `.item()` per step): each
step's terms are stacked into one vector on the device, and `pop` moves all the
vectors to the host in a single transfer.  The first non-finite term is found
there and named with its step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.errors import NonFiniteLoss
from minirtc.ops import Ops


class TermAccumulator:
    """Per-step term vectors since the last `pop`."""

    def __init__(self, ops: Ops):
        self.ops = ops
        self.names: list[str] | None = None
        self.steps: list[int] = []
        self.rows: list[Any] = []  # one (T,) backend vector per step

    def add(self, step: int, terms: dict[str, Any]) -> None:
        """Record one step's scalar terms (no host synchronisation)."""
        if self.names is None:
            self.names = list(terms)
        self.steps.append(step)
        self.rows.append(self.ops.stack([terms[name] for name in self.names]))

    def pop(self) -> dict[str, float]:
        """Means since the last pop as floats; raises NonFiniteLoss naming step and term."""
        if not self.rows:
            return {}
        table = self.ops.to_numpy(self.ops.stack(self.rows))  # (steps, T), one transfer
        bad = ~np.isfinite(table)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise NonFiniteLoss(self.steps[row], self.names[col])
        means = dict(zip(self.names, table.mean(axis=0).tolist()))
        self.steps, self.rows = [], []
        return means
