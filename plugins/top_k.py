"""Top-k generator updates (Sinha et al. 2020, "Top-k Training of GANs: Improving GAN
Performance by Throwing Away Bad Samples", NeurIPS).

When the generator is updated, only the k generated samples of the batch that the
discriminator scores highest (the most realistic) contribute to its loss; the gradient of
the other B - k is zeroed. The discriminator's update is unchanged. k is annealed: it
starts at the batch size B and shrinks by a factor gamma every epoch, down to a floor of
nu * B::

    k(epoch) = max(gamma^epoch * B, nu * B)        (rounded down, at least 1)

The paper uses gamma = 0.99 and nu = 0.5 for most of its experiments; the authors' code
has the same defaults and rounds k down as here.

The trainer counts generator steps, not epochs: ``decay_every`` is the number of generator
steps that plays the role of one epoch, so epoch = step // decay_every. One epoch of N
training samples at batch size B with n_critic D updates per step is N / (B * n_critic)
steps; the default 1000 is one epoch of the 2-D protocol of PacGAN and VEEGAN (100,000
points, batch 100). Set it to your data's epoch to follow the paper.

Every built-in loss gives higher logits to samples D finds more real, so "best" is "largest
logit". k is computed from the step (a Python int) and the batch's shape: no host sync.
With PacGAN packing, the kept logits are those of the best packs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ganagerie.components import Technique
from ganagerie.plugins.variants import vanilla


class TopK(Technique):
    """The generator learns only from the k best-scored fakes, k annealed from B to nu*B (Sinha 2020)."""

    def __init__(self, gamma: float = 0.99, nu: float = 0.5, decay_every: int = 1000):
        if not 0 < gamma <= 1:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        if not 0 < nu <= 1:
            raise ValueError(f"nu (the floor of k as a fraction of the batch) must be in (0, 1], got {nu}")
        if decay_every < 1:
            raise ValueError(f"decay_every must be at least 1 generator step, got {decay_every}")
        self.gamma, self.nu, self.decay_every = gamma, nu, decay_every
        self.k = 0  # the last k used, for the log

    def k_at(self, step: int, batch: int) -> int:
        """How many of ``batch`` generated samples the generator learns from at ``step``."""
        epoch = step // self.decay_every
        return max(1, int(max(self.gamma**epoch, self.nu) * batch))

    def generator_logits(self, fake_out: Tensor, step: int) -> Tensor:
        self.k = self.k_at(step, fake_out.shape[0])
        # the selected values keep their gradient; the dropped ones get none
        return torch.topk(fake_out, self.k, dim=0).values

    def log_values(self) -> Mapping[str, float]:
        return {"k": self.k}


def top_k() -> dict:
    """Non-saturating GAN whose G learns from the k best-scored fakes (Sinha et al. 2020)."""
    return {**vanilla(), "regularizers": [{"name": "top-k", "options": {}}]}
