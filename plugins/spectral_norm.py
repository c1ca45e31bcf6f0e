"""Spectral normalization (Miyato et al. 2018, "Spectral Normalization for GANs").

Each weight W of the discriminator is divided by its largest singular value, estimated
by power iteration (one step per forward pass), which bounds every layer's Lipschitz
constant by 1. Applied once at build time as torch's spectral-norm parametrization, with one
change: its power-iteration vectors are updated by in-place copies instead of ``out=``
writes, which ``torch.vmap`` cannot batch. The numbers are torch's, bit for bit
(tests/test_spectral_norm.py), and the seeds of a cell can train together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm

from ganagerie import hookimpl
from ganagerie.components import Discriminator, Generator, Regularizer

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


class _InPlaceSpectralNorm(_SpectralNorm):
    """torch's spectral-norm parametrization, its vectors updated with ``copy_``."""

    @torch.no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._u.copy_(F.normalize(torch.mv(weight_mat, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(weight_mat.H, self._u), dim=0, eps=self.eps))


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Parametrize every linear and convolutional layer of ``module``; returns how many."""
    layers = [m for m in module.modules() if isinstance(m, _LAYERS)]
    for layer in layers:
        dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # the output channels, as torch's
        parametrize.register_parametrization(
            layer, "weight", _InPlaceSpectralNorm(layer.weight, n_power_iterations, dim, eps=1e-12))
    return len(layers)


class SpectralNorm(Regularizer):
    """Spectral normalization of the discriminator's layers (Miyato et al. 2018)."""

    seed_batched = True  # it changes each seed's networks before they are stacked

    def __init__(self, n_power_iterations: int = 1, generator: bool = False):
        if n_power_iterations < 1:
            raise ValueError("n_power_iterations must be at least 1")
        self.n_power_iterations = n_power_iterations
        self.generator = generator

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        apply_spectral_norm(discriminator, self.n_power_iterations)
        if self.generator:  # as in SAGAN (Zhang et al. 2019)
            apply_spectral_norm(generator, self.n_power_iterations)


@hookimpl
def register_regularizers(register):
    register("spectral-norm", SpectralNorm)
