"""Seed-batched training: the seeds of one (dataset, variant) cell trained together, in one process.

Runs that differ only in their seed are S copies of the same networks. Stacked with
``torch.func.stack_module_state`` and called through ``torch.vmap``, they take one forward
and one backward per update instead of S; on small models, where a step is mostly
per-operation overhead rather than arithmetic, that is most of the time (the measured
gains are in benchmarks/results/perf.md). One optimizer over the stacked tensors is S
optimizers when its update is elementwise (Adam, RMSprop: ``Optimizer.elementwise``).

Every seed keeps what a one-by-one run has: its own ``Trainer`` (config, run directory,
data order, RNG stream, log window, checkpoints, evaluations, samples). The stacked state
is written back into the seeds' trainers before anything reads it (an evaluation, a
checkpoint, samples), so a batched run writes today's files and resumes from them, batched
or one by one. Randomness is drawn seed by seed from each seed's own RNG state, in the
order a one-by-one run draws it, so the S runs equal one-by-one training up to
floating-point reassociation (a vmapped matmul may sum in another order).

What is batched, and what makes a cell train one seed at a time instead (``why_not``
answers in one line): every loss that ``torch.vmap`` can map over the seeds (all built-in
ones); architectures whose forward it can map (the MLP and DCGAN, batch norm included:
the stacked running statistics move per seed); optimizers that declare ``elementwise``;
and techniques that declare ``seed_batched`` (their penalties take seed-stacked contexts:
``DStep.batch_dims == 2``). The others change the networks or keep state in ways one
stacked step cannot honour; docs/plugins.md lists each built-in with its reason.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from ..components import TECHNIQUE_METHODS, DStep, GStep, generator_loss, implements
from ..config import RunConfig
from ..registry import Registry
from .build import build_dataset, build_optimizer
from .trainer import Trainer, TrainResult, _separation, _total, frozen_batchnorm_stats

#: the only hooks a seed-batched technique may implement (the others see one run's state);
#: ``setup`` runs on each seed's networks before they are stacked
BATCHED_HOOKS = ("discriminator_shape", "setup", "d_penalty", "g_penalty")

#: ``--batch-seeds auto`` on a CPU batches a cell when G's and D's parameters times the batch
#: size stay at or below this, and the cell has at least ``CPU_MIN_SEEDS`` seeds to train.
#: Measured by benchmarks/perf.py on a 2-core machine at one thread (benchmarks/results/perf.md):
#: at 4 seeds, MLPs of 1.1e6 / 4.3e6 / 9.6e6 / 1.7e7 train 1.69 / 1.27 / 1.03 / 0.93x as fast
#: together; PacGAN's 2-D networks (9e7) and DCGAN do not gain. Whole suites decide the seed
#: count: ``quick`` (3 seeds, 2 jobs) is 1.01-1.03x as fast batched (3 pairs); with 8 seeds it
#: was 1.27x before a plugin's matrix-vector products were made cheap under vmap; 2 seeds step 0.96x
CPU_CROSSOVER = 1e7
CPU_MIN_SEEDS = 3


def why_not(cfg: RunConfig, registry: Registry, mode: str = "on", seeds: int | None = None) -> str | None:
    """Why the ``seeds`` seeds of ``cfg``'s cell cannot (or, with ``mode="auto"``, should not)
    be trained together, in one line; None when they can."""
    if mode == "off":
        return "--batch-seeds off"
    if mode == "auto" and cfg.device == "cpu" and seeds is not None and seeds < CPU_MIN_SEEDS:
        return (f"on a CPU, {seeds} seeds train faster one at a time than together "
                "(--batch-seeds on to batch anyway)")
    if cfg.compile or cfg.precision != "fp32":
        return "compiled and bf16 runs train one seed at a time (the stacked step is eager fp32)"
    for spec in cfg.regularizers:
        tech = registry.create("regularizer", spec.name, spec.options)
        if not getattr(tech, "seed_batched", False):
            return f"technique '{spec.name}' is not seed-batched"
        extra = [m for m in TECHNIQUE_METHODS if m not in BATCHED_HOOKS and m != "load_state_dict"
                 and implements(tech, m)]
        if extra:
            return f"technique '{spec.name}' implements {extra[0]}, which a seed-batched step cannot call"
    for side in ("optimizer_g", "optimizer_d"):
        spec = getattr(cfg, side)
        if not getattr(registry.create("optimizer", spec.name, spec.options), "elementwise", False):
            return f"optimizer '{spec.name}' does not declare an elementwise update"
    loss = registry.create("loss", cfg.loss.name, cfg.loss.options)
    try:
        logits = torch.linspace(-2, 2, 8).view(2, 4)
        torch.vmap(loss.d_loss)(logits, logits.flip(1))
        torch.vmap(generator_loss(loss))(logits, logits.flip(1))
    except Exception as exc:  # a loss torch.vmap cannot map: the reason names the op
        return f"loss '{cfg.loss.name}' cannot be mapped over seeds ({str(exc).splitlines()[0][:80]})"
    nets, problem = _probe(cfg, registry)
    if problem:
        return problem
    if mode == "auto" and cfg.device == "cpu" and nets is not None:
        size = sum(p.numel() for net in nets for p in net.parameters()) * cfg.batch_size
        if size > CPU_CROSSOVER:
            return (f"on a CPU, networks of this size (parameters x batch = {size:.2g}) train faster "
                    "one seed at a time (--batch-seeds on to batch anyway)")
    return None


def _probe(cfg: RunConfig, registry: Registry) -> tuple[tuple[nn.Module, ...] | None, str | None]:
    """The networks built on the meta device (no memory), and why two stacked copies cannot be
    called through ``torch.vmap``, if they cannot."""
    try:  # what the run's own build would refuse, the run reports itself
        shape = d_shape = tuple(build_dataset(cfg, registry).shape)
        for spec in cfg.regularizers:
            tech = registry.create("regularizer", spec.name, spec.options)
            if implements(tech, "discriminator_shape"):
                d_shape = tuple(tech.discriminator_shape(d_shape))
        arch = registry.create("architecture", cfg.arch.name, cfg.arch.options)
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            copies = [(arch.build(shape)[0], arch.build(d_shape)[1]) for _ in range(2)]
    except Exception:
        return None, None
    try:
        with torch.device("meta"):
            G, D = Stacked([c[0] for c in copies]), Stacked([c[1] for c in copies])
            x = G(torch.zeros(2, 3, G.latent_dim or 1))
            D.classify(D.features(x))
    except Exception as exc:  # an op without a batching rule: the reason names it
        return copies[0], (f"architecture '{cfg.arch.name}' cannot be mapped over seeds "
                           f"({str(exc).splitlines()[0][:80]})")
    return copies[0], None


class SeedRng:
    """Each seed's global RNG state; ``use(s)`` makes seed ``s``'s the current one."""

    def __init__(self, states: Sequence[tuple[Tensor, Tensor | None]]):
        self.cuda = states[0][1] is not None
        self.states = list(states)

    def _get(self) -> tuple[Tensor, Tensor | None]:
        return torch.get_rng_state(), torch.cuda.get_rng_state() if self.cuda else None

    def _set(self, state: tuple[Tensor, Tensor | None]) -> None:
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1])

    @contextlib.contextmanager
    def use(self, s: int) -> Iterator[None]:
        """Seed ``s``'s stream as the global one; the caller's comes back afterwards."""
        outer = self._get()
        self._set(self.states[s])
        try:
            yield
        finally:
            self.states[s] = self._get()
            self._set(outer)

    def each(self, draw: Callable[[int], Tensor]) -> Tensor:
        """``draw(s)`` under each seed's RNG, stacked on a new first dimension."""
        out = []
        for s in range(len(self.states)):
            with self.use(s):
                out.append(draw(s))
        return torch.stack(out)


class Stacked:
    """S copies of one network as stacked tensors, called on ``[S, B, ...]`` inputs.

    ``params`` are leaf tensors ``[S, *shape]`` an optimizer steps; ``buffers`` (batch-norm
    statistics) move per seed in training mode. The networks in ``nets`` are the seeds' own
    modules: ``write_back`` copies the stacked state into them.

    A call maps one network method over the seed axis with ``torch.vmap``, the method run on
    ``base`` (a copy of seed 0's network, for its structure and settings) with each seed's
    slices put in place of its parameters and buffers (``bound``). The slots are resolved
    once, here: ``torch.func.functional_call`` resolves them on every call, which on small
    networks cost as much as the arithmetic. ``mapped`` puts several calls, of one or more
    stacked networks, into a single ``torch.vmap``.
    """

    def __init__(self, nets: Sequence[nn.Module]):
        self.nets = list(nets)
        params, buffers = stack_module_state(self.nets)
        self.params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        self.buffers = buffers
        self.base = copy.deepcopy(self.nets[0])
        self.latent_dim = getattr(self.base, "latent_dim", None)
        self._slots = [(*_slot(self.base, k), "_parameters") for k in self.params]
        self._slots += [(*_slot(self.base, k), "_buffers") for k in self.buffers]
        self._mapped = {m: mapped(lambda net, x, m=m: getattr(net, m)(x), self)
                        for m in ("forward", "features", "classify") if hasattr(self.base, m)}

    def state(self) -> tuple[Tensor, ...]:
        """The stacked parameters and buffers, in slot order (what ``bound`` takes, per seed)."""
        return (*self.params.values(), *self.buffers.values())

    @contextlib.contextmanager
    def bound(self, state: Sequence[Tensor]) -> Iterator[nn.Module]:
        """``base`` with ``state`` (one seed's slices, inside a mapped function) in its slots."""
        slots = self._slots
        saved = [getattr(owner, kind)[name] for owner, name, kind in slots]
        for (owner, name, kind), value in zip(slots, state):
            getattr(owner, kind)[name] = value
        try:
            yield self.base
        finally:
            for (owner, name, kind), value in zip(slots, saved):
                getattr(owner, kind)[name] = value

    def __call__(self, x: Tensor) -> Tensor:
        return self._mapped["forward"](x)

    def features(self, x: Tensor) -> Tensor:
        return self._mapped["features"](x)

    def classify(self, h: Tensor) -> Tensor:
        return self._mapped["classify"](h)

    def modules(self) -> Iterator[nn.Module]:
        return self.base.modules()

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())

    def requires_grad_(self, flag: bool) -> Stacked:
        for p in self.params.values():
            p.requires_grad_(flag)
        return self

    def grad_norms(self) -> Tensor:
        """Each seed's gradient norm over all parameters, ``[S]``."""
        grads = [p.grad.flatten(1) for p in self.params.values() if p.grad is not None]
        if not grads:
            return next(iter(self.params.values())).new_zeros(len(self.nets))
        return torch.linalg.vector_norm(torch.cat(grads, dim=1), dim=1)

    @torch.no_grad()
    def write_back(self) -> None:
        for s, net in enumerate(self.nets):
            for k, v in net.named_parameters():
                v.copy_(self.params[k][s])
            for k, v in net.named_buffers():
                v.copy_(self.buffers[k][s])


def mapped(fn: Callable[..., Any], *nets: Stacked) -> Callable[..., Any]:
    """``fn(*networks, *inputs)`` over the seed axis in one ``torch.vmap`` call: each of ``nets``
    enters ``fn`` as its ``base`` bound to one seed's slices, and each input is ``[S, ...]``.
    One call instead of one per network call: on small networks ``torch.vmap``'s own work on
    every call (wrapping each stacked tensor) is a visible share of a step."""
    def per_seed(states: tuple[tuple[Tensor, ...], ...], *xs: Tensor) -> Any:
        with contextlib.ExitStack() as stack:
            return fn(*(stack.enter_context(net.bound(st)) for net, st in zip(nets, states)), *xs)

    vmapped = torch.vmap(per_seed)
    return lambda *xs: vmapped(tuple(net.state() for net in nets), *xs)


class SeedBatch:
    """Trains the trainers of one cell's seeds together; each keeps its own files and state.

    The trainers must be at the same step, built from configs that differ only in the seed
    (the harness groups them so), and ``why_not`` must have found nothing.
    """

    def __init__(self, trainers: Sequence[Trainer]):
        self.trainers = list(trainers)
        first = self.trainers[0]
        self.cfg, self.device, self.step = first.cfg, first.device, first.step
        if any(t.step != self.step for t in self.trainers):
            raise ValueError("seed-batched runs must start at the same step")
        self.rng = SeedRng([(t.rng_at_start, t.cuda_rng_at_start) for t in self.trainers])
        self.loss, self.g_loss = first.loss, first.g_loss
        self.g_needs_real = first.g_needs_real
        self.d_pens, self.g_pens = first.d_pens, first.g_pens  # stateless: seed 0's instances serve all
        self.G = Stacked([t.G for t in self.trainers])
        self.D = Stacked([t.D for t in self.trainers])
        cfg, registry = self.cfg, first.registry
        self.opt_g = build_optimizer(registry, cfg.optimizer_g, self.G.parameters(), cfg.lr_g, cfg.betas_g)
        self.opt_d = build_optimizer(registry, cfg.optimizer_d, self.D.parameters(), cfg.lr_d, cfg.betas_d)
        _stack_optimizer_state(self.opt_g, [t.opt_g for t in self.trainers], self.G)
        _stack_optimizer_state(self.opt_d, [t.opt_d for t in self.trainers], self.D)
        self.last_real = torch.stack([t.last_real for t in self.trainers])
        self.live = [True] * len(self.trainers)
        # each update's network calls and loss in one mapped call (see ``mapped``)
        self._d_from_fake = mapped(self._d_side, self.D)
        self._d_from_noise = mapped(self._d_side_from_noise, self.G, self.D)
        self._g_from_fake = mapped(self._g_side, self.D)
        self._g_from_noise = mapped(self._g_side_from_noise, self.G, self.D)

    # -- one seed's network calls and losses, mapped over the seeds ----------------------------

    def _d_side(self, d: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, ...]:
        real_out, fake_out = d(real), d(fake)
        gap, accuracy = _separation(real_out.detach(), fake_out.detach())
        return real_out, fake_out, self.loss.d_loss(real_out, fake_out), gap, accuracy

    def _d_side_from_noise(self, g: nn.Module, d: nn.Module, real: Tensor, z: Tensor) -> tuple[Tensor, ...]:
        with torch.no_grad():
            fake = g(z)
        return fake, *self._d_side(d, real, fake)

    def _g_side(self, d: nn.Module, fake: Tensor, *real: Tensor) -> tuple[Tensor, ...]:
        feats = d.features(fake)
        fake_out = d.classify(feats)
        if not real:  # the loss does not read D's logits on the real batch
            return feats, fake_out, self.g_loss(fake_out, None)
        with torch.no_grad():
            real_out = d(real[0])
        return feats, fake_out, self.g_loss(fake_out, real_out), real_out

    def _g_side_from_noise(self, g: nn.Module, d: nn.Module, z: Tensor, *real: Tensor) -> tuple[Tensor, ...]:
        fake = g(z)
        return fake, *self._g_side(d, fake, *real)

    # -- one step for all seeds ---------------------------------------------------------------

    def train_step(self) -> Tensor:
        """Like ``Trainer.train_step``: rows ``[S, columns]``."""
        if self.cfg.update == "simultaneous":
            real, z = self.next_real(), self.noise()
            fake = self.G(z)
            g = self.g_update(real, z, fake, apply=False)
            d = self.d_update(real, z, fake.detach())
            self.opt_g.step()
            return torch.cat([d.log, g.log], dim=1)
        for _ in range(self.cfg.n_critic):
            d = self.d_update()
        g = self.g_update()
        return torch.cat([d.log, g.log], dim=1)

    def d_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None) -> DStep:
        G, D = self.G, self.D
        D.requires_grad_(True)
        real = self.next_real() if real is None else real
        if fake is None:
            z = self.noise() if z is None else z
            with self.frozen_generator_stats():
                fake, real_out, fake_out, d_loss, gap, accuracy = self._d_from_noise(real, z)
        else:
            real_out, fake_out, d_loss, gap, accuracy = self._d_from_fake(real, fake)
        ctx = DStep(G, D, real, fake, real_out, fake_out, z, self.step, real, fake,  # type: ignore[arg-type]
                    batch_dims=2, seed_rng=self.rng)
        pens = [t.d_penalty(ctx) for _, t in self.d_pens]
        pens = [d_loss.new_zeros(d_loss.shape) if p is None else p.expand_as(d_loss) for p in pens]
        self.opt_d.zero_grad(set_to_none=True)
        _total(d_loss, pens).sum().backward()  # seeds are independent: each gets its own gradient
        d_grad = D.grad_norms()
        self.opt_d.step()
        ctx.log = torch.stack([d_loss.detach(), *(p.detach() for p in pens), gap, accuracy, d_grad], dim=1)
        return ctx

    def g_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None, apply: bool = True) -> GStep:
        G, D = self.G, self.D
        D.requires_grad_(False)
        real = self.last_real if real is None else real
        z = self.noise() if z is None else z
        reals = (real,) if self.g_needs_real else ()
        if fake is None:
            fake, feats, fake_out, g_loss, *real_out = self._g_from_noise(z, *reals)
        else:
            feats, fake_out, g_loss, *real_out = self._g_from_fake(fake, *reals)
        ctx = GStep(G, D, real, fake, feats, fake_out, z, self.step, real_out[0] if real_out else None,
                    fake, batch_dims=2, seed_rng=self.rng)  # type: ignore[arg-type]
        pens = [t.g_penalty(ctx) for _, t in self.g_pens]
        pens = [g_loss.new_zeros(g_loss.shape) if p is None else p.expand_as(g_loss) for p in pens]
        self.opt_g.zero_grad(set_to_none=True)
        _total(g_loss * self.cfg.loss_g_weight, pens).sum().backward()
        D.requires_grad_(True)
        ctx.log = torch.stack([g_loss.detach(), *(p.detach() for p in pens), G.grad_norms()], dim=1)
        if apply:
            self.opt_g.step()
        return ctx

    def frozen_generator_stats(self) -> contextlib.AbstractContextManager:
        return frozen_batchnorm_stats(self.G.modules(), self.cfg.generator_stats == "own-update")

    def next_real(self) -> Tensor:
        self.last_real = torch.stack([t.source.next() for t in self.trainers])
        return self.last_real

    def noise(self) -> Tensor:
        return self.rng.each(lambda s: self.trainers[s].noise())

    # -- around the step ----------------------------------------------------------------------

    def sync(self) -> None:
        """Write the stacked networks and optimizer state into every seed's trainer."""
        self.G.write_back()
        self.D.write_back()
        _write_back_optimizer(self.opt_g, [t.opt_g for t in self.trainers], self.G)
        _write_back_optimizer(self.opt_d, [t.opt_d for t in self.trainers], self.D)

    def fit(self) -> list[TrainResult]:
        """Train every seed to ``cfg.steps``; a seed that diverges stops, the others go on."""
        for t in self.trainers:
            t.begin()
        synced_at = -1

        def sync() -> None:
            nonlocal synced_at
            if synced_at != self.step:
                self.sync()
                synced_at = self.step

        while self.step < self.cfg.steps and any(self.live):
            rows = self.train_step()
            self.step += 1
            for s, t in enumerate(self.trainers):
                if self.live[s]:
                    with self.rng.use(s):  # a checkpoint records the seed's own RNG state
                        self.live[s] = t.end_step(rows[s], sync=sync)
        return [t.finish() for t in self.trainers]


def _slot(root: nn.Module, qualified: str) -> tuple[nn.Module, str]:
    """The module holding parameter or buffer ``qualified`` (``net.0.weight``) of ``root``, and its name."""
    path, _, name = qualified.rpartition(".")
    return (root.get_submodule(path) if path else root), name


def _stack_optimizer_state(opt: torch.optim.Optimizer, per_seed: Sequence[torch.optim.Optimizer],
                           stacked: Stacked) -> None:
    """Give the stacked optimizer the seeds' states (a resumed run's moments), stacked."""
    for i, param in enumerate(stacked.params.values()):
        states = [o.state.get(o.param_groups[0]["params"][i], {}) for o in per_seed]
        if states[0]:
            opt.state[param] = {k: torch.stack([st[k] for st in states]) if _per_seed(k, v, param[0])
                                else v.clone() for k, v in states[0].items()}


def _write_back_optimizer(opt: torch.optim.Optimizer, per_seed: Sequence[torch.optim.Optimizer],
                          stacked: Stacked) -> None:
    for i, param in enumerate(stacked.params.values()):
        state = opt.state.get(param, {})
        for s, o in enumerate(per_seed):
            o.state[o.param_groups[0]["params"][i]] = {
                k: v[s].clone() if _per_seed(k, v, param) else v.clone() for k, v in state.items()}


def _per_seed(key: str, value: Any, param: Tensor) -> bool:
    """Whether an optimizer state entry is per parameter element (a moment: stacked per seed)
    or shared by the seeds (Adam's step count, the same for all)."""
    return key != "step" and isinstance(value, Tensor) and value.shape == param.shape


def train_seeds(trainers: Sequence[Trainer]) -> list[TrainResult]:
    """Train prepared trainers of one cell together (see ``SeedBatch``)."""
    return SeedBatch(trainers).fit()


