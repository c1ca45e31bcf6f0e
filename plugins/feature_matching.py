"""Feature matching (Salimans et al. 2016, "Improved Techniques for Training GANs", sec. 3.1).

The generator matches the mean of an intermediate discriminator layer f on real
data: ||E_x f(x) - E_z f(G(z))||_2^2. Alone it is the generator's objective (the
`feature-matching` variant sets loss_g_weight=0); with a loss it is a penalty at a
weight.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie.components import GStep, Technique


class FeatureMatching(Technique):
    """Generator matches the mean discriminator features of real data (Salimans et al. 2016)."""

    def __init__(self, weight: float = 1.0):
        if weight < 0:
            raise ValueError("weight must be >= 0")
        self.weight = weight

    seed_batched = True

    def g_penalty(self, step: GStep) -> Tensor:
        with torch.no_grad():  # the real statistics are a target, not a path for gradients
            real_mean = step.batch_mean(step.discriminator.features(step.real))
        fake_mean = step.batch_mean(step.fake_features)
        return self.weight * (real_mean - fake_mean).pow(2).sum(-1)
