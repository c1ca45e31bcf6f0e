"""R1 and R2 gradient penalties (Mescheder, Geiger & Nowozin 2018, "Which Training Methods for
GANs do actually Converge?", ICML; its "simplified gradient penalties").

The discriminator pays for the squared norm of its input gradient on real data (R1) or on
generated data (R2)::

    R1 = gamma/2 * E_{x ~ p_data}[ ||grad_x D(x)||^2 ]
    R2 = gamma/2 * E_{x ~ p_G}[ ||grad_x D(x)||^2 ]

The paper proves training with either penalty locally convergent near an equilibrium where
the unregularised game need not converge; it uses gamma = 10 for its image experiments.

``every=k`` is lazy regularisation (Karras et al. 2020, "Analyzing and Improving the Image
Quality of StyleGAN", sec. 3.1): the penalty is computed only on steps where
step % k == 0 and multiplied by k, so that its average weight stays gamma/2; StyleGAN2
uses k = 16. Here the lazy penalty is added to that step's D loss (StyleGAN2 runs it as a
separate optimiser step, and also rescales Adam's lr and betas by k/(k+1), which is the
optimizer's business: set lr_d and betas_d). The step index is a Python int: skipping costs
no host sync. With n_critic > 1, every D update of a regularised step pays.

The gradient is taken with respect to what D was given (``real_input``/``fake_input``,
the samples after the run's input transforms, the same tensors as ``real``/``fake``
when there are none): the paper penalises D's own input gradient. (StyleGAN2-ADA instead
differentiates through the augmentation, with respect to the un-augmented image.) It
costs one more forward and a double backward through D.

The ``r1-gan`` preset is the paper's image setting (the ``configs/`` of its code): the
non-saturating loss, R1 with gamma = 10, one D step per G step, RMSProp with lr 1e-4 on both
sides, and the generator's weights averaged with decay 0.999 for sampling.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie.components import DStep, Technique


class _InputGradientPenalty(Technique):
    #: which samples are penalised: "real" (R1) or "fake" (R2)
    side: str
    seed_batched = True  # each sample's input gradient depends on its own seed's D only

    def __init__(self, gamma: float = 10.0, every: int = 1):
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0, got {gamma}")
        if every < 1:
            raise ValueError(f"every must be at least 1 (1 penalises every step), got {every}")
        self.gamma, self.every = gamma, every

    def periods(self) -> tuple[int, ...]:
        return (self.every,)

    def d_penalty(self, step: DStep) -> Tensor | None:
        if step.step % self.every:
            return None
        if self.side == "real":
            seen = step.real if step.real_input is None else step.real_input
        else:
            seen = step.fake if step.fake_input is None else step.fake_input
        x = seen.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(step.discriminator(x).sum(), x, create_graph=True)
        per_sample = grad.flatten(step.batch_dims).square().sum(-1)
        return (self.gamma / 2 * self.every) * step.batch_mean(per_sample)


class R1(_InputGradientPenalty):
    """R1: gamma/2 * E||grad D(x)||^2 on real data, lazy every k steps (Mescheder et al. 2018)."""

    side = "real"


class R2(_InputGradientPenalty):
    """R2: gamma/2 * E||grad D(x)||^2 on generated data, lazy every k steps (Mescheder et al. 2018)."""

    side = "fake"


def r1_gan() -> dict:
    """Non-saturating loss + R1 10, RMSProp lr 1e-4, 1 D step, G averaged 0.999 (Mescheder et al. 2018)."""
    return {
        "loss": "non-saturating",
        "regularizers": [{"name": "r1", "options": {"gamma": 10.0}},
                         {"name": "ema", "options": {"decay": 0.999}}],
        "n_critic": 1,
        "optimizer_g": "rmsprop",
        "optimizer_d": "rmsprop",
        "lr_g": 1e-4,
        "lr_d": 1e-4,
    }
