"""Gradient penalty on interpolates (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

For x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample, the critic pays
weight * E[(||grad_x_hat D(x_hat)||_2 - target)^2], a soft form of the 1-Lipschitz
constraint. The paper uses weight 10 and target 1.

Two published variants are options of the same penalty:

* ``one_sided=true``: only gradient norms above the target pay,
  weight * E[max(0, ||grad D(x_hat)|| - 1)^2], the Lipschitz penalty of WGAN-LP (Petzka,
  Fischer & Lukovnikov 2018, "On the regularization of Wasserstein GANs", ICLR): a
  1-Lipschitz critic may have smaller gradients, and penalising them biases the critic.
  Also registered as ``lipschitz-penalty``. The ``wgan-lp`` preset is ``wgan-gp`` with this
  penalty in place of the two-sided one (weight 10, 5 critic steps, Adam(1e-4, 0, 0.9)), so
  that the two presets differ only in the penalty.
* ``target=0``: the zero-centred gradient penalty of Thanh-Tung, Tran & Venkatesh 2019
  ("Improving Generalization and Stability of Generative Adversarial Networks", ICLR),
  weight * E[||grad D(x_hat)||^2] on the same interpolates, which pushes D towards
  generalising rather than memorising the training set (their code's default weight is 10).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import DStep, Technique
from ganagerie.plugins.variants import wgan_gp


class GradientPenalty(Technique):
    """Gradient penalty on real/fake interpolates, weight * (||grad D|| - target)^2 (Gulrajani 2017)."""

    seed_batched = True  # each sample's gradient depends on its own seed's D only

    def __init__(self, weight: float = 10.0, target: float = 1.0, one_sided: bool = False):
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        if target < 0:
            raise ValueError(f"target (a gradient norm) must be >= 0, got {target}")
        self.weight = weight
        self.target = target
        self.one_sided = one_sided

    def d_penalty(self, step: DStep) -> Tensor:
        real, fake, n = step.real, step.fake, step.batch_dims
        eps = step.rand(*(1,) * (real.dim() - n), like=real)  # one per sample
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(step.discriminator(x_hat).sum(), x_hat, create_graph=True)
        gap = grad.flatten(n).norm(2, dim=-1) - self.target
        if self.one_sided:
            gap = F.relu(gap)
        return self.weight * step.batch_mean(gap**2)


class LipschitzPenalty(GradientPenalty):
    """One-sided penalty weight * max(0, ||grad D|| - 1)^2 on interpolates (Petzka et al. 2018, WGAN-LP)."""

    def __init__(self, weight: float = 10.0):
        super().__init__(weight=weight, target=1.0, one_sided=True)


def wgan_lp() -> dict:
    """Wasserstein + one-sided Lipschitz penalty 10, WGAN-GP's schedule (Petzka et al. 2018)."""
    return {**wgan_gp(), "regularizers": [{"name": "lipschitz-penalty", "options": {"weight": 10.0}}]}
