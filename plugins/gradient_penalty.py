"""Gradient penalty on interpolates (Gulrajani et al. 2017, "Improved Training of Wasserstein GANs").

For x_hat = eps * x + (1 - eps) * G(z), eps ~ U[0, 1] per sample, the critic pays
weight * E[(||grad_x_hat D(x_hat)||_2 - 1)^2], a soft form of the 1-Lipschitz
constraint. The paper uses weight 10.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie import hookimpl
from ganagerie.components import DStep, Regularizer


class GradientPenalty(Regularizer):
    """Gradient penalty on real/fake interpolates, weight * (||grad D|| - target)^2."""

    def __init__(self, weight: float = 10.0, target: float = 1.0):
        if weight < 0:
            raise ValueError("weight must be >= 0")
        self.weight = weight
        self.target = target

    def d_penalty(self, step: DStep) -> Tensor:
        real, fake = step.real, step.fake
        eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
        eps = torch.rand(eps_shape, device=real.device, dtype=real.dtype)
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(step.discriminator(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.flatten(1).norm(2, dim=1)
        return self.weight * ((norm - self.target) ** 2).mean()


@hookimpl
def register_regularizers(register):
    register("gradient-penalty", GradientPenalty)
