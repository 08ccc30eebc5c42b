"""The documentation stays true to the code: the CLI page is current, every reference into docs/
resolves, the pages' Python runs, the site builds, and nothing points at documents users never get."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from minirtc.cli.docs import render

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))


def heading_anchors(page: Path) -> set[str]:
    """The anchors of a page's headings, slugged as both GitHub and mkdocs' toc slug them."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    anchors = set()
    for title in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        plain = title.replace("`", "").strip().lower()
        plain = re.sub(r"[^\w\s-]", "", plain)
        anchors.add(re.sub(r"[-\s]+", "-", plain).strip("-"))
    return anchors


def product_files() -> list[Path]:
    """What users get: the package, the backends, the examples and the README."""
    files = [ROOT / "README.md"]
    for folder in ("minirtc", "backends", "examples"):
        files += sorted((ROOT / folder).rglob("*.py"))
    return files


def test_cli_reference_is_current():
    """docs/cli.md is what `python -m minirtc.cli.docs` writes from today's click definitions."""
    current = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: regenerate it with `python -m minirtc.cli.docs`"


def test_cli_reference_lists_every_command():
    text = render()
    for command in ("train", "evaluate", "sweep", "plot", "report", "data fetch", "experiment theorem1"):
        assert f"`minirtc {command}`" in text


def test_cli_docs_check_mode_flags_a_stale_file(tmp_path):
    stale = tmp_path / "cli.md"
    stale.write_text("# old\n", encoding="utf-8")
    command = [sys.executable, "-m", "minirtc.cli.docs", "--out", str(stale)]
    done = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert done.returncode == 1 and "stale" in done.stderr
    subprocess.run(command, check=True, capture_output=True)
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0


def test_no_reference_to_internal_documents_or_history():
    """No "SPEC n" and no "issue <number>" in the package, backends/, examples/ or the README."""
    pattern = re.compile(r"\bSPEC\b|\b[Ii]ssues?\s+#?\d+")
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in product_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, f"{len(hits)} references to replace by docs/ pages:\n" + "\n".join(hits)


def test_every_reference_into_docs_resolves():
    """`docs/<page>.md#<anchor>` in code, tests and pages, and links between pages, name real headings."""
    anchors = {page.name: heading_anchors(page) for page in PAGES}
    sources = [*product_files(), *sorted((ROOT / "tests").glob("*.py")), *PAGES]
    broken = []
    for path in sources:
        text = path.read_text(encoding="utf-8")
        refs = re.findall(r"docs/([\w-]+\.md)(?:#([\w-]+))?", text)
        if path.parent == DOCS:
            refs += re.findall(r"\]\(([\w-]+\.md)(?:#([\w-]+))?\)", text)
        for page, anchor in refs:
            if page not in anchors or (anchor and anchor not in anchors[page]):
                broken.append(f"{path.relative_to(ROOT)}: docs/{page}{'#' + anchor if anchor else ''}")
    assert not broken, "references to missing pages or sections:\n" + "\n".join(sorted(set(broken)))


@pytest.mark.parametrize(
    "page, snippet",
    [
        (page.name, snippet)
        for page in PAGES
        for snippet in re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), flags=re.S)
    ],
)
def test_every_python_snippet_in_the_docs_runs(tmp_path, page, snippet):
    done = subprocess.run([sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, f"{page}:\n{done.stderr}"


def test_the_site_builds_strictly(tmp_path):
    """`mkdocs build --strict`: no broken link or anchor, no page left out of the navigation."""
    missing = [m for m in ("mkdocs", "material", "pymdownx") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install -e '.[docs]')")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_version_lives_in_one_place():
    """setup.py reads minirtc.__version__; no other file spells a version of the package."""
    import minirtc

    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert "__version__" in setup and not re.search(r"version=\"\d", setup)
    assert not re.search(r"^version:", (ROOT / "CITATION.cff").read_text(encoding="utf-8"), flags=re.M)
    assert re.fullmatch(r"\d+\.\d+\.\d+", minirtc.__version__)
    assert f"## [{minirtc.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def test_licence_is_stated_in_the_metadata():
    setup = (ROOT / "setup.py").read_text(encoding="utf-8")
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert 'license="MIT"' in setup and "License :: OSI Approved :: MIT License" in setup
