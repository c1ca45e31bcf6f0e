"""DRAGAN's gradient penalty around the real data (Kodali, Abernethy, Hays & Kira 2017, "On
Convergence and Stability of GANs", arXiv:1705.07215; its first version was "How to Train
Your DRAGAN").

The discriminator pays, on every update,

    weight * E[(||grad_x D(x_hat)||_2 - target)^2],
    x_hat = x + alpha * (x_p - x),   x_p = x + c * std(x) * u,

with x a real batch, u ~ U[0, 1) drawn per coordinate, alpha ~ U[0, 1] drawn per sample and
std(x) one number: the population standard deviation (divisor N) of every coordinate of
every sample of the batch. Defaults weight = 10, target = 1, c = 0.5. Unlike WGAN-GP's
penalty, it constrains D's slope only near the real data, where the paper finds the sharp
gradients of the degenerate local equilibria behind mode collapse.

What this follows, and where it departs:

* The paper's text writes the penalty at x + delta with isotropic delta ~ N(0, c I), c ~ 10,
  lambda ~ 10, k = 1 and no interpolation. Its reference code (kodalinaveen3/DRAGAN,
  DRAGAN.ipynb) perturbs as above: one-sided uniform noise scaled by 0.5 times the batch's
  numpy ``std()``, then a random point between x and x_p. We follow the code, as the paper
  is read through its code where the two differ; ``c`` is the code's 0.5, not the text's 10.
* The batch is the one the discriminator saw (``DStep.real_input``: after the run's input
  transforms such as packing or augmentation, the raw batch when there are none), so that
  the penalty is taken where D is evaluated. The reference code has no such transforms.
* Randomness: u, then alpha, from torch's global RNG on the batch's device (the code draws
  u with numpy and alpha in TensorFlow); the trainer seeds and checkpoints that RNG.
"""

from __future__ import annotations

import torch
from ganagerie.components import DStep, Technique
from torch import Tensor


class DraganPenalty(Technique):
    """Gradient penalty at random perturbations of the real data, weight * (||grad D|| - 1)^2."""

    def __init__(self, weight: float = 10.0, c: float = 0.5, target: float = 1.0):
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        if c < 0:
            raise ValueError(f"c (the perturbation scale, in batch standard deviations) must be "
                             f">= 0, got {c}")
        self.weight, self.c, self.target = weight, c, target

    def d_penalty(self, step: DStep) -> Tensor:
        x = step.real_input if step.real_input is not None else step.real
        x = x.detach()
        # one std over the whole batch, numpy's divisor N, as the reference code's minibatch.std()
        scale = self.c * x.std(correction=0)
        u = torch.rand(x.shape, device=x.device, dtype=x.dtype)
        alpha = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
        x_hat = (x + alpha * (scale * u)).requires_grad_(True)
        (grad,) = torch.autograd.grad(step.discriminator(x_hat).sum(), x_hat, create_graph=True)
        norm = grad.flatten(1).norm(2, dim=1)
        return self.weight * ((norm - self.target) ** 2).mean()


def dragan_preset() -> dict:
    """Non-saturating loss + DRAGAN penalty 10, Adam(1e-4, 0.5, 0.9) (Kodali et al. 2017's code)."""
    # the reference notebook: sigmoid cross-entropy D, non-saturating G, one D step per G step,
    # Adam(lr=1e-4, beta1=0.5, beta2=0.9) on both. Its batch of 128 is left to the dataset and
    # the suite, so that a comparison with `vanilla` changes one thing at a time.
    return {
        "loss": "non-saturating",
        "regularizers": [{"name": "dragan", "options": {"weight": 10.0, "c": 0.5}}],
        "n_critic": 1,
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas_g": [0.5, 0.9],
        "betas_d": [0.5, 0.9],
    }
