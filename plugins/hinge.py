"""The hinge GAN objective (Lim & Ye 2017, "Geometric GAN"; used by Miyato et al. 2018).

D minimises E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]; G minimises -E[D(G(z))].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Loss


class HingeLoss(Loss):
    """Hinge loss: D minimises relu(1 - D(x)) + relu(1 + D(G(z))) (Lim & Ye 2017)."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return F.relu(1.0 - real_out).mean() + F.relu(1.0 + fake_out).mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -fake_out.mean()
