"""The optimizers of G and D (``--set optimizer_d=NAME``), each from torch.optim.

* ``adam`` (Kingma & Ba 2015): the default on both sides; DCGAN's lr 2e-4, betas (0.5, 0.999).
* ``rmsprop`` (Tieleman & Hinton 2012): what weight-clipped WGAN trains with (Arjovsky et
  al. 2017, Algorithm 1: lr 5e-5), because momentum destabilised its critic. It reads the
  run's learning rate; ``alpha`` is its decay (torch's default 0.99, as WGAN's code used);
  the run's betas do not apply to it.
"""

from __future__ import annotations

from typing import Any

import torch

from ganagerie.components import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with the run's lr and betas."""

    elementwise = True

    def __init__(self, eps: float = 1e-8, weight_decay: float = 0.0):
        if eps <= 0 or weight_decay < 0:
            raise ValueError("eps must be > 0 and weight_decay >= 0")
        self.eps, self.weight_decay = eps, weight_decay

    def build(self, params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=lr, betas=betas, eps=self.eps,
                                weight_decay=self.weight_decay)


class RMSprop(Optimizer):
    """RMSprop with the run's lr (WGAN's optimizer, Arjovsky et al. 2017); betas unused."""

    elementwise = True

    def __init__(self, alpha: float = 0.99, eps: float = 1e-8, momentum: float = 0.0):
        if not 0 <= alpha < 1 or eps <= 0 or momentum < 0:
            raise ValueError("alpha must be in [0, 1), eps > 0 and momentum >= 0")
        self.alpha, self.eps, self.momentum = alpha, eps, momentum

    def build(self, params: Any, lr: float, betas: tuple[float, float]) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(params, lr=lr, alpha=self.alpha, eps=self.eps,
                                   momentum=self.momentum)
