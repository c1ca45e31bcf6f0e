"""Spectral normalization (Miyato et al. 2018, "Spectral Normalization for GANs").

Each weight W of the discriminator is divided by its largest singular value, estimated
by power iteration (one step per forward pass), which bounds every layer's Lipschitz
constant by 1. Applied once at build time with torch's parametrization.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ganagerie import hookimpl
from ganagerie.components import Discriminator, Generator, Regularizer

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Parametrize every linear and convolutional layer of ``module``; returns how many."""
    layers = [m for m in module.modules() if isinstance(m, _LAYERS)]
    for layer in layers:
        spectral_norm(layer, n_power_iterations=n_power_iterations)
    return len(layers)


class SpectralNorm(Regularizer):
    """Spectral normalization of the discriminator's layers (Miyato et al. 2018)."""

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
