"""K seeds at once: the one training step, mapped over the stacked members of K runs.

Each member is an ordinary `Trainer` of its own seed: its seeded initialisation,
its random stream, its data order and cursor.  `BatchedTrainer` stacks the
members' params and Adam moments along a leading member axis K and applies
`train_step` with an engine that maps every function over that axis
(`torch.vmap`, or a loop over the members for conv on CPU).  Each member draws
its step's inputs with its own stream, in the order of a single run, so member k
follows the single run of its seed to float tolerance; only the batched kernels'
rounding differs.  The members' losses are summed before the gradient: no term
couples two members, so each gets exactly its own gradient, and Adam, being
elementwise, updates the stacked tensors as K separate optimisers would.

`export(k)` writes member k's slice back into its `Trainer`, whose `state()`,
`encode_images()` and `load_state()` are then a single run's: the checkpoints of
an ensemble are ordinary checkpoints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc import backends
from minirtc.accumulate import TermAccumulator
from minirtc.errors import ConfigError
from minirtc.ops import ops_by_name
from minirtc.training.config import TrainConfig
from minirtc.training.step import StepInputs, TrainState, train_step, vae_loss
from minirtc.training.trainer import Trainer

HOST_OPS = ops_by_name("numpy")  # the host-side table of logged terms is plain NumPy
Pending = tuple[int, tuple[str, ...], Any]  # (step, term names, (K, T) terms of the members)


def make_members(configs: list[TrainConfig], images: list[np.ndarray], pixel_max: int) -> list[Trainer]:
    """One `Trainer` per config; members given the same image array share one device copy."""
    members: list[Trainer] = []
    for config, member_images in zip(configs, images):
        same = next((i for i, seen in enumerate(images[: len(members)]) if seen is member_images), None)
        shared = None if same is None else members[same].images  # K seeds, one dataset on the device
        members.append(Trainer(config, member_images, pixel_max, device_images=shared))
    return members


def check_members(members: list[Trainer]) -> None:
    """Members may differ in their seed (and so their data subset) only."""
    if not members:
        raise ConfigError("an ensemble needs at least one member")
    first = members[0].config.flat()
    for member in members[1:]:
        differ = sorted(k for k, v in member.config.flat().items() if k != "seed" and v != first[k])
        if differ:
            raise ConfigError(f"ensemble members may differ only in seed, not in {', '.join(differ)}")
        if member.dataset_size != members[0].dataset_size or member.step_count != members[0].step_count:
            raise ConfigError("ensemble members must have the same dataset size and step")


def _stack_numpy(trees: list[Any]) -> Any:
    if isinstance(trees[0], dict):
        return {k: _stack_numpy([t[k] for t in trees]) for k in trees[0]}
    return np.stack(trees)


def _member_numpy(tree: Any, k: int) -> Any:
    return {key: _member_numpy(v, k) for key, v in tree.items()} if isinstance(tree, dict) else tree[k]


class BatchedTrainer:
    """K `Trainer`s of one config (seeds differ) trained as one batched computation."""

    def __init__(self, members: list[Trainer], compile: bool = False, batch_networks: bool | None = None):
        """`batch_networks`: map the members with vmap (True) or a loop (False); None = the
        backend's default for the arch and device.  Either way the numbers are the same."""
        check_members(members)
        first = members[0]
        self.members, self.config, self.objective = members, first.config, first.objective
        self.nets, self.adam, self.disc_adam = first.nets, first.adam, first.disc_adam
        self.discriminator, self.dataset_size = first.discriminator, first.dataset_size
        backend = backends.get(self.config.backend)
        self.engine = backend.Engine(members=len(members), batch_networks=batch_networks, nets=self.nets)
        self.batch_networks = self.engine.batch_networks
        self.step_count = first.step_count
        self.train_state = self._stacked([m.state() for m in members])
        self.pending: list[Pending] = []  # (step, names, (K, T) terms) since the last pop
        self.popped: list[Pending] | None = None  # the same with the terms on the host
        self.exported: dict[str, Any] | None = None  # the stacked state as NumPy, for export(k)
        self.compiled = compile and self.nets.compile(self._first_pass)

    def _stacked(self, states: list[dict[str, Any]]) -> TrainState:
        params = self.nets.from_numpy(_stack_numpy([s["params"] for s in states]))
        opt = self.adam.from_numpy(_stack_adam([s["adam"] for s in states]), params)
        if not self.discriminator:
            return TrainState(params, {}, opt)
        disc_params = self.nets.from_numpy(_stack_numpy([s["disc_params"] for s in states]))
        disc_opt = self.disc_adam.from_numpy(_stack_adam([s["disc_adam"] for s in states]), disc_params)
        return TrainState(params, disc_params, opt, disc_opt)

    # -- one optimiser step of every member -------------------------------------------------

    def draw(self) -> StepInputs:
        """Each member's inputs from its own stream, stacked: (K, M, ...) each."""
        drawn = [member.draw() for member in self.members]
        fields = {name: [getattr(d, name) for d in drawn] for name in vars(drawn[0])}
        return StepInputs(**{k: None if v[0] is None else self.engine.stack(v) for k, v in fields.items()})

    def step(self) -> None:
        """One step of every member: `train_step`, mapped over the member axis."""
        self.train_state, terms = train_step(
            self.nets,
            self.engine,
            self.adam,
            self.disc_adam,
            self.train_state,
            self.draw(),
            self.objective,
            self.dataset_size,
            self.step_count,
            diagnostics=self.config.logs_at(self.step_count + 1),  # logged-only terms where a row is due
        )
        self.step_count += 1
        self._add_terms(terms)

    def _first_pass(self) -> None:
        """Forward and backward through the mapped networks on each member's first batch, zero noise."""
        c = self.config
        x = self.engine.stack([m.nets.as_input(m.images[: c.batch_size]) for m in self.members])
        eps = x.new_zeros((len(self.members), c.batch_size, c.latent_dim))
        s = self.train_state

        def loss(params, disc_params, x, eps):
            return vae_loss(self.nets, self.objective, self.dataset_size, 0, params, disc_params, x, eps)

        self.engine.value_and_grad(loss)(s.params, s.disc_params, x, eps)

    # -- logged terms --------------------------------------------------------------------------

    def _add_terms(self, terms: dict[str, Any]) -> None:
        names = tuple(terms)  # more on the steps that also compute the logged-only terms
        row = self.engine.stack([terms[name] for name in names]).T  # (K, T)
        self.pending.append((self.step_count, names, row))
        self.popped = None
        self.exported = None

    def member_metrics(self, k: int) -> dict[str, float]:
        """Member k's term means since the last log row; raises NonFiniteLoss like a single run."""
        if self.popped is None:
            self.popped, self.pending = self._to_host(self.pending), []
        accumulator = TermAccumulator(HOST_OPS)
        for step, names, table in self.popped:
            accumulator.add(step, dict(zip(names, table[k])))
        return accumulator.pop()

    def _to_host(self, pending: list[Pending]) -> list[Pending]:
        """The pending steps' terms moved to the host, one transfer per set of term names."""
        host: dict[int, np.ndarray] = {}
        for names in dict.fromkeys(n for _, n, _ in pending):
            index = [i for i, (_, n, _) in enumerate(pending) if n == names]
            stacked = self.engine.stack([pending[i][2] for i in index])  # (S, K, T)
            host.update(zip(index, np.asarray(self.nets.to_numpy(stacked), float)))
        return [(step, names, host[i]) for i, (step, names, _) in enumerate(pending)]

    def pop_metrics(self) -> list[dict[str, float]]:
        """Every member's term means since the last log row (what a benchmark reads)."""
        return [self.member_metrics(k) for k in range(len(self.members))]

    # -- the members' own trainers -----------------------------------------------------------

    def export(self, k: int) -> Trainer:
        """Write member k's params, Adam state and step into its Trainer and return it."""
        if self.exported is None:
            s = self.train_state
            self.exported = {
                "params": self.nets.to_numpy(s.params),
                "adam": self.adam.to_numpy(s.opt, s.params),
            }
            if self.discriminator:
                self.exported["disc_params"] = self.nets.to_numpy(s.disc_params)
                self.exported["disc_adam"] = self.disc_adam.to_numpy(s.disc_opt, s.disc_params)
        member = self.members[k]
        state = {**member.state(), "step": self.step_count}
        for part in ("params", "disc_params"):
            if part in self.exported:
                state[part] = _member_numpy(self.exported[part], k)
        for part in ("adam", "disc_adam"):
            if part in self.exported:
                saved = self.exported[part]
                state[part] = {
                    "t": saved["t"],
                    "m": _member_numpy(saved["m"], k),
                    "v": _member_numpy(saved["v"], k),
                }
        member.load_state(state)
        return member

    def export_all(self) -> list[Trainer]:
        return [self.export(k) for k in range(len(self.members))]


def _stack_adam(states: list[dict[str, Any]]) -> dict[str, Any]:
    """The members' Adam states stacked (their step counts are equal: members share the step)."""
    return {
        "t": states[0]["t"],
        "m": _stack_numpy([s["m"] for s in states]),
        "v": _stack_numpy([s["v"] for s in states]),
    }


class EnsembleMember:
    """Member k of the current ensemble seen as a single run's trainer, for the loop's recorder."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.objective = trainer.objective
        self.ensemble: BatchedTrainer | None = None
        self.index = 0

    def attach(self, ensemble: BatchedTrainer, index: int) -> None:
        self.ensemble, self.index = ensemble, index

    def pop_metrics(self) -> dict[str, float]:
        return self.ensemble.member_metrics(self.index)

    def encode_images(self, images: np.ndarray, batch_size: int = 1000):
        return self.ensemble.export(self.index).encode_images(images, batch_size)

    def decode_latents(self, z: np.ndarray) -> np.ndarray:
        return self.ensemble.export(self.index).decode_latents(z)

    def state(self) -> dict[str, Any]:
        return self.ensemble.export(self.index).state()
