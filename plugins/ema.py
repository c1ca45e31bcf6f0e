"""Exponential moving average of the generator's weights (Yazici et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training"; Karras et al. 2018, progressive GANs).

After every generator update, theta_ema <- decay * theta_ema + (1 - decay) * theta;
buffers (batch-norm statistics) are copied. Training is unchanged; the average is the
generator that samples and is evaluated. The papers use decay 0.999 (ProGAN) to 0.9999.
With ``start`` s the average copies G's weights (decay 0) in the G updates before the s-th
(counted from 1), as BigGAN's code does with ``--ema_start`` (Brock et al. 2019,
BigGAN-PyTorch ``utils.ema``: 1000 in its CIFAR-10 script); 0 averages from the first update.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from ganagerie.components import Discriminator, Generator, GStep, Technique


class GeneratorEMA(Technique):
    """Exponential moving average of G's weights samples and is evaluated (Yazici et al. 2019)."""

    def __init__(self, decay: float = 0.999, start: int = 0):
        if not 0 < decay < 1:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        if start < 0:
            raise ValueError(f"start must be 0 (average from the first update) or more, got {start}")
        self.decay, self.start = decay, start
        self.generator: Generator | None = None
        self.average: Generator | None = None

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        self.generator = generator
        self.average = copy.deepcopy(generator).eval().requires_grad_(False)

    def after_g_step(self, step: GStep) -> None:
        avg, gen = list(self.average.parameters()), list(self.generator.parameters())
        decay = 0.0 if step.step + 1 < self.start else self.decay  # step: updates done before
        torch._foreach_lerp_(avg, gen, 1.0 - decay)
        for a, g in zip(self.average.buffers(), self.generator.buffers()):
            a.copy_(g)

    def sampling_generator(self) -> Generator | None:
        return self.average

    def state_dict(self) -> dict[str, Any]:
        return {"average": self.average.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.average.load_state_dict(state["average"])
