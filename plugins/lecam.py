"""LeCam regularization (Tseng, Jiang, Liu, Yang & Yang 2021, "Regularizing Generative
Adversarial Networks under Limited Data", CVPR).

The discriminator's outputs are anchored to moving averages of its past outputs on the
other kind of data::

    R_LC = E_x[ ||D(x) - alpha_F||^2 ] + E_z[ ||D(G(z)) - alpha_R||^2 ]

added to D's loss with weight lambda, where alpha_R and alpha_F are exponential moving
averages of D's mean output on real and on generated batches (decay 0.99, the value of the
authors' StyleGAN2 code; their BigGAN code leaves its class default, 0.9). The paper shows
the regularised objective relates to the LeCam divergence, more robust than the
Jensen-Shannon one when data is scarce. lambda = 0.3 is the value of the authors' BigGAN
CIFAR-10 scripts (``--LC 0.3``); their StyleGAN2 scripts use much smaller ones.

``one_sided=True`` is the form of both released implementations: only D(x) above alpha_F
and D(G(z)) below alpha_R pay, max(0, D(x) - alpha_F)^2 + max(0, alpha_R - D(G(z)))^2.

Order and state. As in the authors' code, each D update first folds the batch's mean
outputs into the averages, then computes the penalty with the updated averages (which are
constants for the gradient). The averages are zero-debiased, alpha = ema / (1 - decay^t)
after t updates, as the StyleGAN2 release does (the BigGAN release instead tracks the
plain value for its first 1000 iterations and starts the penalty after them). They live
on D's device and are updated in place under no_grad: no host sync. The biased averages
and t are the technique's state (in the checkpoint); alpha_real and alpha_fake are logged.

The ``lecam`` preset is the training setting of the authors' BigGAN CIFAR scripts around
the regularizer: hinge loss, spectral norm in G and D, 4 D steps per G step, Adam with
lr 2e-4 and betas (0, 0.999) on both sides, lambda 0.3. It leaves out what this project
does not have or sets elsewhere: the BigGAN architecture, DiffAugment, batch size 50 and the
generator EMA (decay 0.9999 from iteration 1000; add ``--reg ema:decay=0.9999``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Discriminator, DStep, Generator, Technique


class LeCam(Technique):
    """LeCam: D's outputs anchored to moving averages of its outputs on the other kind (Tseng et al. 2021)."""

    def __init__(self, weight: float = 0.3, decay: float = 0.99, one_sided: bool = False):
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.weight, self.decay, self.one_sided = weight, decay, one_sided
        self.ema_real = torch.zeros(())
        self.ema_fake = torch.zeros(())
        self.updates = 0

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        device = next(discriminator.parameters()).device
        self.ema_real, self.ema_fake = self.ema_real.to(device), self.ema_fake.to(device)

    def anchors(self) -> tuple[Tensor, Tensor]:
        """The debiased averages (alpha_R, alpha_F); zeros before the first update."""
        if self.updates == 0:
            return self.ema_real.clone(), self.ema_fake.clone()
        debias = 1.0 - self.decay**self.updates  # a Python float: no sync
        return self.ema_real / debias, self.ema_fake / debias

    def d_penalty(self, step: DStep) -> Tensor:
        with torch.no_grad():
            self.ema_real.lerp_(step.real_out.mean().to(self.ema_real.dtype), 1.0 - self.decay)
            self.ema_fake.lerp_(step.fake_out.mean().to(self.ema_fake.dtype), 1.0 - self.decay)
            self.updates += 1
            alpha_real, alpha_fake = self.anchors()
        real_gap, fake_gap = step.real_out - alpha_fake, alpha_real - step.fake_out
        if self.one_sided:
            real_gap, fake_gap = F.relu(real_gap), F.relu(fake_gap)
        return self.weight * (real_gap.square().mean() + fake_gap.square().mean())

    def log_values(self) -> Mapping[str, Tensor]:
        alpha_real, alpha_fake = self.anchors()
        return {"alpha_real": alpha_real, "alpha_fake": alpha_fake}

    def state_dict(self) -> dict[str, Any]:
        return {"ema_real": self.ema_real.clone(), "ema_fake": self.ema_fake.clone(),
                "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.ema_real.copy_(state["ema_real"])
        self.ema_fake.copy_(state["ema_fake"])
        self.updates = int(state["updates"])


def lecam() -> dict:
    """Hinge + LeCam 0.3 + spectral norm on G and D, BigGAN's CIFAR schedule (Tseng et al. 2021)."""
    return {
        "loss": "hinge",
        "regularizers": [{"name": "spectral-norm", "options": {"generator": True}},
                         {"name": "lecam", "options": {"weight": 0.3}}],
        "n_critic": 4,
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        "betas_g": [0.0, 0.999],
        "betas_d": [0.0, 0.999],
    }
