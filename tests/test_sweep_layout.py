"""The sweep package's map: every file named in its docstring, imports pointing down the list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import minirtc.experiments.sweep as sweep

PACKAGE = Path(sweep.__file__).parent


def mapped_files() -> list[str]:
    """The module names in the order the package docstring lists them."""
    return re.findall(r"^\s+(\w+)\.py\s", sweep.__doc__, flags=re.MULTILINE)


def test_the_docstring_maps_every_file_once():
    on_disk = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert sorted(mapped_files()) == on_disk


def test_each_file_imports_only_files_listed_above_it():
    order = mapped_files()
    for position, name in enumerate(order):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        imported = {
            node.module.rsplit(".", 1)[1]
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").startswith("minirtc.experiments.sweep.")
        }
        assert imported <= set(order[:position]), (
            f"{name}.py imports {sorted(imported - set(order[:position]))}"
        )
