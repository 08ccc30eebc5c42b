"""Run every numbered example (examples/NN_*.py) in turn and report which claims held.

    python examples/run_all.py [--quick] [--seed N] [--out DIR]

Each example runs in its own process with the same options and writes its
figure and <name>.json into --out.  Exits non-zero if any example failed.
"""

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

EXAMPLE = re.compile(r"^\d\d_\w+\.py$")  # 01_gaussian_tc.py, 02_..., found by pattern


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every example")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=".", help="folder for every figure and JSON (default: here)")
    args = parser.parse_args()
    examples = sorted(p for p in Path(__file__).parent.iterdir() if EXAMPLE.match(p.name))
    failed = []
    for path in examples:
        command = [sys.executable, str(path), "--seed", str(args.seed), "--out", args.out]
        started = time.perf_counter()
        status = subprocess.run(command + (["--quick"] if args.quick else [])).returncode
        verdict = "ok" if status == 0 else f"FAILED (exit {status})"
        print(f"== {path.name}: {verdict} in {time.perf_counter() - started:.1f} s\n", flush=True)
        if status != 0:
            failed.append(path.name)
    print(
        f"{len(examples) - len(failed)} of {len(examples)} examples passed"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
