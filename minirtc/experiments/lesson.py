"""What every classroom example in `examples/` shares: its options and its final check.

An example teaches one claim.  It ends by checking that claim on the numbers it
just computed, writes them to `<out>/<name>.json`, prints one machine-readable
line `RESULT {...}` and exits non-zero when a check fails, so an example that
stops teaching fails CI.  No torch anywhere on this path.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minirtc.experiments.outputs import json_safe, prepare_out_dir, write_json


def lesson_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """--quick, --seed and --out (default: the current directory), parsed and checked."""
    parser = argparse.ArgumentParser(description=description or "")  # __doc__ is None in a notebook
    parser.add_argument("--quick", action="store_true", help="a smaller, seconds-long run")
    parser.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    parser.add_argument("--out", default=".", help="folder for the figure and the JSON (default: here)")
    if argv is None and "ipykernel" in sys.modules:  # opened as a notebook: the kernel's flags are not ours
        argv = []
    args = parser.parse_args(argv)
    try:
        args.out = prepare_out_dir(args.out)
    except ValueError as error:
        parser.error(str(error))
    return args


def single_threaded_blas() -> None:
    """Use one BLAS thread from here on: the examples' matrices are small, and extra
    threads only fight over a laptop's cores."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


@dataclass
class Lesson:
    """The checks and key numbers an example collects before it finishes."""

    name: str
    checks: list[dict] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def check(self, claim: str, passed: bool, detail: str) -> bool:
        """Record whether `claim` held on this run's numbers; `detail` says with which numbers."""
        self.checks.append({"claim": claim, "passed": bool(passed), "detail": detail})
        return bool(passed)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c["passed"] for c in self.checks)

    def finish(self, out: str | Path) -> int:
        """Print the verdicts, write <out>/<name>.json and return the exit status (0 = every claim held)."""
        print()
        for c in self.checks:
            print(f"CHECK {'PASSED' if c['passed'] else 'FAILED'}: {c['claim']} ({c['detail']})")
        result = {"example": self.name, "passed": self.passed, "checks": self.checks, "numbers": self.numbers}
        path = write_json(Path(out) / f"{self.name}.json", result)
        print(f"wrote {path}")
        print("RESULT " + json.dumps(json_safe(result)))
        return 0 if self.passed else 1
