"""The Wasserstein GAN objective (Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN").

The critic estimates the Earth-Mover distance through the Kantorovich-Rubinstein
dual, max over 1-Lipschitz f of E[f(x)] - E[f(G(z))]; the generator minimises
-E[f(G(z))]. The Lipschitz constraint comes from a regularizer (gradient penalty,
spectral norm), not from this loss.
"""

from __future__ import annotations

from torch import Tensor

from ganagerie.components import Loss


class WassersteinLoss(Loss):
    """Wasserstein loss: critic maximises E[D(x)] - E[D(G(z))] (Arjovsky et al. 2017)."""

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        return -fake_out.mean()
