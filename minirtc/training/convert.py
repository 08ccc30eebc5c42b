"""Checkpoints moved between backends, and old pickle checkpoints converted once.

Both backends save the same kind of state (minirtc.training.checkpoint), and for
the MLP architecture they name the same weights: NumPy's params["encoder"]["W0"]
is torch's params["encoder.params.W0"], both (in, out).  So a classroom model can
be continued on torch, or a torch model stepped through in NumPy:

    torch_state = numpy_to_torch(numpy_state, fresh_torch_trainer.state())
    numpy_state = torch_to_numpy(torch_state, fresh_numpy_trainer.state())

The weights, Adam's moments and its step count carry over.  The random generators
of the two frameworks differ, so the data order and the noise continue from the
target's own seeded generators (`template`): the run goes on, not bit-identically.
The two Adam updates differ only in where eps enters (see backends/numpy_backend.py).
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from minirtc.training import checkpoint


def _flat_name(net: str | None, key: str) -> str:
    """The torch name of NumPy's params[net][key]: "encoder.params.W0"; the discriminator's "params.W0"."""
    return f"params.{key}" if net is None else f"{net}.params.{key}"


def _to_torch_tree(tree: dict[str, Any], nested: bool) -> dict[str, Any]:
    """NumPy's nested {"encoder": {"W0": ...}} (or the discriminator's flat {"W0": ...}) -> torch names."""
    if not nested:
        return {_flat_name(None, key): value for key, value in tree.items()}
    return {_flat_name(net, key): value for net, layers in tree.items() for key, value in layers.items()}


def _to_numpy_tree(tree: dict[str, Any], nested: bool) -> dict[str, Any]:
    """The inverse of `_to_torch_tree`."""
    out: dict[str, Any] = {}
    for name, value in tree.items():
        parts = name.split(".")
        if nested:
            out.setdefault(parts[0], {})[parts[-1]] = value
        else:
            out[parts[-1]] = value
    return out


def _convert(state: dict[str, Any], template: dict[str, Any], to_torch: bool) -> dict[str, Any]:
    """Weights and Adam moments from `state`; random stream and data order from `template`."""
    move = _to_torch_tree if to_torch else _to_numpy_tree
    out = {**template, "step": state["step"]}
    for params_key, adam_key, nested in (("params", "adam", True), ("disc_params", "disc_adam", False)):
        if params_key not in template or params_key not in state:
            continue
        out[params_key] = move(state[params_key], nested)
        adam = state[adam_key]
        out[adam_key] = {"t": adam["t"], "m": move(adam["m"], nested), "v": move(adam["v"], nested)}
    return out


def numpy_to_torch(state: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A NumPy-backend MLP state as a torch-backend state; `template`: a fresh torch trainer's state()."""
    return _convert(state, template, to_torch=True)


def torch_to_numpy(state: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A torch-backend MLP state as a NumPy-backend state; `template`: a fresh NumPy trainer's state()."""
    return _convert(state, template, to_torch=False)


# -- old run directories ------------------------------------------------------------------------


def _plain_tree(tree: Any) -> Any:
    """Tensors -> NumPy arrays and int keys -> strings, without importing torch."""
    if hasattr(tree, "detach") and hasattr(tree, "numpy"):
        return tree.detach().cpu().numpy()
    if isinstance(tree, dict):
        return {str(k): _plain_tree(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_plain_tree(v) for v in tree]
    return tree


# The only globals a pickled tree of NumPy arrays refers to (protocols 2 to 5, NumPy 1 and 2).
ARRAY_GLOBALS = frozenset(
    {("numpy", "dtype"), ("numpy", "ndarray"), ("_codecs", "encode"), ("collections", "OrderedDict")}
    | {(f"numpy.{c}.multiarray", name) for c in ("core", "_core") for name in ("_reconstruct", "scalar")}
    | {(f"numpy.{c}.numeric", "_frombuffer") for c in ("core", "_core")}
)


class ArraysOnlyUnpickler(pickle.Unpickler):
    """An unpickler that builds only dicts, lists, numbers, strings and NumPy arrays.

    Any other global (a function, a class, `exec`) is refused before it is looked up,
    so a planted payload raises instead of running.
    """

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ARRAY_GLOBALS:
            raise pickle.UnpicklingError(f"it refers to {module}.{name}, which a checkpoint never holds")
        return super().find_class(module, name)


def convert_pickle(run_dir: str | Path) -> Path:
    """Rewrite RUN_DIR/checkpoint.pkl (minirtc 0.1) as a safe checkpoint; returns the new record.

    The pickle is read by `ArraysOnlyUnpickler`, which refuses every global but the
    few that NumPy arrays need, so a pickle carrying code is refused, not run.  The
    pickle is kept, renamed checkpoint.pkl.converted, so nothing is lost.
    """
    run_dir = Path(run_dir)
    source = run_dir / checkpoint.PICKLE
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: nothing to convert")
    try:
        payload = ArraysOnlyUnpickler(io.BytesIO(source.read_bytes())).load()
    except Exception as error:  # a damaged pickle raises many kinds
        raise checkpoint.CheckpointError(f"{source} is not a readable pickle checkpoint ({error})") from None
    if not isinstance(payload, dict) or "trainer" not in payload or "step" not in payload:
        raise checkpoint.CheckpointError(f"{source} is not a minirtc checkpoint (no step and trainer state)")
    state = _plain_tree(payload["trainer"])
    record = checkpoint.save(run_dir, int(payload["step"]), state)
    source.rename(source.with_name(source.name + ".converted"))
    return record
