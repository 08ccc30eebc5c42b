"""Checkpoints moved between backends, and old pickle checkpoints converted once.

Both backends save the same kind of state (minirtc.training.checkpoint), and for
the MLP architecture they name the same weights: NumPy's params["encoder"]["W0"]
is torch's model["encoder.params.W0"], both (in, out).  So a classroom model can
be continued on torch, or a torch model stepped through in NumPy:

    torch_state = numpy_to_torch(numpy_state, fresh_torch_trainer.state())
    numpy_state = torch_to_numpy(torch_state, fresh_numpy_trainer.state())

The weights, Adam's moments and its step count carry over.  The random generators
of the two frameworks differ, so the data order and the noise continue from the
target's own seeded generators (`template`): the run goes on, not bit-identically.
The two Adam updates differ only in where eps enters (see backends/numpy_backend.py).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from minirtc.training import checkpoint

NETWORKS = (("params", "model", ("encoder", "decoder")), ("disc_params", "disc", (None,)))


def _torch_names(numpy_params: dict[str, Any], nets: tuple[str | None, ...]) -> list[tuple[Any, str]]:
    """[(numpy path, torch name)] in torch's parameter order (W0, b0, W1, ... per network)."""
    names = []
    for net in nets:
        layers = numpy_params if net is None else numpy_params[net]
        for key in layers:
            names.append(((net, key), f"params.{key}" if net is None else f"{net}.params.{key}"))
    return names


def numpy_to_torch(state: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A NumPy-backend MLP state as a torch-backend state; `template`: a fresh torch trainer's state()."""
    out = {**template, "step": state["step"], "cursor": template["cursor"]}
    for params_key, torch_key, nets in NETWORKS:
        if params_key not in state:
            continue
        adam = state["adam" if params_key == "params" else "disc_adam"]
        names = _torch_names(state[params_key], nets)
        weights, moments = {}, {}
        for index, ((net, key), name) in enumerate(names):

            def pick(tree, net=net, key=key):
                return tree[key] if net is None else tree[net][key]

            dtype = template[torch_key][name].dtype
            weights[name] = pick(state[params_key]).astype(dtype)
            moments[str(index)] = {
                "step": np.array(float(adam["t"]), dtype=np.float32),
                "exp_avg": pick(adam["m"]).astype(dtype),
                "exp_avg_sq": pick(adam["v"]).astype(dtype),
            }
        optimizer_key = "optimizer" if torch_key == "model" else "disc_optimizer"
        out[torch_key] = weights
        out[optimizer_key] = {**template[optimizer_key], "state": moments if adam["t"] else {}}
    return out


def torch_to_numpy(state: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A torch-backend MLP state as a NumPy-backend state; `template`: a fresh NumPy trainer's state()."""
    out = {**template, "step": state["step"]}
    for params_key, torch_key, nets in NETWORKS:
        if params_key not in template:
            continue
        optimizer_key = "optimizer" if torch_key == "model" else "disc_optimizer"
        moments = state[optimizer_key].get("state", {})
        params = {n: {} for n in nets if n is not None}
        m, v = {n: {} for n in params}, {n: {} for n in params}
        t = 0
        for index, ((net, key), name) in enumerate(_torch_names(template[params_key], nets)):
            dtype = (template[params_key][key] if net is None else template[params_key][net][key]).dtype
            weight = np.asarray(state[torch_key][name]).astype(dtype)
            moment = moments.get(str(index))
            first = weight * 0 if moment is None else np.asarray(moment["exp_avg"]).astype(dtype)
            second = weight * 0 if moment is None else np.asarray(moment["exp_avg_sq"]).astype(dtype)
            t = t if moment is None else int(np.asarray(moment["step"]))
            for tree, value in ((params, weight), (m, first), (v, second)):
                if net is None:
                    tree[key] = value
                else:
                    tree[net][key] = value
        out[params_key] = params
        out["adam" if params_key == "params" else "disc_adam"] = {"t": t, "m": m, "v": v}
    return out


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


def convert_pickle(run_dir: str | Path) -> Path:
    """Rewrite RUN_DIR/checkpoint.pkl (minirtc 0.1) as a safe checkpoint; returns the new record.

    THIS UNPICKLES THE FILE: a pickle can run any code its author put in it.  Only call
    it on a run directory you made yourself or whose source you trust.  The pickle is
    kept, renamed checkpoint.pkl.converted, so nothing is lost.
    """
    run_dir = Path(run_dir)
    source = run_dir / checkpoint.PICKLE
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist: nothing to convert")
    try:
        payload = pickle.loads(source.read_bytes())  # trusted by the caller, see the docstring
    except Exception as error:  # a damaged pickle raises many kinds
        raise checkpoint.CheckpointError(f"{source} is not a readable pickle checkpoint ({error})") from None
    if not isinstance(payload, dict) or "trainer" not in payload or "step" not in payload:
        raise checkpoint.CheckpointError(f"{source} is not a minirtc checkpoint (no step and trainer state)")
    state = _plain_tree(payload["trainer"])
    record = checkpoint.save(run_dir, int(payload["step"]), state)
    source.rename(source.with_name(source.name + ".converted"))
    return record
