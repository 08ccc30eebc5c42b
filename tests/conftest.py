"""Shared, generic pytest fixtures for the whole test suite."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded NumPy generator: every test that uses it sees the same numbers."""
    return np.random.default_rng(20240611)
