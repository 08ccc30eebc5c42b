"""Examples 01, 02, 03, 05 run with --quick, without torch, and the claim each teaches holds.

Every example runs in its own subprocess with `import torch` made to fail, so an
example that pulls torch in (directly or through the library) fails here.  The
four start together (module fixture) and each test reads its example's
`RESULT {...}` line and JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NAMES = ("01_gaussian_tc", "02_minibatch_estimators", "03_theorem1", "05_density_ratio")

# Runs a script as __main__ after making every `import torch...` raise ImportError.
NO_TORCH = """
import importlib.abc, runpy, sys
class BlockTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not allowed on the classroom path: " + name)
sys.meta_path.insert(0, BlockTorch())
script = sys.argv[1]
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""


def _run_blocked(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", NO_TORCH, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_env(),
    )


def _env() -> dict:
    import os

    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    return env


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, tuple[int, str, Path]]:
    """Start all four examples at once (two cores), then collect (exit status, output, out dir)."""
    runs = {}
    for name in NAMES:
        out = tmp_path_factory.mktemp(name)
        runs[name] = (
            _run_blocked([str(EXAMPLES / f"{name}.py"), "--quick", "--seed", "0", "--out", str(out)], out),
            out,
        )
    results = {}
    for name, (process, out) in runs.items():
        output, _ = process.communicate(timeout=600)
        results[name] = (process.returncode, output, out)
    return results


def _result(finished, name: str) -> dict:
    status, output, out = finished[name]
    assert status == 0, f"{name} exited {status}:\n{output[-3000:]}"
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"{name} printed {len(lines)} RESULT lines"
    result = json.loads(lines[0][len("RESULT ") :])
    assert result == json.loads((out / f"{name}.json").read_text()), "RESULT line and JSON file differ"
    assert (out / f"{name}.png").stat().st_size > 10_000, "the figure is missing or empty"
    assert result["passed"] and all(c["passed"] for c in result["checks"])
    return result


def test_torch_blocker_really_blocks(tmp_path):
    script = tmp_path / "uses_torch.py"
    script.write_text("import torch\n")
    process = _run_blocked([str(script)], tmp_path)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0 and "not allowed on the classroom path" in output


def test_example_01_proposition_1_two_ways(finished):
    tc = _result(finished, "01_gaussian_tc")["numbers"]["tc"]
    for case in tc.values():
        assert abs(case["monte_carlo"] - case["closed_form"]) < 4 * case["standard_error"] + 1e-3
    assert tc["2-D, rho = 0.9"]["closed_form"] == pytest.approx(-0.5 * __import__("math").log(1 - 0.81))


def test_example_02_mss1_closer_to_exact_than_mss0_at_d10(finished):
    numbers = _result(finished, "02_minibatch_estimators")["numbers"]
    assert numbers["dim"] == 10
    assert numbers["mean_abs_error_mss1_vs_exact"] < numbers["mean_abs_error_mss0_vs_exact"]
    at10 = numbers["tc_by_dim"]["10"]
    assert at10["population"] == pytest.approx(0.0, abs=1e-9)  # independent means: no population TC
    assert at10["exact"] > 5.0  # ... but the finite mixture of narrow posteriors has plenty


def test_example_03_theorem1_bounded_tc_z(finished):
    numbers = _result(finished, "03_theorem1")["numbers"]
    closed = numbers["closed_form"]
    assert max(closed["tc_z"]) < closed["bound"] < closed["tc_mu"][-1] / 5
    assert numbers["shutdown_change"]["population"] == pytest.approx(0.0, abs=1e-9)
    assert numbers["shutdown_change"]["mss1"] < -1.0


def test_example_05_discriminator_recovers_known_tc(finished):
    cases = _result(finished, "05_density_ratio")["numbers"]["cases"]
    assert set(cases) == {"D = 2, rho = 0", "D = 2, rho = 0.8", "D = 5, rho = 0.6"}
    for case in cases.values():
        assert abs(case["tc_discriminator"] - case["tc_true"]) < 0.15 + 0.25 * case["tc_true"]
    assert cases["D = 2, rho = 0"]["accuracy"] < 0.56  # nothing to find: chance level


def test_run_all_finds_examples_by_pattern():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import run_all
    finally:
        sys.path.remove(str(EXAMPLES))
    found = sorted(p.name for p in EXAMPLES.iterdir() if run_all.EXAMPLE.match(p.name))
    assert {f"{n}.py" for n in NAMES} <= set(found)
    assert "run_all.py" not in found
