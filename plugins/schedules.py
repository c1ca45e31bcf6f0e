"""Learning-rate schedules (``--set schedule_g=NAME``, ``schedule_d``), one per side; registered
by ``ganagerie.plugins.catalog``.

Each gives the factor that side's learning rate (the run's ``lr_g`` or ``lr_d``) is multiplied
by in the step after ``t`` generator updates (t = 0, 1, ..., T - 1 over a run of T steps; the
D updates of a step share its factor). A factor is a function of t and T alone, so a resumed
run applies the learning rates an uninterrupted one does.

* ``constant``: 1 (the default; the optimizer's learning rate is never touched).
* ``linear``: 1 until ``start_step`` s, then linearly to ``end`` e at the end of the run,
  ``1 - (1 - e) * (t - s) / (T - s)``. SNGAN's code decays Adam's alpha this way, from 2e-4
  to 0 over the 50k generator updates of its CIFAR-10 ResNet runs (Miyato et al. 2018,
  chainer's ``LinearShift`` in the authors' sngan_projection code).
* ``cosine``: ``eta_min + (1 - eta_min) * (1 + cos(pi * t / T)) / 2``, SGDR's annealing
  without restarts (Loshchilov & Hutter 2017, eq. 5, with eta_max the run's learning rate and
  eta_min given as a fraction of it).
* ``step``: ``gamma ** floor(t / every)``: multiplied by gamma every ``every`` steps, the
  step decay of ResNet's training (He et al. 2016 divide by 10 at fixed points).

``linear`` and ``cosine`` span the run's steps, or ``steps`` where it is given (then the
factor after it stays at its last value). A run resumed with more ``--steps`` than it was
started with decays over the new count from the step it resumes at.
"""

from __future__ import annotations

import math

from ganagerie.components import Schedule


def _span(steps: int, total_steps: int) -> int:
    return steps or total_steps


def _check_steps(steps: int) -> None:
    if steps < 0:
        raise ValueError(f"steps must be 0 (the run's steps) or more, got {steps}")


class Constant(Schedule):
    """The run's learning rate throughout (the default)."""

    def factor(self, step: int, total_steps: int) -> float:
        return 1.0


class Linear(Schedule):
    """Linear decay to end * lr from start_step to the run's end (SNGAN's code, Miyato et al. 2018)."""

    def __init__(self, end: float = 0.0, start_step: int = 0, steps: int = 0):
        if end < 0:
            raise ValueError(f"end (the final factor of the learning rate) must be >= 0, got {end}")
        if start_step < 0:
            raise ValueError(f"start_step must be >= 0, got {start_step}")
        _check_steps(steps)
        self.end, self.start_step, self.steps = end, start_step, steps

    def factor(self, step: int, total_steps: int) -> float:
        span = _span(self.steps, total_steps) - self.start_step
        if step < self.start_step or span <= 0:
            return 1.0
        done = min(step - self.start_step, span) / span
        return 1.0 - (1.0 - self.end) * done


class Cosine(Schedule):
    """Cosine annealing to eta_min * lr over the run, SGDR without restarts (Loshchilov & Hutter 2017)."""

    def __init__(self, eta_min: float = 0.0, steps: int = 0):
        if eta_min < 0:
            raise ValueError(f"eta_min (the final factor of the learning rate) must be >= 0, got {eta_min}")
        _check_steps(steps)
        self.eta_min, self.steps = eta_min, steps

    def factor(self, step: int, total_steps: int) -> float:
        span = _span(self.steps, total_steps)
        done = min(step, span) / span if span > 0 else 0.0
        return self.eta_min + (1.0 - self.eta_min) * (1.0 + math.cos(math.pi * done)) / 2.0


class StepDecay(Schedule):
    """The learning rate multiplied by gamma every `every` steps (step decay, He et al. 2016)."""

    def __init__(self, gamma: float = 0.1, every: int = 1000):
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        if every < 1:
            raise ValueError(f"every (steps between two decays) must be >= 1, got {every}")
        self.gamma, self.every = gamma, every

    def factor(self, step: int, total_steps: int) -> float:
        return self.gamma ** (step // self.every)
