"""Instance noise (Sønderby et al. 2017, "Amortised MAP Inference for Image Super-resolution",
sec. 3.2 and appendix; Arjovsky & Bottou 2017, "Towards Principled Methods for Training
Generative Adversarial Networks", sec. 3).

The discriminator sees every sample, real and generated, with Gaussian noise added,

    x~ = x + sigma_t * eps,    eps ~ N(0, I),

so that the noisy data and model distributions overlap and D cannot separate them
perfectly; the noise is annealed to 0 as training goes on (Sønderby et al.), here linearly
over the first ``anneal_steps`` generator steps:

    sigma_t = sigma * max(0, 1 - t / anneal_steps)    (sigma_t = sigma if anneal_steps = 0).

Neither paper gives a noise level that carries over to other data, so the defaults are ours:
sigma = 0.1 (5% of the [-1, 1] range) annealed over 2000 steps, the run's default length;
set ``anneal_steps`` to the run's ``steps``. Works on data of any shape.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ganagerie.components import Technique
from ganagerie.plugins.variants import vanilla


class InstanceNoise(Technique):
    """Gaussian noise on everything D sees, std annealed linearly to 0 (Sønderby et al. 2017)."""

    def __init__(self, sigma: float = 0.1, anneal_steps: int = 2000):
        if sigma < 0:
            raise ValueError(f"sigma (the noise's initial standard deviation) must be >= 0, got {sigma}")
        if anneal_steps < 0:
            raise ValueError(f"anneal_steps must be >= 0 (0 keeps sigma constant), got {anneal_steps}")
        self.sigma, self.anneal_steps = sigma, anneal_steps
        self.step = 0  # the step of the last transform, for the log

    def sigma_at(self, step: int) -> float:
        """The noise's standard deviation at generator step ``step``."""
        if self.anneal_steps == 0:
            return self.sigma
        return self.sigma * max(0.0, 1.0 - step / self.anneal_steps)

    def transform(self, x: Tensor, step: int) -> Tensor:
        self.step = step
        sigma = self.sigma_at(step)
        if sigma == 0:
            return x
        return x + sigma * torch.randn_like(x)

    def log_values(self) -> Mapping[str, float]:
        return {"sigma": self.sigma_at(self.step)}


def instance_noise() -> dict:
    """Non-saturating loss + instance noise 0.1 annealed to 0, DCGAN's Adam (Sønderby et al. 2017)."""
    return {**vanilla(), "regularizers": [{"name": "instance-noise", "options": {}}]}
