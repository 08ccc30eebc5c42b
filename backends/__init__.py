"""Backends: the array operations and the trainable models of each framework.

- "numpy": `autograd.numpy`, readable MLP VAEs for the classroom (never imports torch);
- "torch": torch on any device, conv and MLP VAEs for full-scale runs.

`get(name)` imports a backend lazily and returns its module, which exposes
`name`, `ops` (see `minirtc.ops.Ops`), `make_model(...)` and `make_trainer(...)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

BACKENDS = {"numpy": "minirtc.backends.numpy_backend", "torch": "minirtc.backends.torch_backend"}


def get(name: str) -> ModuleType:
    """The backend module called `name` ("numpy" or "torch")."""
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
