"""The training step, written once: D updates and a G update in a step order, and the log row.

One run and the S seeds of one cell trained together (``ganagerie.train.batched``) drive this
same code. What differs between them is behind ``Lanes``: how the networks are called (one
module, or S stacked copies under ``torch.vmap``), how a technique's hook is called (once,
or once per seed on that seed's slice, under that seed's RNG), and how gradient norms are
taken. One run's tensors are ``[B, ...]`` and its losses scalars; a stack's are
``[S, B, ...]`` and ``[S]``; every line below is written for both.

Per-run bookkeeping (the run directory, log window, checkpoints, RNG streams, evaluations,
samples) is the drivers', not the step's. Inside the step: no host sync, no plugin-manager
call.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..components import (
    DStep,
    GStep,
    Schedule,
    StepRunner,
    Technique,
    expect_tensor,
    generator_loss,
    implements,
)

#: training-health columns of every log row (means over the window's measured steps):
#: D's logit gap E[D(real)] - E[D(fake)], its accuracy at the midpoint of the two means
#: (meaningful for any loss), and the gradient norms of D and G before each optimizer step
DIAGNOSTICS_D = ("diag/d_gap", "diag/d_accuracy", "diag/d_grad_norm")
DIAGNOSTICS_G = ("diag/g_grad_norm",)
DIAGNOSTICS = (*DIAGNOSTICS_D, *DIAGNOSTICS_G)

#: the diagnostics are measured on one step in ``diag_every`` (a run field; steps 10, 20, ...
#: counted from 1 by default) and on the last step of every log window, so that every metrics
#: row has them; the other steps skip their reductions (about 10% of a small model's step).
#: A row's ``diag/steps`` says how many steps its means are over.
DIAG_EVERY = 10


def measures_diagnostics(step: int, cfg: Any) -> bool:
    """Whether the step that brings the run to ``step + 1`` measures the diagnostics."""
    done = step + 1
    return done % cfg.diag_every == 0 or done % cfg.log_every == 0 or done == cfg.steps


class Lanes:
    """What the step needs from the networks it trains: one run's (``OneRun``), or S seeds'
    stacked (``ganagerie.train.batched.SeedStack``).

    ``G`` and ``D`` are what contexts carry and optimizers step; ``batch_dims`` is 1 or 2.
    """

    batch_dims: int
    G: Any
    D: Any
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer

    def generate(self, z: Tensor, y: Tensor | None) -> Tensor:
        """G's samples for noise ``z`` (and labels ``y`` where G is conditional)."""
        raise NotImplementedError

    def d_side(self, real_in: Tensor, fake_in: Tensor, real_y: Tensor | None,
               fake_y: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """D's logits on both batches and D's loss from them."""
        raise NotImplementedError

    def g_side(self, fake_in: Tensor, fake_y: Tensor | None, real_in: Tensor | None,
               real_y: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
        """D's features and logits on the fakes, and (when ``real_in`` is given) its logits on
        the real batch without gradient."""
        raise NotImplementedError

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None) -> Tensor:
        raise NotImplementedError

    def grad_norm(self, net: Any) -> Tensor:
        """The gradient norm of ``net``'s parameters (one per seed)."""
        raise NotImplementedError

    def d_requires_grad(self, flag: bool) -> None:
        """Whether D's parameters take gradients (not during a G update)."""
        self.D.requires_grad_(flag)

    def call(self, techs: Sequence[Technique], method: str, *args: Any) -> Any:
        """Technique hook ``method`` of one technique (its instance per seed) on ``args``."""
        raise NotImplementedError

    def next_real(self) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def noise(self) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError


def _net_call(net: Any, x: Tensor, y: Tensor | None, method: str = "__call__") -> Tensor:
    """``net``'s ``method`` on ``x``, with the classes ``y`` where ``net`` is conditional."""
    if y is not None and getattr(net, "conditional", False):
        return getattr(net, method)(x, y)
    return getattr(net, method)(x)


class OneRun(Lanes):
    """One run's networks, optimizers and data, called directly."""

    batch_dims = 1

    def __init__(self, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, loss: Any, next_real: Callable[[], tuple],
                 noise: Callable[[], tuple]):
        self.G, self.D, self.opt_g, self.opt_d = G, D, opt_g, opt_d
        self.loss, self._g_loss = loss, generator_loss(loss)
        self.next_real, self.noise = next_real, noise
        # fixed once the techniques' setup ran; walking the module tree each call is 10x as long
        self._params = {G: list(G.parameters()), D: list(D.parameters())}
        self._d_params = self._params[D]

    def d_requires_grad(self, flag):
        for p in self._d_params:
            p.requires_grad_(flag)

    def generate(self, z, y):
        return _net_call(self.G, z, y)

    def d_side(self, real_in, fake_in, real_y, fake_y):
        real_out, fake_out = _net_call(self.D, real_in, real_y), _net_call(self.D, fake_in, fake_y)
        return real_out, fake_out, self.loss.d_loss(real_out, fake_out)

    def g_side(self, fake_in, fake_y, real_in, real_y):
        D = self.D
        feats = _net_call(D, fake_in, fake_y, "features")
        fake_out = _net_call(D, feats, fake_y, "classify")
        real_out = None
        if real_in is not None:
            with torch.no_grad():
                real_out = _net_call(D, real_in, real_y)
        return feats, fake_out, real_out

    def g_loss(self, fake_out, real_out):
        return self._g_loss(fake_out, real_out)

    def grad_norm(self, net):
        params = self._params.get(net) or list(net.parameters())
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return torch.zeros((), device=params[0].device)
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))

    def call(self, techs, method, *args):
        return getattr(techs[0], method)(*args)


class Step(StepRunner):
    """The step of one run or of a seed stack: ``train_step`` runs the run's step order.

    ``techniques`` are ``(name, instances)`` in the order of the config, one instance per
    lane (per seed). The step order is the technique's ``train_step`` where one replaces it,
    else the config's ``update`` (``STEP_ORDERS``). ``schedules`` are G's and D's learning-rate
    schedules (none: the optimizers' learning rates are left as they are); the seeds of a
    stack share their config, so one factor a step serves every seed.
    """

    def __init__(self, lanes: Lanes, cfg: Any, loss: Any,
                 techniques: Sequence[tuple[str, Sequence[Technique]]], world: Any = None,
                 schedules: Sequence[Schedule] = ()):
        self.lanes, self.cfg, self.loss = lanes, cfg, loss
        self.schedules = tuple(schedules)
        # what each optimizer's groups were built with: a schedule's factor multiplies these
        self._base_lrs = [[float(group["lr"]) for group in opt.param_groups]
                          for opt in (lanes.opt_g, lanes.opt_d)]
        self.world = world if world is not None and world.size > 1 else None  # gradients to average
        self._freeze_g_stats = cfg.generator_stats == "own-update"
        self.generator, self.discriminator = lanes.G, lanes.D
        self.optimizer_g, self.optimizer_d, self.n_critic = lanes.opt_g, lanes.opt_d, cfg.n_critic
        self.g_needs_real = bool(getattr(loss, "g_needs_real", False))
        # what a returned value that breaks its contract is blamed on
        self.loss_name, self.arch_name = cfg.loss.name, cfg.arch.name

        def having(method: str) -> list[tuple[str, Sequence[Technique]]]:
            return [(n, ts) for n, ts in techniques if implements(ts[0], method)]

        self.transforms, self.selectors = having("transform"), having("generator_logits")
        self.d_pens, self.g_pens = having("d_penalty"), having("g_penalty")
        self.after_d, self.after_g = having("after_d_step"), having("after_g_step")
        steppers = having("train_step")
        if len(steppers) > 1:
            raise ValueError(f"techniques {' and '.join(n for n, _ in steppers)} both replace the "
                             "training step; use one of them")
        if steppers:
            owner = steppers[0][1][0]  # the order is the stack's: one instance composes it
            self.order: Callable[[StepRunner], Tensor] = owner.train_step
        else:
            self.order = STEP_ORDERS[cfg.update]
        self.log_names = ["d_loss", *(f"d/{n}" for n, _ in self.d_pens), "g_loss",
                          *(f"g/{n}" for n, _ in self.g_pens)]
        self.step = 0
        self.diagnose = True
        self.last_real, self.real_y = None, None
        self.fake_y: Tensor | None = None

    # -- the step: reads top to bottom ------------------------------------------------------

    def train_step(self, diagnose: bool = True) -> tuple[Tensor, Tensor | None]:
        """One step in the run's precision: the logged values ``[C]`` (``[S, C]``), and the
        diagnostics ``[4]`` (``[S, 4]``) when ``diagnose``, else None; detached."""
        self.diagnose = diagnose
        self.apply_schedules()
        with self.precision():
            d, g = self.order(self)
        row = torch.stack([*d.log, *g.log], dim=-1)
        if row.dtype != torch.float32:  # bf16 losses: the window sums in float32
            row = row.float()
        return row, (torch.cat([d.diag, g.diag], dim=-1) if diagnose else None)

    def d_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None) -> DStep:
        lanes = self.lanes
        lanes.d_requires_grad(True)
        real = self.next_real() if real is None else real
        if fake is None:
            z = self.noise() if z is None else z
            with torch.no_grad(), self.frozen_generator_stats():
                fake = lanes.generate(z, self.fake_y)
        real_in, fake_in = self.seen_by_d(real), self.seen_by_d(fake)
        real_out, fake_out, d_loss = lanes.d_side(real_in, fake_in, self.real_y, self.fake_y)
        self.logits(real_out), self.logits(fake_out)
        expect_tensor(d_loss, "loss", self.loss_name, "d_loss", shape=real_out.shape[:-1])
        ctx = DStep(lanes.G, lanes.D, real, fake, real_out, fake_out, z, self.step, real_in, fake_in,
                    batch_dims=lanes.batch_dims, seed_rng=getattr(lanes, "rng", None),
                    real_labels=self.real_y, fake_labels=self.fake_y)
        pens = [_as_penalty(lanes.call(ts, "d_penalty", ctx), d_loss, n, "d_penalty")
                for n, ts in self.d_pens]
        lanes.opt_d.zero_grad(set_to_none=True)
        _backward(_total(d_loss, pens))
        if self.world is not None:
            self.world.average_gradients(lanes.D)
        diag = lanes.grad_norm(lanes.D) if self.diagnose else None
        lanes.opt_d.step()
        with torch.no_grad():
            for _, ts in self.after_d:
                lanes.call(ts, "after_d_step", ctx)
        ctx.log = [d_loss.detach(), *(p.detach() for p in pens)]
        if self.diagnose:
            ctx.diag = torch.stack([*_separation(real_out.detach(), fake_out.detach()), diag], dim=-1)
        return ctx

    def g_update(self, real: Tensor | None = None, z: Tensor | None = None,
                 fake: Tensor | None = None, apply: bool = True) -> GStep:
        lanes = self.lanes
        lanes.d_requires_grad(False)  # the G step needs gradients through D, not for D
        real = self.last_real if real is None else real
        z = self.noise() if z is None else z
        fake = lanes.generate(z, self.fake_y) if fake is None else fake
        fake_in = self.seen_by_d(fake)
        real_in = self.seen_by_d(real) if self.g_needs_real else None
        feats, fake_out, real_out = lanes.g_side(fake_in, self.fake_y, real_in, self.real_y)
        ctx = GStep(lanes.G, lanes.D, real, fake, feats, fake_out, z, self.step, real_out, fake_in,
                    batch_dims=lanes.batch_dims, seed_rng=getattr(lanes, "rng", None),
                    real_labels=self.real_y, fake_labels=self.fake_y)
        self.logits(fake_out)
        for n, ts in self.selectors:
            fake_out = lanes.call(ts, "generator_logits", fake_out, self.step)
            expect_tensor(fake_out, "regularizer", n, "generator_logits", dims=lanes.batch_dims)
        g_loss = expect_tensor(lanes.g_loss(fake_out, real_out), "loss", self.loss_name, "g_loss",
                               shape=fake_out.shape[:-1])
        pens = [_as_penalty(lanes.call(ts, "g_penalty", ctx), g_loss, n, "g_penalty")
                for n, ts in self.g_pens]
        lanes.opt_g.zero_grad(set_to_none=True)
        weight = self.cfg.loss_g_weight
        _backward(_total(g_loss if weight == 1 else g_loss * weight, pens))  # x * 1 is x: skip the op
        if self.world is not None:
            self.world.average_gradients(lanes.G)
        lanes.d_requires_grad(True)
        ctx.log = [g_loss.detach(), *(p.detach() for p in pens)]
        if self.diagnose:
            ctx.diag = lanes.grad_norm(lanes.G).unsqueeze(-1)
        return self.apply_g(ctx) if apply else ctx

    def apply_g(self, ctx: GStep) -> GStep:
        """G's optimizer step from the gradients its update left, then the after-G hooks."""
        self.lanes.opt_g.step()
        with torch.no_grad():
            for _, ts in self.after_g:
                self.lanes.call(ts, "after_g_step", ctx)
        return ctx

    def log_row(self, d: DStep, g: GStep) -> tuple[DStep, GStep]:
        """The step's result from its last D and G updates (a step order returns it; the
        logged values are read from the two contexts)."""
        return d, g

    # -- the learning rates, what the updates draw and what D sees ---------------------------

    def factors(self, step: int | None = None) -> tuple[float, float]:
        """G's and D's schedule factors in the step after ``step`` updates (default: the next)."""
        step = self.step if step is None else step
        if not self.schedules:
            return 1.0, 1.0
        g, d = (s.factor(step, self.cfg.steps) for s in self.schedules)
        return float(g), float(d)

    def learning_rates(self, step: int | None = None) -> tuple[float, float]:
        """The run's ``lr_g`` and ``lr_d`` times their schedules' factors (what is logged)."""
        g, d = self.factors(step)
        return self.cfg.lr_g * g, self.cfg.lr_d * d

    def apply_schedules(self) -> None:
        """Each optimizer group's learning rate for this step, set only where it changes: a
        constant schedule leaves the optimizers as they were built. The factor is a function
        of the step, which the checkpoint holds, so a resumed run sets what a straight one does."""
        if not self.schedules:
            return
        for opt, bases, factor in zip((self.lanes.opt_g, self.lanes.opt_d), self._base_lrs, self.factors()):
            for group, base in zip(opt.param_groups, bases):
                lr = base if factor == 1.0 else base * factor
                if isinstance(group["lr"], Tensor):  # a capturable optimizer's: set on its device
                    group["lr"].fill_(lr)
                elif group["lr"] != lr:
                    group["lr"] = lr


    def precision(self) -> contextlib.AbstractContextManager:
        """bfloat16 autocast when ``precision = "bf16"`` (weights and optimizer state stay fp32)."""
        if self.cfg.precision == "bf16":
            return torch.autocast(_device_of(self.lanes.G).type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def frozen_generator_stats(self) -> contextlib.AbstractContextManager:
        """With ``generator_stats = "own-update"`` (PacGAN's code), G's batch-norm running
        statistics move only in G's own update, not when D's update draws fakes."""
        if not self._freeze_g_stats:
            return contextlib.nullcontext()
        return frozen_batchnorm_stats(self.lanes.G.modules())

    def seen_by_d(self, x: Tensor) -> Tensor:
        """``x`` through the run's input transforms, in the order the techniques were given."""
        for n, ts in self.transforms:
            x = expect_tensor(self.lanes.call(ts, "transform", x, self.step), "regularizer", n,
                              "transform", dtype=x.dtype)
        return x

    def logits(self, out: Tensor) -> Tensor:
        """D's logits, one per sample (``[B]``, ``[S, B]`` for a stack), or a PluginFault
        naming the architecture: ``[B, 1]`` would broadcast in a loss without an error."""
        return expect_tensor(out, "architecture", self.arch_name, "the discriminator",
                             dims=self.lanes.batch_dims)

    def next_real(self) -> Tensor:
        """The next real batch (its labels, if the data has them, become ``real_y``)."""
        self.last_real, self.real_y = self.lanes.next_real()
        return self.last_real

    def noise(self) -> Tensor:
        """A batch of latent vectors (and, for a conditional G, the labels it draws: ``fake_y``)."""
        z, self.fake_y = self.lanes.noise()
        return z

    def generate(self, z: Tensor) -> Tensor:
        """G's samples for ``z`` with gradient (a step order that shares one G forward)."""
        return self.lanes.generate(z, self.fake_y)


def alternating(run: Step) -> tuple[DStep, GStep]:
    """n_critic D updates, each on a fresh batch and noise, then one G update."""
    for _ in range(run.n_critic):
        d = run.d_update()
    return run.log_row(d, run.g_update())


def simultaneous(run: Step) -> tuple[DStep, GStep]:
    """PacGAN's code: both sides from one batch and noise, G's gradient taken against D before
    D moves, one G forward (its batch statistics move once per step)."""
    real, z = run.next_real(), run.noise()
    fake = run.generate(z)
    g = run.g_update(real, z, fake, apply=False)
    d = run.d_update(real, z, fake.detach())
    return run.log_row(d, run.apply_g(g))


#: the built-in step orders, chosen by the config's ``update``; a technique's ``train_step``
#: is an order of the same kind
STEP_ORDERS: dict[str, Callable[[Step], tuple[DStep, GStep]]] = {
    "alternating": alternating, "simultaneous": simultaneous}


def _device_of(net: Any) -> torch.device:
    return next(iter(net.parameters())).device


def _separation(real_out: Tensor, fake_out: Tensor) -> tuple[Tensor, Tensor]:
    """D's logit gap and midpoint accuracy, per run (over the last axis)."""
    real_out, fake_out = real_out.float(), fake_out.float()
    real_mean, fake_mean = real_out.mean(-1, keepdim=True), fake_out.mean(-1, keepdim=True)
    middle = torch.lerp(real_mean, fake_mean, 0.5)
    right = ((real_out > middle).sum(-1) / (2 * real_out.shape[-1])
             + (fake_out < middle).sum(-1) / (2 * fake_out.shape[-1]))
    return (real_mean - fake_mean).squeeze(-1), right


@contextlib.contextmanager
def frozen_batchnorm_stats(modules: Iterable[nn.Module], frozen: bool = True) -> Iterator[None]:
    """While inside, the batch-norm layers among ``modules`` keep their running statistics."""
    saved = []
    if frozen:
        for m in modules:
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.momentum:
                saved.append((m, m.momentum))
                m.momentum = 0.0  # running = 1 * running + 0 * batch
    try:
        yield
    finally:
        for m, momentum in saved:
            m.momentum = momentum


def _as_penalty(value: Tensor | None, like: Tensor, name: str, side: str) -> Tensor:
    """A penalty as its side's loss is shaped (0 for None); a scalar per run, or a PluginFault
    naming the technique."""
    if value is None:
        return like.new_zeros(like.shape)
    if not (isinstance(value, Tensor) and value.shape in (torch.Size(()), like.shape)):
        expect_tensor(value, "regularizer", name, side, shape=tuple(like.shape))
    return expect_tensor(value, "regularizer", name, side).expand_as(like)


def _backward(loss: Tensor) -> None:
    """Backpropagate one run's loss, or the sum of S seeds' (independent: each seed's
    parameters get their own seed's gradient)."""
    (loss if loss.dim() == 0 else loss.sum()).backward()


def _total(loss: Tensor, penalties: list[Tensor]) -> Tensor:
    for pen in penalties:
        loss = loss + pen
    return loss
