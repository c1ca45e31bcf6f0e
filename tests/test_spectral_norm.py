"""Spectral norm bounds every discriminator layer's largest singular value by 1."""

import torch
from torch.nn.utils import parametrize

from ganagerie.plugins.dcgan import DCGAN
from ganagerie.plugins.mlp import MLP
from ganagerie.plugins.spectral_norm import SpectralNorm, apply_spectral_norm


def _top_singular_values(module):
    out = []
    for m in module.modules():
        if parametrize.is_parametrized(m, "weight"):
            w = m.weight.detach().flatten(1)
            out.append(torch.linalg.matrix_norm(w, ord=2).item())
    return out


def test_every_linear_layer_of_d_is_normalised_and_g_untouched():
    g, d = MLP(d_maxout=3).build((2,))
    SpectralNorm().setup(g, d)
    d.train()
    x = torch.randn(64, 2)
    for _ in range(30):  # power iteration converges over forward passes
        d(x)
    sigmas = _top_singular_values(d)
    assert len(sigmas) == 4  # 3 hidden layers + head
    assert all(abs(s - 1.0) < 0.05 for s in sigmas), sigmas
    assert _top_singular_values(g) == []


def test_conv_discriminator_and_optional_generator():
    g, d = DCGAN(width=8).build((1, 28, 28))
    SpectralNorm(generator=True).setup(g, d)
    assert len(_top_singular_values(d)) == 3  # two convs + head
    assert len(_top_singular_values(g)) > 0


def test_apply_counts_layers():
    _, d = MLP(d_depth=2).build((2,))
    assert apply_spectral_norm(d) == 3
