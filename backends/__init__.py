"""Backends: the array operations and the training mechanics of each framework.

`BACKENDS` is the one table of them (name -> module):
- "numpy": `autograd.numpy`, readable MLP VAEs for the classroom (never imports torch);
- "torch": torch on any device, conv and MLP VAEs for full-scale runs.

Every backend module has the same names: `name`, `ops` (see `minirtc.ops.Ops`) and
the surface the training step (`minirtc/training/step.py`) uses: `Networks`,
`Engine` and `Random`.  A backend imports the core and its own framework, never
training, experiments or the CLI.  `get(name)` imports one lazily.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS = {"numpy": "minirtc.backends.numpy_backend", "torch": "minirtc.backends.torch_backend"}


def get(name: str) -> ModuleType:
    """The backend module called `name` (a key of BACKENDS)."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {name!r}")
    try:
        return importlib.import_module(BACKENDS[name])
    except ImportError as error:
        if name == "torch":
            raise ImportError(
                "the torch backend needs PyTorch: pip install 'minirtc[torch]' "
                f"(or your own torch build) — {error}"
            ) from error
        raise
