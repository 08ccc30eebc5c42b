"""A run's trainer: its networks, optimiser states, random stream and data order, on any backend.

`Trainer.step()` draws the step's inputs (`draw_inputs`) and applies `train_step`,
the one training step of every backend; the backend (`minirtc.backends.get`)
supplies networks, engine and random stream.  `state()` is plain NumPy and JSON
values, so a checkpoint continues bit-identically on the same backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minirtc import backends
from minirtc.accumulate import TermAccumulator
from minirtc.errors import ConfigError
from minirtc.training.config import TrainConfig
from minirtc.training.step import StepInputs, TrainState, draw_inputs, train_step, vae_loss


class DataStream:
    """Shuffled passes over N items, M at a time; a new order at the start of each pass."""

    def __init__(self, dataset_size: int, batch_size: int, rng: Any):
        self.dataset_size, self.batch_size = dataset_size, batch_size
        self.order = rng.permutation(dataset_size)  # this pass's order, (N,) integers
        self.cursor = 0

    def next_indices(self, rng: Any) -> Any:
        """The indices (M,) of the next batch (drawing a new order when this pass runs out)."""
        M = self.batch_size
        if self.cursor + M > self.dataset_size:
            self.order, self.cursor = rng.permutation(self.dataset_size), 0
        index = self.order[self.cursor : self.cursor + M]
        self.cursor += M
        return index


def make_networks(config: TrainConfig, image_shape: tuple[int, ...], pixel_max: int):
    """The backend's networks for `config` (the discriminator only where the objective has one)."""
    objective = config.objective.resolved()
    discriminator = None
    if objective.tc_estimator == "discriminator":
        discriminator = (config.disc_hidden, config.disc_layers)
    backend = backends.get(config.backend)
    return backend.Networks(
        config.arch,
        tuple(image_shape),
        tuple(config.hidden),
        config.latent_dim,
        discriminator,
        config.dtype,
        config.device,
        pixel_max,
        bf16=config.bf16,
    )


class Trainer:
    """One run of `config` over the training images (N, H, W, C) uint8."""

    def __init__(self, config: TrainConfig, images: np.ndarray, pixel_max: int, device_images: Any = None):
        """`device_images`: the images already where the networks read them (shared by seeds)."""
        backend = backends.get(config.backend)
        self.config = config
        self.objective = config.objective.resolved()
        self.discriminator = self.objective.tc_estimator == "discriminator"
        self.image_shape = tuple(images.shape[1:])
        self.dataset_size = len(images)
        self.nets = make_networks(config, self.image_shape, pixel_max)
        self.engine = backend.Engine()
        self.adam = self.engine.adam(config.lr, config.adam_betas)
        self.disc_adam = self.engine.adam(config.disc_lr, config.disc_betas)
        params, disc_params = self.nets.init(config.seed)
        self.train_state = TrainState(
            params,
            disc_params,
            self.adam.init(params),
            self.disc_adam.init(disc_params) if self.discriminator else None,
        )
        self.rng = backend.Random(config.seed, config.device)
        self.images = self.nets.put(images) if device_images is None else device_images
        self.stream = DataStream(self.dataset_size, config.batch_size, self.rng)
        self.step_count = 0
        self.terms = TermAccumulator(backend.ops)

    # -- one optimiser step ---------------------------------------------------------

    def draw(self) -> StepInputs:
        c = self.config
        return draw_inputs(
            self.stream, self.rng, self.nets, self.images, c.latent_dim, c.dtype, self.discriminator
        )

    def step(self) -> None:
        """One update of the VAE (and of its discriminator)."""
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
        self.terms.add(self.step_count, terms)

    def pop_metrics(self) -> dict[str, float]:
        """Term means since the last call; raises NonFiniteLoss naming the step and term."""
        return self.terms.pop()

    def compile(self) -> bool:
        """torch.compile the networks (torch only); False, with a warning, where unusable."""
        return self.nets.compile(self._first_pass)

    def _first_pass(self) -> None:
        """Forward and backward through every network on the first batch, zero noise, no draws."""
        c = self.config
        x = self.nets.as_input(self.images[: c.batch_size])
        eps = x.new_zeros((c.batch_size, c.latent_dim))
        loss = vae_loss(self.nets, self.objective, self.dataset_size, 0, self.train_state.params,
                        self.train_state.disc_params, x, eps)[0]  # fmt: skip
        loss.backward()
        for tree in (self.train_state.params, self.train_state.disc_params):
            for value in tree.values():
                value.grad = None

    # -- evaluation ---------------------------------------------------------------------

    def encode_images(self, images: np.ndarray, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images (B, H, W, C) -> mu, logvar (B, D) as float64 NumPy."""
        mus, logvars = [], []
        with self.engine.constant():
            for start in range(0, len(images), batch_size):
                x = self.nets.as_input(self.nets.put(images[start : start + batch_size]))
                mu, logvar = self.nets.encode(self.train_state.params, x)
                mus.append(_float64(self.nets, mu))
                logvars.append(_float64(self.nets, logvar))
        return np.concatenate(mus), np.concatenate(logvars)

    def decode_latents(self, z: np.ndarray) -> np.ndarray:
        """z (B, D) -> mean images (B, H, W, C) in [0, 1] (the sigmoid of the logits)."""
        with self.engine.constant():
            z_in = self.nets.from_numpy({"z": np.asarray(z)})["z"]
            logits = _float64(self.nets, self.nets.decode(self.train_state.params, z_in))
        images = 1.0 / (1.0 + np.exp(-logits))
        if self.config.arch == "conv":
            images = images.transpose(0, 2, 3, 1)  # (B, C, H, W) -> (B, H, W, C)
        return images.reshape((len(z), *self.image_shape))

    # -- checkpoints ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Everything needed to continue bit-identically: NumPy arrays and JSON values."""
        s, nets = self.train_state, self.nets
        state = {
            "params": nets.to_numpy(s.params),
            "adam": self.adam.to_numpy(s.opt, s.params),
            "rng": self.rng.get_state(),
            "order": _index_numpy(self.stream.order),
            "cursor": self.stream.cursor,
            "step": self.step_count,
        }
        if self.discriminator:
            state["disc_params"] = nets.to_numpy(s.disc_params)
            state["disc_adam"] = self.disc_adam.to_numpy(s.disc_opt, s.disc_params)
        return state

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from `state()`'s output."""
        missing = sorted({"params", "adam", "rng", "order", "cursor", "step"} - set(state))
        if missing:
            raise ConfigError(
                f"this checkpoint lacks {', '.join(missing)}: it was written by another version of "
                "minirtc's trainer; train the run again (--overwrite)"
            )
        params = self.nets.from_numpy(state["params"])
        self.train_state = TrainState(params, {}, self.adam.from_numpy(state["adam"], params))
        if self.discriminator:
            disc_params = self.nets.from_numpy(state["disc_params"])
            self.train_state.disc_params = disc_params
            self.train_state.disc_opt = self.disc_adam.from_numpy(state["disc_adam"], disc_params)
        self.rng.set_state(state["rng"])
        self.stream.order = self.rng.index_array(state["order"])
        self.stream.cursor, self.step_count = int(state["cursor"]), int(state["step"])


def _float64(nets, array) -> np.ndarray:
    return np.asarray(nets.to_numpy(array), dtype=np.float64)


def _index_numpy(order: Any) -> np.ndarray:
    """A data order (N,) as a NumPy int64 copy, from either backend's array."""
    return np.array(order.cpu().numpy() if hasattr(order, "cpu") else order, dtype=np.int64)


def make_trainer(config: TrainConfig, images: np.ndarray, pixel_max: int) -> Trainer:
    """The trainer for `config` over the training images (N, H, W, C) uint8."""
    return Trainer(config, images, pixel_max)
