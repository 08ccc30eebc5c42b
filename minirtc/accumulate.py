"""Running means of the logged loss terms, kept in the backend's own arrays.

Training adds every step's terms here and reads them once per log row, so a
GPU backend never waits on the host in between (no `.item()` per step): each
step's terms are stacked into one vector on the device, and `pop` moves the
vectors to the host in one transfer per set of terms (one or two).  The first
non-finite term is found there and named with its step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc.errors import NonFiniteLoss
from minirtc.ops import Ops


class TermAccumulator:
    """Per-step term vectors since the last `pop`, grouped by which terms a step has.

    Most steps carry the same terms; a step that also computes the terms that are
    only logged (docs/training.md#logged-terms) carries more.  Each term's mean is
    taken over the steps that have it.
    """

    def __init__(self, ops: Ops):
        self.ops = ops
        self.groups: dict[tuple[str, ...], tuple[list[int], list[Any]]] = {}  # names -> (steps, rows)

    def add(self, step: int, terms: dict[str, Any]) -> None:
        """Record one step's scalar terms (no host synchronisation)."""
        names = tuple(terms)
        steps, rows = self.groups.setdefault(names, ([], []))
        steps.append(step)
        rows.append(self.ops.stack([terms[name] for name in names]))  # (T,)

    def pop(self) -> dict[str, float]:
        """Each term's mean since the last pop, as floats; raises NonFiniteLoss naming step and term."""
        groups, self.groups = self.groups, {}
        tables = {names: self.ops.to_numpy(self.ops.stack(rows)) for names, (_, rows) in groups.items()}
        bad = [
            (groups[names][0][row], names[col])
            for names, table in tables.items()
            for row, col in np.argwhere(~np.isfinite(table))[:1]
        ]
        if bad:
            raise NonFiniteLoss(*min(bad))  # the earliest step's first non-finite term
        means: dict[str, list[tuple[float, int]]] = {}  # name -> (mean, steps) of each group
        for names, table in tables.items():  # (steps, T) each, one transfer per group
            for name, mean in zip(names, table.mean(axis=0).tolist()):
                means.setdefault(name, []).append((mean, len(table)))
        return {name: _pooled(parts) for name, parts in means.items()}


def _pooled(parts: list[tuple[float, int]]) -> float:
    """The mean of several groups' means weighted by their sizes (one group: its mean as it is)."""
    if len(parts) == 1:
        return parts[0][0]
    return sum(mean * n for mean, n in parts) / sum(n for _, n in parts)
