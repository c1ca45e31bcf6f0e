"""Noise priors of the generator (``--set prior=NAME``).

* ``normal``: z ~ N(0, I), the default (PacGAN's and DCGAN's code; VEEGAN).
* ``uniform``: z ~ U[-1, 1]^d, DCGAN's paper (Radford et al. 2016, sec. 4) and the
  original GAN code (Goodfellow et al. 2014).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie.components import Prior


class Normal(Prior):
    """Standard normal noise, z ~ N(0, I)."""


class Uniform(Prior):
    """Uniform noise on [-1, 1]^d (Radford et al. 2016)."""

    def sample(self, n: int, dim: int, device: torch.device,
               generator: torch.Generator | None = None) -> Tensor:
        where = device if generator is None or generator.device == device else "cpu"
        z = torch.rand(n, dim, generator=generator, device=where) * 2 - 1
        return z.to(device)

    def quantile(self, u: Tensor) -> Tensor:
        return u * 2 - 1
