"""The torch backend: conv and MLP VAEs on any device for full-scale runs."""

from __future__ import annotations

from minirtc.backends.torch_ops import TorchOps

name = "torch"
ops = TorchOps()
