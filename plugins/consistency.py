"""Balanced consistency regularization, bCR (Zhao et al. 2021, "Improved Consistency
Regularization for GANs", AAAI; after CR-GAN, Zhang et al. 2020).

The discriminator is asked to score an image and a semantics-preserving augmentation T of
it alike, on real and on generated images (CR-GAN did reals only, which let the generator
learn the augmentation's artefacts):

    L_D += lambda_real * E_x ||D(x) - D(T(x))||^2 + lambda_fake * E_z ||D(G(z)) - D(T(G(z)))||^2,

D(.) being the logit. The paper uses lambda_real = lambda_fake = 10 and, for T, a horizontal
flip and a shift by a few pixels; here a flip with probability 1/2 and a shift of up to 1/8
of the side (4 pixels at 32x32) with zero padding, the operations of DiffAugment
(``augment=flip+translation+color+cutout`` on the command line picks others). x is what D saw
in the update (after any other transform), so D(x) is the update's own logits: one more D
forward per side. The paper's setting closest to ours is SNDCGAN (non-saturating loss,
spectral norm, Adam 2e-4, betas (0.5, 0.999)): the ``bcr`` preset.
"""

from __future__ import annotations

from torch import Tensor

from ganagerie.components import Discriminator, DStep, Technique
from ganagerie.plugins.augment_ops import RANDOM_OPS, apply_ops, parse_ops, require_images
from ganagerie.plugins.variants import vanilla


class BalancedConsistency(Technique):
    """D scores x and T(x) alike, on reals and fakes: lambda * (D(x) - D(T(x)))^2 (Zhao et al. 2021)."""

    def __init__(self, lambda_real: float = 10.0, lambda_fake: float = 10.0,
                 augment: str = "flip,translation"):
        if lambda_real < 0 or lambda_fake < 0:
            raise ValueError(f"lambda_real and lambda_fake must be >= 0, got {lambda_real}, {lambda_fake}")
        self.lambda_real, self.lambda_fake = lambda_real, lambda_fake
        self.ops = parse_ops(augment, RANDOM_OPS, "augment")

    def discriminator_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        require_images(shape, "consistency")
        return shape

    def d_penalty(self, step: DStep) -> Tensor:
        D = step.discriminator
        real = step.real if step.real_input is None else step.real_input
        fake = step.fake if step.fake_input is None else step.fake_input
        penalty = step.real_out.new_zeros(())
        if self.lambda_real:
            penalty = penalty + self.lambda_real * self.gap(D, real, step.real_out)
        if self.lambda_fake:
            penalty = penalty + self.lambda_fake * self.gap(D, fake, step.fake_out)
        return penalty

    def gap(self, discriminator: Discriminator, x: Tensor, out: Tensor) -> Tensor:
        """E ||D(x) - D(T(x))||^2 over the batch, given ``out = D(x)``."""
        require_images(x.shape[1:], "consistency")
        diff = out - discriminator(apply_ops(x, self.ops))
        return diff.pow(2).reshape(diff.shape[0], -1).sum(1).mean()


def bcr() -> dict:
    """Non-saturating loss, spectral norm and bCR 10/10 (flip, shift), DCGAN's Adam (Zhao et al. 2021)."""
    return {**vanilla(), "regularizers": [{"name": "spectral-norm", "options": {}},
                                          {"name": "consistency", "options": {}}]}
