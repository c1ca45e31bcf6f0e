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


def test_the_numbers_are_torchs_spectral_norm_bit_for_bit():
    """Our parametrization differs from torch's in how it writes its vectors and, inside
    torch.vmap on a CPU, how it multiplies; one network at a time, in training and in eval
    mode, for convolutions, transposed convolutions (dim 1) and linear layers, the bits are
    torch's."""
    import torch
    from torch import nn
    from torch.nn.utils.parametrizations import spectral_norm

    from ganagerie.plugins.spectral_norm import apply_spectral_norm

    def build(normalise):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 2, 1), nn.LeakyReLU(0.2),
                            nn.Flatten(), nn.Linear(32, 1))
        normalise(net)
        return net

    def torchs(net):
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
                spectral_norm(m, dim=1 if isinstance(m, nn.ConvTranspose2d) else None)

    ours = build(apply_spectral_norm)
    theirs = build(torchs)
    opts = [torch.optim.Adam(n.parameters(), 1e-2) for n in (ours, theirs)]
    for _ in range(5):
        x = torch.randn(8, 1, 6, 6)
        for net, opt in zip((ours, theirs), opts):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys()  # the checkpoint keys are torch's too
    assert all(torch.equal(a[k], b[k]) for k in a)
    ours.eval(), theirs.eval()
    x = torch.randn(8, 1, 6, 6)
    assert torch.equal(ours(x), theirs(x))


def test_products_inside_vmap_equal_torchs_per_network():
    """Inside torch.vmap (seeds trained together) the products are a product and a sum: the
    same numbers as torch.mv and torch.vdot one network at a time, up to the order of the sum."""
    from ganagerie.plugins.spectral_norm import _dot, _mv, _vmapped_on_cpu

    torch.manual_seed(0)
    mats, vecs = torch.randn(3, 16, 32), torch.randn(3, 32)
    assert torch.vmap(lambda m: torch.tensor(_vmapped_on_cpu(m)))(mats).all()
    assert not _vmapped_on_cpu(mats[0])
    batched = torch.vmap(_mv)(mats, vecs)
    for s in range(3):
        torch.testing.assert_close(batched[s], torch.mv(mats[s], vecs[s]), rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(torch.vmap(_dot)(vecs, vecs)[s], torch.vdot(vecs[s], vecs[s]),
                                   rtol=1e-6, atol=1e-6)
