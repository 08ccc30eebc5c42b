"""Arrays from torch's `.pth` files, for the data loaders (the 3D faces ship as one).

Kept in the torch backend so that the data package never imports torch itself.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def load_tensor_array(path: Path) -> np.ndarray:
    """The tensor saved in a .pth (alone, or the only tensor of a dict) as a NumPy array.

    ValueError, naming the file, when it is unreadable or holds no single tensor.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a bad file; its text advises unpickling
        raise ValueError(
            f"{path} is not a readable torch file of plain tensors ({type(error).__name__}): truncated, "
            "corrupt, or holding objects that only unpickling could read; download it again"
        ) from None
    if isinstance(obj, dict):
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        obj = tensors[0] if len(tensors) == 1 else obj
    if not isinstance(obj, torch.Tensor):
        raise ValueError(f"{path}: expected a tensor (or a dict holding one), found {type(obj).__name__}")
    return obj.numpy()
