"""Every command in README.md runs (long ones with quick flags), and CI runs README's test command."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
TEST_COMMAND = 'python3 -m pip install -e ".[torch,test]" && python3 -m pytest -q'
MAIN_COMMAND = "python3 -m pip install -e . && minirtc train"

# Flags appended to long commands so the test runs them in seconds (later flags win in click).
QUICK = {
    "minirtc train": "--steps 20 --subset 512 --hidden 16 --disc-hidden 16 --disc-layers 1 --log-every 10 "
    "--eval-every 10 --checkpoint-every 10 --eval-size 64 --quiet",
    "minirtc evaluate": "--num-train 500 --num-eval 200 --metrics mig,unsupervised --quiet",
    "minirtc sweep": "--steps 20 --metrics mig,unsupervised",
    "minirtc experiment estimators": "--quick",
    "minirtc experiment theorem1": "--quick",
    "python3 -m pytest": "--collect-only",
}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[str]:
    return [line.strip() for block in blocks("bash") for line in block.splitlines() if line.strip()]


# Commands that need what CI lacks: they must fail fast and say what to do instead.
MAY_FAIL = {"minirtc data fetch dsprites": "dsprites-procedural"}


def inline_commands() -> list[str]:
    """`minirtc ...` commands quoted inline (tables, prose); placeholders in capitals are skipped."""
    spans = re.findall(r"`(minirtc [^`]+)`", re.sub(r"```.*?```", "", README, flags=re.S))
    return sorted({c for c in spans if not re.search(r"\b[A-Z_]{3,}\b", c)})


def quick(command: str) -> list[str]:
    for prefix, extra in QUICK.items():
        if command.startswith(prefix):
            return [*shlex.split(command), *shlex.split(extra)]
    return shlex.split(command)


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    assert MAIN_COMMAND in commands() and TEST_COMMAND in commands()
    ci = (ROOT / ".ci" / "run").read_text()
    assert TEST_COMMAND in ci.splitlines()[-1]


def test_every_readme_command_runs(tmp_path):
    """In order, in one scratch directory, as a user would type them."""
    for command in commands():
        if command in (MAIN_COMMAND, TEST_COMMAND):
            command = command.split(" && ")[-1]  # the install half is what CI itself just did
            if command.startswith("python3 -m pytest"):
                continue  # this very suite
        argv = quick(command)
        if argv[0] == "minirtc":
            argv = [sys.executable, "-m", "minirtc", *argv[1:]]
        elif argv[0] == "python3":
            argv = [sys.executable, *argv[1:]]
            argv = [
                str(ROOT / a) if a.startswith(("benchmarks/", "examples/", "tests/")) else a for a in argv
            ]
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        if command in MAY_FAIL and done.returncode != 0:
            assert MAY_FAIL[command] in done.stdout + done.stderr
            continue
        assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("command", inline_commands())
def test_every_inline_command_parses(tmp_path, command):
    """Commands quoted in tables run as a dry run (train, sweep) or with their quick flags."""
    argv = quick(command)
    if argv[1] in ("train", "sweep"):
        argv.append("--dry-run")
    elif argv[1] in ("plot", "report", "data", "show"):  # named as a step, its argument given elsewhere
        argv = [*argv[:3], "--help"] if argv[1] == "data" else [*argv[:2], "--help"]
    done = subprocess.run(
        [sys.executable, "-m", "minirtc", *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("snippet", blocks("python"))
def test_every_python_snippet_runs(tmp_path, snippet):
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
