"""The original GAN objective (Goodfellow et al. 2014, "Generative Adversarial Nets").

D maximises log D(x) + log(1 - D(G(z))), written with logits as softplus terms:
-log sigmoid(a) = softplus(-a) and -log(1 - sigmoid(a)) = softplus(a).
The generator either minimises log(1 - D(G(z))) (the minimax game, which saturates
early in training) or maximises log D(G(z)) (the paper's non-saturating heuristic).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Loss


class MinimaxLoss(Loss):
    """Minimax GAN loss: G minimises log(1 - D(G(z))) (Goodfellow et al. 2014)."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -F.softplus(fake_out).mean()


class NonSaturatingLoss(MinimaxLoss):
    """Non-saturating GAN loss: G maximises log D(G(z)) (Goodfellow et al. 2014)."""

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return F.softplus(-fake_out).mean()
