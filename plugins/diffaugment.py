"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training").

The discriminator sees T(x) for real and generated samples alike, in its own update and in
the generator's, with a fresh random T every time:

    L_D = f(D(T(x))) + h(D(T(G(z)))),    L_G = g(D(T(G(z)))),

T being differentiable, so that the generator's gradient passes through it. The paper's
policy for images is "color,translation,cutout" (see ``augment_ops`` for the operations
and their ranges; on the command line write ``policy=color+translation``, since commas
separate options there). Images only: a run on vector data is refused at build time.
The paper trains it with BigGAN (hinge loss, spectral norm) and StyleGAN2 (non-saturating
loss with R1); the ``diffaug`` preset pairs it with the non-saturating loss.
"""

from __future__ import annotations

from torch import Tensor

from ganagerie.components import Technique
from ganagerie.plugins.augment_ops import RANDOM_OPS, apply_ops, parse_ops, require_images
from ganagerie.plugins.variants import vanilla

#: the policy of the paper's image experiments
PAPER_POLICY = "color,translation,cutout"


class DiffAugment(Technique):
    """Differentiable augmentation of everything D sees, real and fake (Zhao et al. 2020)."""

    def __init__(self, policy: str = PAPER_POLICY):
        self.ops = parse_ops(policy, RANDOM_OPS, "policy")

    def discriminator_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        # the one build-time hook that sees the data's shape: refuse vector data before training
        require_images(shape, "diffaugment")
        return shape

    def transform(self, x: Tensor, step: int) -> Tensor:
        require_images(x.shape[1:], "diffaugment")
        return apply_ops(x, self.ops)


def diffaug() -> dict:
    """Non-saturating loss + DiffAugment color,translation,cutout, DCGAN's Adam (Zhao et al. 2020)."""
    return {**vanilla(), "regularizers": [{"name": "diffaugment", "options": {"policy": PAPER_POLICY}}]}
