"""Seed-batched training: the seeds of one (dataset, variant) cell trained together, in one process.

Runs that differ only in their seed are S copies of the same networks. Stacked with
``torch.func.stack_module_state`` and called through ``torch.vmap``, they take one forward
and one backward per update instead of S; on small models, where a step is mostly
per-operation overhead rather than arithmetic, that is most of the time (the measured
gains are in benchmarks/results/perf.md). One optimizer over the stacked tensors is S
optimizers when its update is elementwise (Adam, RMSprop: ``Optimizer.elementwise``).

The step is the one of ``ganagerie.train.step``: ``SeedStack`` is its ``Lanes`` for S
seeds. Every seed keeps what a one-by-one run has: its own ``Trainer`` (config, run
directory, data order, RNG stream, log window, technique instances, checkpoints,
evaluations, samples). Each seed's networks become views of the stacked tensors, so what
reads them (a technique's hook, an evaluation, a checkpoint) sees the stack's current
weights; only the optimizer state is written back, before a checkpoint.

A technique's hooks run once per seed, on that seed's slice of the step's tensors, its
own networks and its own instance, under that seed's RNG: a technique written for one run
is correct for S seeds. A technique that declares ``seed_batched`` has its penalties and
after-step hooks called once with the stacked context instead (faster; the kit checks
that it gives what one run by one gives). Randomness is drawn seed by seed from each
seed's own RNG state, in the order a one-by-one run draws it, so the S runs equal
one-by-one training up to floating-point reassociation (a vmapped matmul may sum in
another order). What makes a cell train one seed at a time instead, ``why_not`` says in
one line: a loss, architecture or optimizer that cannot be mapped over seeds, a technique
that holds the optimizers (``setup_optimizers``), compiled or bf16 runs, and on a CPU sizes
where batching does not pay. The learning-rate schedules are the step's: the seeds share a
config, so one factor a step serves the stack's optimizers.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import stack_module_state

from ..components import DStep, GStep, Technique, generator_loss, implements
from ..config import RunConfig
from ..registry import Registry
from .build import build_dataset, build_optimizer
from .step import Lanes, Step, _net_call, measures_diagnostics
from .trainer import Trainer, TrainResult

#: the hooks a ``seed_batched`` technique has called once with the stacked context; every
#: other hook, and every hook of the other techniques, runs once per seed
STACKED_HOOKS = ("d_penalty", "g_penalty", "after_d_step", "after_g_step")

#: ``--batch-seeds auto`` on a CPU batches a cell when G's and D's parameters times the batch
#: size stay at or below this, and the cell has at least ``CPU_MIN_SEEDS`` seeds to train.
#: Measured with the one step by benchmarks/perf.py on a 2-core machine at one thread
#: (benchmarks/results/perf.md, 2026-12-03): at 4 seeds, MLPs of 1.1e6 / 4.3e6 / 9.6e6 / 1.7e7 /
#: 3.8e7 train 1.34 / 1.20 / 1.27 / 1.17 / 1.17x as fast together; PacGAN's 2-D networks (9e7)
#: gain 1.01-1.05x and DCGAN is not batched. Whole suites: ``quick --seeds 8`` (2 jobs) is 1.61x;
#: 2 seeds step 0.95x
CPU_CROSSOVER = 4e7
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
    for side in ("optimizer_g", "optimizer_d"):
        spec = getattr(cfg, side)
        if not getattr(registry.create("optimizer", spec.name, spec.options), "elementwise", False):
            return f"optimizer '{spec.name}' does not declare an elementwise update"
    for spec in cfg.regularizers:  # it would hold one seed's optimizers, not the stack's
        if implements(registry.create("regularizer", spec.name, spec.options), "setup_optimizers"):
            return f"technique '{spec.name}' sees the optimizers (setup_optimizers), which a stack replaces"
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
            y = torch.zeros(2, 3, dtype=torch.long)  # classes, for conditional networks
            _net_call(G, torch.zeros(2, 3, G.latent_dim or 1), y)
            x = torch.zeros(2, 3, *d_shape)  # what D sees, after a technique's packing
            _net_call(D, _net_call(D, x, y, "features"), y, "classify")
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
        self.conditional = getattr(self.base, "conditional", False)
        self._mapped = {m: mapped(lambda net, x, *y, m=m: getattr(net, m)(x, *y), self)
                        for m in ("forward", "features", "classify") if hasattr(self.base, m)}

    def bind_views(self) -> None:
        """Make each seed's own network hold views of the stacked tensors (autograd views of
        the parameters): the seed's modules then read, and in-place hooks write, the stack."""
        for s, net in enumerate(self.nets):
            for k, v in self.params.items():
                owner, name = _slot(net, k)
                owner._parameters[name] = v[s]
            for k, v in self.buffers.items():
                owner, name = _slot(net, k)
                owner._buffers[name] = v[s]

    def state_dict(self) -> dict[str, Tensor]:
        """The stacked parameters and buffers, detached (what ``load_state_dict`` restores)."""
        return {k: v.detach() for k, v in (*self.params.items(), *self.buffers.items())}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        for k, v in (*self.params.items(), *self.buffers.items()):
            v.copy_(state[k])

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

    def __call__(self, x: Tensor, *y: Tensor) -> Tensor:
        return self._mapped["forward"](x, *y)

    def features(self, x: Tensor, *y: Tensor) -> Tensor:
        return self._mapped["features"](x, *y)

    def classify(self, h: Tensor, *y: Tensor) -> Tensor:
        return self._mapped["classify"](h, *y)

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


class SeedStack(Lanes):
    """The step's ``Lanes`` for the S seeds of one cell: stacked networks, one optimizer per
    side over the stacked tensors, each seed's data and RNG, each seed's technique hooks."""

    batch_dims = 2

    def __init__(self, trainers: Sequence[Trainer]):
        self.trainers = list(trainers)
        first = self.trainers[0]
        cfg, registry = first.cfg, first.registry
        self.rng = SeedRng([(t.rng_at_start, t.cuda_rng_at_start) for t in self.trainers])
        self.G = Stacked([t.G for t in self.trainers])
        self.D = Stacked([t.D for t in self.trainers])
        self.G.bind_views()
        self.D.bind_views()
        self.opt_g = build_optimizer(registry, cfg.optimizer_g, self.G.parameters(), cfg.lr_g, cfg.betas_g)
        self.opt_d = build_optimizer(registry, cfg.optimizer_d, self.D.parameters(), cfg.lr_d, cfg.betas_d)
        _stack_optimizer_state(self.opt_g, [t.opt_g for t in self.trainers], self.G)
        _stack_optimizer_state(self.opt_d, [t.opt_d for t in self.trainers], self.D)
        loss = first.loss  # a loss keeps no state: one instance serves every seed
        d_loss, g_loss = loss.d_loss, generator_loss(loss)

        def d_side(d: nn.Module, real_in: Tensor, fake_in: Tensor, *ys: Tensor) -> tuple[Tensor, ...]:
            real_y, fake_y = ys or (None, None)
            real_out, fake_out = _net_call(d, real_in, real_y), _net_call(d, fake_in, fake_y)
            return real_out, fake_out, d_loss(real_out, fake_out)

        def g_side(d: nn.Module, fake_in: Tensor, fake_y: Tensor | None, real_in: Tensor | None,
                   real_y: Tensor | None) -> tuple[Tensor, ...]:
            feats = _net_call(d, fake_in, fake_y, "features")
            fake_out = _net_call(d, feats, fake_y, "classify")
            if real_in is None:
                return feats, fake_out
            with torch.no_grad():
                return feats, fake_out, _net_call(d, real_in, real_y)

        self._d_side = mapped(d_side, self.D)
        # torch.vmap maps tensors only: one mapped call for each set of inputs a G update has
        self._g_side = {(y, r): mapped(lambda d, x, *rest, y=y, r=r: g_side(d, x, *_unpack(rest, y, r)),
                                       self.D) for y in (False, True) for r in (False, True)}
        self._g_loss = torch.vmap(lambda fake_out: g_loss(fake_out, None))
        self._g_loss_real = torch.vmap(g_loss)

    def generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        return _net_call(self.G, z, y)

    def d_side(self, real_in, fake_in, real_y, fake_y):
        ys = () if real_y is None else (real_y, fake_y)
        return self._d_side(real_in, fake_in, *ys)

    def g_side(self, fake_in, fake_y, real_in, real_y):
        rest = [t for t in (fake_y, real_in, real_y) if t is not None]
        out = self._g_side[(fake_y is not None, real_in is not None)](fake_in, *rest)
        return (*out, None) if real_in is None else out

    def g_loss(self, fake_out, real_out):
        return self._g_loss(fake_out) if real_out is None else self._g_loss_real(fake_out, real_out)

    def grad_norm(self, net: Stacked) -> Tensor:
        return net.grad_norms()

    def call(self, techs: Sequence[Technique], method: str, *args: Any) -> Any:
        """Once with the stacked context for a ``seed_batched`` technique's penalties and
        after-step hooks; else once per seed (its instance, its slice, its networks, its RNG),
        the results stacked."""
        if method in STACKED_HOOKS and getattr(techs[0], "seed_batched", False):
            return getattr(techs[0], method)(*args)
        out = []
        for s, tech in enumerate(techs):
            with self.rng.use(s):
                out.append(getattr(tech, method)(*(self._slice(a, s) for a in args)))
        if all(o is None for o in out):
            return None
        for o in out:  # not a tensor: handed on as it is, for the step's check to name its technique
            if o is not None and not isinstance(o, Tensor):
                return o
        like = next(o for o in out if o is not None)
        return torch.stack([like.new_zeros(like.shape) if o is None else o for o in out])

    def _slice(self, value: Any, s: int) -> Any:
        """Seed ``s``'s part of a hook's argument: its rows of a tensor, its own networks and
        rows in a context."""
        if isinstance(value, Tensor):
            return value[s]
        if isinstance(value, (DStep, GStep)):
            t = self.trainers[s]
            fields = {f: getattr(value, f) for f in _CONTEXT_TENSORS if hasattr(value, f)}
            return dataclasses.replace(
                value, generator=t.G, discriminator=t.D, batch_dims=1, seed_rng=None,
                **{f: None if v is None else v[s] for f, v in fields.items()})
        return value

    def next_real(self) -> tuple[Tensor, Tensor | None]:
        return _stack_pairs([t.next_batch() for t in self.trainers])

    def noise(self) -> tuple[Tensor, Tensor | None]:
        pairs = []
        for s, t in enumerate(self.trainers):
            with self.rng.use(s):
                pairs.append(t.noise())
        return _stack_pairs(pairs)

    def sync(self) -> None:
        """Write the stacked optimizer state into every seed's optimizer (the networks are views)."""
        _write_back_optimizer(self.opt_g, [t.opt_g for t in self.trainers], self.G)
        _write_back_optimizer(self.opt_d, [t.opt_d for t in self.trainers], self.D)


#: the per-sample tensors of a step context, sliced per seed for a per-seed hook
_CONTEXT_TENSORS = ("real", "fake", "real_out", "fake_out", "z", "real_input", "fake_input",
                    "fake_features", "real_labels", "fake_labels")


def _unpack(rest: Sequence[Tensor], labelled: bool, with_real: bool) -> tuple[Tensor | None, ...]:
    """``(fake_y, real_in, real_y)`` from the tensors a mapped G-side call was given."""
    it = iter(rest)
    fake_y = next(it) if labelled else None
    real_in = next(it) if with_real else None
    real_y = next(it) if labelled and with_real else None
    return fake_y, real_in, real_y


def _stack_pairs(pairs: Sequence[tuple[Tensor, Tensor | None]]) -> tuple[Tensor, Tensor | None]:
    xs, ys = zip(*pairs)
    return torch.stack(xs), (None if ys[0] is None else torch.stack(ys))


class SeedBatch:
    """Trains the trainers of one cell's seeds together through the one step; each keeps its
    own files and state.

    The trainers must be at the same step, built from configs that differ only in the seed
    (the harness groups them so), and ``why_not`` must have found nothing.
    """

    def __init__(self, trainers: Sequence[Trainer]):
        self.trainers = list(trainers)
        first = self.trainers[0]
        self.cfg = first.cfg
        if any(t.step != first.step for t in self.trainers):
            raise ValueError("seed-batched runs must start at the same step")
        for t in self.trainers:
            t.seed_group = tuple(u.cfg.seed for u in self.trainers)
        self.lanes = SeedStack(self.trainers)
        techniques = [(name, tuple(t.run.techniques[i][1] for t in self.trainers))
                      for i, (name, _) in enumerate(first.run.techniques)]
        self.stepper = Step(self.lanes, self.cfg, first.loss, techniques, schedules=first.schedules)
        self.stepper.step = first.step
        self.stepper.last_real = torch.stack([t.stepper.last_real for t in self.trainers])
        if first.stepper.real_y is not None:
            self.stepper.real_y = torch.stack([t.stepper.real_y for t in self.trainers])
        self.live = [True] * len(self.trainers)

    def fit(self) -> list[TrainResult]:
        """Train every seed to ``cfg.steps``; a seed that diverges stops, the others go on."""
        with self.trainers[0].faults_marked(self.trainers):
            return self._fit()

    def _fit(self) -> list[TrainResult]:
        cfg, stepper = self.cfg, self.stepper
        for t in self.trainers:
            t.begin()
        synced_at = -1

        def sync() -> None:
            nonlocal synced_at
            if synced_at != stepper.step:
                self.lanes.sync()
                synced_at = stepper.step

        while stepper.step < cfg.steps and any(self.live):
            rows, diags = stepper.train_step(measures_diagnostics(stepper.step, cfg))
            stepper.step += 1
            for s, t in enumerate(self.trainers):
                if self.live[s]:
                    with self.lanes.rng.use(s):  # a checkpoint records the seed's own RNG state
                        self.live[s] = t.end_step(rows[s], None if diags is None else diags[s], sync=sync)
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
    for o in per_seed:  # the learning rates the schedules set, which a checkpoint records
        for group, stacked_group in zip(o.param_groups, opt.param_groups):
            group["lr"] = stacked_group["lr"]
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


