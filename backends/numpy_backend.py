"""The NumPy/autograd backend: readable MLP VAEs for the classroom.

No torch import anywhere on this path.
"""

from __future__ import annotations

from minirtc.backends.numpy_ops import NumpyOps

name = "numpy"
ops = NumpyOps()
