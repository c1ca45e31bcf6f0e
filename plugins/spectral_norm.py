"""Spectral normalization (Miyato et al. 2018, "Spectral Normalization for GANs").

Each weight W of the discriminator is divided by its largest singular value, estimated
by power iteration (one step per forward pass), which bounds every layer's Lipschitz
constant by 1. Applied once at build time as torch's spectral-norm parametrization, with two
changes for seeds trained together: its power-iteration vectors are updated by in-place copies
instead of ``out=`` writes, which ``torch.vmap`` cannot batch, and under ``torch.vmap`` on a CPU
its matrix-vector products are a product and a sum (``_mv``). One seed at a time the numbers are
torch's, bit for bit (tests/test_spectral_norm.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm

from ganagerie.components import Discriminator, Generator, Technique

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d)


def _vmapped_on_cpu(t: Tensor) -> bool:
    """Whether ``t`` is a CPU tensor seen from inside ``torch.vmap`` (one seed of stacked
    tensors, when seeds train together)."""
    return t.device.type == "cpu" and torch._C._functorch.is_batchedtensor(t)


def _mv(mat: Tensor, vec: Tensor) -> Tensor:
    """``torch.mv``; inside ``torch.vmap`` on a CPU a product and a sum instead: there ``torch.mv``
    becomes a batched matmul of one column, which took about 3x as long as the three seeds'
    ``mv`` one by one (3 seeds of 128x128, one thread). Equal up to the order of the sum. Other
    devices keep ``torch.mv`` (not measured there)."""
    return (mat * vec).sum(-1) if _vmapped_on_cpu(mat) else torch.mv(mat, vec)


def _dot(a: Tensor, b: Tensor) -> Tensor:
    """``torch.vdot`` (which conjugates ``a``), by the same rule as ``_mv``."""
    return (a.conj() * b).sum() if _vmapped_on_cpu(a) or _vmapped_on_cpu(b) else torch.vdot(a, b)


class _InPlaceSpectralNorm(_SpectralNorm):
    """torch's spectral-norm parametrization, its vectors updated with ``copy_``, and its
    matrix-vector products (``_mv``) fit for ``torch.vmap`` on a CPU; one seed at a time, the
    numbers are torch's, bit for bit."""

    @torch.no_grad()
    def _power_method(self, weight_mat: Tensor, n_power_iterations: int) -> None:
        for _ in range(n_power_iterations):
            self._u.copy_(F.normalize(_mv(weight_mat, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(_mv(weight_mat.H, self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:  # a vector's largest singular value is its norm
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # sigma = u^T W v, from copies of u and v: the power method above changes them in place,
        # and the backward pass needs the values this forward used
        u = self._u.clone(memory_format=torch.contiguous_format)
        v = self._v.clone(memory_format=torch.contiguous_format)
        return weight / _dot(u, _mv(weight_mat, v))


def apply_spectral_norm(module: nn.Module, n_power_iterations: int = 1) -> int:
    """Parametrize every linear and convolutional layer of ``module``; returns how many."""
    layers = [m for m in module.modules() if isinstance(m, _LAYERS)]
    for layer in layers:
        dim = 1 if isinstance(layer, nn.ConvTranspose2d) else 0  # the output channels, as torch's
        parametrize.register_parametrization(
            layer, "weight", _InPlaceSpectralNorm(layer.weight, n_power_iterations, dim, eps=1e-12))
    return len(layers)


class SpectralNorm(Technique):
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
