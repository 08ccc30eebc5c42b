"""Files written atomically get the mode a plain `open(..., "w")` would give them, not mkstemp's 0600."""

from __future__ import annotations

import os

import pytest

from minirtc.data.files import atomic_path
from minirtc.training.records import atomic_write_bytes


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def test_atomic_write_bytes_keeps_the_umask_mode(tmp_path, umask_022):
    atomic_write_bytes(tmp_path / "a.json", b"{}")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == umask_022


def test_atomic_path_keeps_the_umask_mode(tmp_path, umask_022):
    with atomic_path(tmp_path / "b.npz") as tmp:
        tmp.write_bytes(b"x")
    assert (tmp_path / "b.npz").stat().st_mode & 0o777 == umask_022
