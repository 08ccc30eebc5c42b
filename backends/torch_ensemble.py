"""Many seeds at once: K torch trainers of one config stepped as one batched computation.

Each member is an ordinary `TorchTrainer` of its own seed: its seeded
initialisation, its generator, its data order and cursor.  `TorchEnsemble`
stacks the members' weights and Adam moments along a leading member axis K
(`torch.func.stack_module_state`) and runs the networks and the objective once
for all members, `torch.vmap` over `torch.func.functional_call`.  The random
draws are made from each member's own generator in the order of
`TorchTrainer.step` (batch, eps, second batch, eps2, permutation), so member k
follows the single run of its seed to float tolerance; only the batched kernels'
rounding differs.  The members' losses are summed before `backward`: no term
couples two members, so each gets exactly its own gradient, and Adam, being
elementwise, updates the stacked tensors as K separate optimisers would.

`export(k)` writes member k's slice back into its `TorchTrainer`, whose
`state()`, `encode_images()` and `load_state()` are then a single run's: the
checkpoints of an ensemble are ordinary checkpoints.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as onp
import torch
from torch import nn
from torch.func import functional_call, stack_module_state

import minirtc
from minirtc.accumulate import TermAccumulator
from minirtc.backends.numpy_ops import NumpyOps
from minirtc.backends.torch_backend import (
    TorchTrainer,
    compile_fallback_message,
    make_adam,
    make_trainer,
    reparameterise,
)
from minirtc.training.config import ConfigError

HOST_OPS = NumpyOps()  # the host-side table of logged terms is plain NumPy


class _VAEPass(nn.Module):
    """The VAE's training forward pass as a `forward`, so `functional_call` can run it.

    Mirrors `TorchTrainer.step`: encode, cast to the run's dtype, reparameterise, decode.
    """

    def __init__(self, vae: nn.Module, dtype: torch.dtype):
        super().__init__()
        self.vae, self.dtype = vae, dtype

    def forward(self, x: torch.Tensor, eps: torch.Tensor):
        mu, logvar = self.vae.encode(x)  # (M, D) each
        mu, logvar = mu.to(self.dtype), logvar.to(self.dtype)
        z = reparameterise(mu, logvar, eps)  # (M, D)
        return mu, logvar, z, self.vae.decode(z).to(self.dtype)


class _Encode(nn.Module):
    """`vae.encode` as a `forward` (the discriminator's second batch needs only this)."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor):
        return self.vae.encode(x)


def make_members(configs: list, images: list[onp.ndarray], pixel_max: int) -> list[TorchTrainer]:
    """One `TorchTrainer` per config; members given the same image array share one device copy."""
    members: list[TorchTrainer] = []
    for config, member_images in zip(configs, images):
        member = make_trainer(config, member_images, pixel_max)
        same = next((i for i, seen in enumerate(images[: len(members)]) if seen is member_images), None)
        if same is not None:
            member.images = members[same].images  # drop the copy: K seeds, one dataset on the device
        members.append(member)
    return members


def check_members(members: list[TorchTrainer]) -> None:
    """Members may differ in their seed (and so their data subset) only."""
    if not members:
        raise ConfigError("an ensemble needs at least one member")
    first = members[0].config.to_dict()
    for member in members[1:]:
        differ = sorted(k for k, v in member.config.to_dict().items() if k != "seed" and v != first[k])
        if differ:
            raise ConfigError(f"ensemble members may differ only in seed, not in {', '.join(differ)}")
        if member.dataset_size != members[0].dataset_size or member.step_count != members[0].step_count:
            raise ConfigError("ensemble members must have the same dataset size and step")


class TorchEnsemble:
    """K `TorchTrainer`s of one config (seeds differ) trained as one batched computation."""

    def __init__(
        self, members: list[TorchTrainer], compile: bool = False, batch_networks: bool | None = None
    ):
        """`batch_networks`: run the members' networks in one vmapped call (True) or one member
        after another (False); None = `default_batch_networks`.  Either way the numbers are the same.
        """
        check_members(members)
        first = members[0]
        if batch_networks is None:
            batch_networks = default_batch_networks(first.config.arch, first.device)
        self.batch_networks = batch_networks
        self.members = members
        self.config, self.objective = first.config, first.objective
        self.device, self.dtype = first.device, first.dtype
        self.step_count = first.step_count
        # Skeletons on the meta device: functional_call supplies every weight.
        self.vae_pass = _VAEPass(copy.deepcopy(first.model).to("meta"), self.dtype)
        self.encode_pass = _Encode(self.vae_pass.vae)
        self.params = _stack([m.model for m in members])  # name -> (K, ...)
        self.optimizer = make_adam(self.params.values(), self.config.lr, self.config.adam_betas)
        _import_adam(self.optimizer, self.params, [(m.model, m.optimizer) for m in members])
        self.disc_pass = None
        if first.disc is not None:
            self.disc_pass = copy.deepcopy(first.disc).to("meta")
            self.disc_params = _stack([m.disc for m in members])
            self.disc_optimizer = make_adam(
                self.disc_params.values(), self.config.disc_lr, self.config.disc_betas
            )
            _import_adam(self.disc_optimizer, self.disc_params, [(m.disc, m.disc_optimizer) for m in members])
        d = 0 if self.disc_pass is not None else None  # no discriminator: its arguments are None
        if batch_networks:
            self.forward = torch.vmap(self._member_forward, in_dims=(0, d, 0, 0), out_dims=(0, 0, 0, 0, d))
            self.encode = torch.vmap(self._member_encode)
        else:
            self.forward = _one_by_one(self._member_forward, len(members))
            self.encode = _one_by_one(self._member_encode, len(members))
        self.loss = torch.vmap(self._member_objective, in_dims=(0, 0, 0, 0, 0, d))
        self.disc_terms = torch.vmap(self._member_disc_terms)
        self.compiled = None if not compile else _try_compile(self)
        self.names: list[str] | None = None
        self.pending: list[tuple[int, torch.Tensor]] = []  # (step, (K, T) terms) since the last pop
        self.popped: tuple[list[int], onp.ndarray] | None = None  # host table (S, K, T) of the last pop
        self.exported: set[int] = set()

    # -- the members' functions, vmapped over the member axis -------------------------

    def _member_forward(self, params, disc_params, x, eps):
        """One member's mu, logvar, z, x logits and discriminator logits on z (or None)."""
        mu, logvar, z, x_logits = functional_call(self.vae_pass, _prefixed("vae.", params), (x, eps))
        disc_logits = None
        if self.disc_pass is not None:
            disc_logits = functional_call(self.disc_pass, disc_params, (z,)).to(self.dtype)
        return mu, logvar, z, x_logits, disc_logits

    def _member_objective(self, x, x_logits, mu, logvar, z, disc_logits):
        N = self.members[0].dataset_size
        loss, terms = minirtc.objective(self.objective, x, x_logits, mu, logvar, z, N, disc_logits)
        return loss, terms

    def _member_disc_terms(self, disc_params, z, z_permuted):
        """Kim & Mnih, Alg. 2: the discriminator's loss and accuracy on real vs permuted z."""
        logits_real = functional_call(self.disc_pass, disc_params, (z,)).to(self.dtype)
        logits_perm = functional_call(self.disc_pass, disc_params, (z_permuted,)).to(self.dtype)
        return (
            minirtc.discriminator_loss(logits_real, logits_perm),
            minirtc.discriminator_accuracy(logits_real, logits_perm),
        )

    # -- one optimiser step of every member -------------------------------------------------

    def draws(self) -> dict[str, torch.Tensor]:
        """Each member's random inputs of one step, from its own generator in TorchTrainer's order."""
        c, K = self.config, len(self.members)
        shape = (c.batch_size, c.latent_dim)
        drawn: dict[str, list] = {"x": [], "eps": [], "x2": [], "eps2": []}
        for member in self.members:
            g = member.generator
            drawn["x"].append(member.next_batch())
            drawn["eps"].append(torch.randn(shape, generator=g, device=self.device, dtype=self.dtype))
            if self.disc_pass is not None:
                drawn["x2"].append(member.next_batch())
                drawn["eps2"].append(torch.randn(shape, generator=g, device=self.device, dtype=self.dtype))
        stacked = {name: torch.stack(values) for name, values in drawn.items() if values}
        assert stacked["x"].shape[0] == K
        return stacked  # x, x2: (K, M, ...); eps, eps2: (K, M, D)

    def step(self) -> None:
        """One step of every member (TorchTrainer.step, batched over the member axis)."""
        r = self.draws()
        disc_params = self.disc_params if self.disc_pass is not None else None
        forward = self.compiled or self.forward
        with self.members[0].autocast():
            mu, logvar, z, x_logits, disc_logits = forward(self.params, disc_params, r["x"], r["eps"])
        loss, terms = self.loss(r["x"], x_logits, mu, logvar, z, disc_logits)  # (K,), name -> (K,)
        self.optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # members are independent: d(sum)/d(theta_k) = d(loss_k)/d(theta_k)
        if self.disc_pass is not None:
            terms = {**terms, **self._discriminator_step(r, z)}
        self.optimizer.step()
        self.step_count += 1
        self._add_terms(terms)

    def _discriminator_step(self, r: dict[str, torch.Tensor], z: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad(), self.members[0].autocast():
            mu2, logvar2 = self.encode(self.params, r["x2"])
            z2 = reparameterise(mu2, logvar2, r["eps2"]).to(self.dtype)  # (K, M, D)
        # Each member permutes with its own generator, after its eps2 draw, as a single run does.
        z_permuted = torch.stack(
            [minirtc.permute_dims(z2[k], m.generator) for k, m in enumerate(self.members)]
        )
        with self.members[0].autocast():
            disc_loss, disc_accuracy = self.disc_terms(self.disc_params, z.detach(), z_permuted)
        self.disc_optimizer.zero_grad(set_to_none=True)  # drops the VAE loss's grads too
        disc_loss.sum().backward()
        self.disc_optimizer.step()
        return {"disc_loss": disc_loss, "disc_accuracy": disc_accuracy}

    def _member_encode(self, params, x):
        return functional_call(self.encode_pass, _prefixed("vae.", params), (x,))

    # -- logged terms --------------------------------------------------------------------------

    def _add_terms(self, terms: dict[str, torch.Tensor]) -> None:
        if self.names is None:
            self.names = list(terms)
        row = torch.stack([terms[name].detach() for name in self.names], dim=1)  # (K, T)
        self.pending.append((self.step_count, row))
        self.popped = None
        self.exported.clear()

    def member_metrics(self, k: int) -> dict[str, float]:
        """Member k's term means since the last log row; raises NonFiniteLoss like a single run."""
        if self.popped is None:
            steps = [step for step, _ in self.pending]
            table = torch.stack([row for _, row in self.pending]) if self.pending else None
            self.popped = (steps, None if table is None else table.detach().to("cpu", torch.float64).numpy())
            self.pending = []
        steps, table = self.popped  # table: (S, K, T), moved to the host in one transfer
        accumulator = TermAccumulator(HOST_OPS)
        for s, step in enumerate(steps):
            accumulator.add(step, dict(zip(self.names, table[s, k])))
        return accumulator.pop()

    def pop_metrics(self) -> list[dict[str, float]]:
        """Every member's term means since the last log row (what a benchmark reads)."""
        return [self.member_metrics(k) for k in range(len(self.members))]

    # -- the members' own trainers -----------------------------------------------------------

    def export(self, k: int) -> TorchTrainer:
        """Write member k's weights, Adam state and step into its TorchTrainer and return it."""
        member = self.members[k]
        if k not in self.exported:
            _export_adam(self.optimizer, self.params, member.model, member.optimizer, k)
            if self.disc_pass is not None:
                _export_adam(self.disc_optimizer, self.disc_params, member.disc, member.disc_optimizer, k)
            member.step_count = self.step_count
            self.exported.add(k)
        return member

    def export_all(self) -> list[TorchTrainer]:
        return [self.export(k) for k in range(len(self.members))]


def default_batch_networks(arch: str, device: torch.device) -> bool:
    """Batched networks everywhere but conv on CPU.

    vmap turns K convolutions into one grouped convolution, which oneDNN runs about 30%
    slower than K separate ones (benchmarks/run.py, 2-core Xeon); on CPU the conv
    members' networks therefore run one after another inside the ensemble's step.
    """
    return not (arch == "conv" and torch.device(device).type == "cpu")


def _one_by_one(member_fn, K: int):
    """`member_fn` over the member axis like vmap, but as a loop of K calls (outputs stacked).

    Arguments are split with `unbind`, whose backward stacks the K gradients in one go.
    """

    def split(arg):
        if arg is None:
            return [None] * K
        if isinstance(arg, dict):
            parts = {name: torch.unbind(value) for name, value in arg.items()}
            return [{name: part[k] for name, part in parts.items()} for k in range(K)]
        return torch.unbind(arg)

    def run(*args):
        outputs = [member_fn(*member_args) for member_args in zip(*(split(a) for a in args))]
        return tuple(None if parts[0] is None else torch.stack(parts) for parts in zip(*outputs))

    return run


class EnsembleMember:
    """Member k of the current ensemble seen as a single run's trainer, for the loop's recorder."""

    def __init__(self, trainer: TorchTrainer):
        self.trainer = trainer
        self.objective = trainer.objective
        self.ensemble: TorchEnsemble | None = None
        self.index = 0

    def attach(self, ensemble: TorchEnsemble, index: int) -> None:
        self.ensemble, self.index = ensemble, index

    def pop_metrics(self) -> dict[str, float]:
        return self.ensemble.member_metrics(self.index)

    def encode_images(self, images: onp.ndarray, batch_size: int = 1000):
        return self.ensemble.export(self.index).encode_images(images, batch_size)

    def decode_latents(self, z: onp.ndarray) -> onp.ndarray:
        return self.ensemble.export(self.index).decode_latents(z)

    def state(self) -> dict[str, Any]:
        return self.ensemble.export(self.index).state()


# ---------------------------------------------------------------------------
# Stacking and unstacking weights and Adam state
# ---------------------------------------------------------------------------


def _stack(modules: list[nn.Module]) -> dict[str, torch.Tensor]:
    """name -> (K, ...) leaf tensor that requires grad, in `named_parameters` order."""
    params, _buffers = stack_module_state(modules)  # these networks have no buffers
    return {name: params[name] for name, _ in modules[0].named_parameters()}


def _prefixed(prefix: str, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + name: value for name, value in params.items()}


def _import_adam(optimizer, stacked: dict[str, torch.Tensor], members: list[tuple[nn.Module, Any]]) -> None:
    """Stack the members' Adam moments (a resumed run has them; a fresh one has none)."""
    for name, stacked_param in stacked.items():
        states = [opt.state.get(module.get_parameter(name)) for module, opt in members]
        if not states[0]:
            continue
        optimizer.state[stacked_param] = {
            key: torch.stack([s[key] for s in states])
            if value.shape == stacked_param.shape[1:]
            else value.clone()  # Adam's step count: the same for every member
            for key, value in states[0].items()
        }


def _export_adam(optimizer, stacked: dict[str, torch.Tensor], module: nn.Module, member_optimizer, k: int):
    """Member k's weights and Adam moments, copied into its own module and optimiser."""
    with torch.no_grad():
        for name, param in module.named_parameters():
            stacked_param = stacked[name]
            param.copy_(stacked_param[k])
            state = optimizer.state.get(stacked_param)
            if state:
                member_optimizer.state[param] = {
                    key: value[k].clone() if value.shape == stacked_param.shape else value.clone()
                    for key, value in state.items()
                }


def _try_compile(ensemble: TorchEnsemble):
    """torch.compile of the batched forward pass, or None (with a warning) where that is unusable.

    Compiled on a first forward and backward over each member's first batch with zero
    noise, before any step and without drawing from the members' generators.
    """
    compiled = torch.compile(ensemble.forward)
    c = ensemble.config
    x = torch.stack([m.as_input(m.images[: c.batch_size]) for m in ensemble.members])  # (K, M, ...)
    eps = torch.zeros(
        (len(ensemble.members), c.batch_size, c.latent_dim), device=ensemble.device, dtype=ensemble.dtype
    )
    disc_params = ensemble.disc_params if ensemble.disc_pass is not None else None
    try:
        with ensemble.members[0].autocast():
            outputs = compiled(ensemble.params, disc_params, x, eps)
        sum(o.float().sum() for o in outputs if o is not None).backward()
    except Exception as error:  # no C++ compiler, an unsupported platform, a dynamo limit
        warnings.warn(compile_fallback_message("the ensemble", error), RuntimeWarning, stacklevel=3)
        return None
    finally:
        for param in [*ensemble.params.values(), *(disc_params or {}).values()]:
            param.grad = None
    return compiled
