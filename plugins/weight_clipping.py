"""Weight clipping (Arjovsky, Chintala & Bottou 2017, "Wasserstein GAN", Algorithm 1).

After every critic update each of its parameters is clamped to [-c, c] (w <- clip(w, -c, c)),
which keeps the critic in a compact set of functions, so K-Lipschitz for some K. The paper
uses c = 0.01, and calls clipping "a clearly terrible way to enforce a Lipschitz
constraint"; the gradient penalty replaced it (Gulrajani et al. 2017).

The ``wgan`` preset is Algorithm 1: the Wasserstein loss, c = 0.01, n_critic = 5 critic
updates per generator update, RMSProp with lr 5e-5 on both sides, batch size 64 (the run's
default). The authors' code also ran 100 critic updates for the first 25 generator updates
and every 500th; the preset does not.
"""

from __future__ import annotations

import torch

from ganagerie.components import DStep, Technique


class WeightClipping(Technique):
    """Clamp every discriminator parameter to [-clip, clip] after each D update (Arjovsky et al. 2017)."""

    #: elementwise and stateless: in a seed stack one clamp of the stacked weights serves all seeds
    seed_batched = True

    def __init__(self, clip: float = 0.01):
        if clip <= 0:
            raise ValueError(f"clip must be > 0 (the paper's c = 0.01), got {clip}")
        self.clip = clip

    def after_d_step(self, step: DStep) -> None:
        params = list(step.discriminator.parameters())
        # one fused call per bound instead of a kernel per parameter
        torch._foreach_clamp_min_(params, -self.clip)
        torch._foreach_clamp_max_(params, self.clip)


def wgan() -> dict:
    """Wasserstein loss, weight clipping 0.01, 5 critic steps, RMSProp lr 5e-5 (Arjovsky et al. 2017)."""
    return {
        "loss": "wasserstein",
        "regularizers": [{"name": "weight-clipping", "options": {"clip": 0.01}}],
        "n_critic": 5,
        "optimizer_g": "rmsprop",
        "optimizer_d": "rmsprop",
        "lr_g": 5e-5,
        "lr_d": 5e-5,
    }
