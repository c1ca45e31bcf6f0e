"""BigGAN's generator and discriminator at 32x32 (Brock, Donahue & Simonyan 2019, "Large Scale
GAN Training for High Fidelity Natural Image Synthesis", ICLR; the layout of ``G_arch[32]`` and
``D_arch[32]`` in the authors' BigGAN-PyTorch, ``BigGAN.py`` and ``layers.py``).

G: z split into one chunk per block plus one (the *hierarchical latent*, sec. 3 and app. B):
the first chunk goes through a linear layer to [4w, 4, 4]; three up-blocks of 4w channels
(``width=64`` is the code's ``G_ch=64``, 256 channels) each take ``c_i = [e(y), z_i]``, the
*shared* class embedding e (``shared_dim``, by default the latent size, as the code's
``shared_dim=0``) concatenated with the block's chunk; then BN-ReLU-conv3x3-tanh. Every block
norm is BigGAN's conditional batch norm::

    CBN(x, c) = (1 + W_gamma c) * (x - E[x]) / sqrt(Var[x] + eps) + W_beta c

with bias-free linear maps W (the code's ``ccbn``, eps 1e-5). D: SNGAN's CIFAR D (optimized
block, down block, two blocks, ReLU, global sum pooling) 4w wide (the code's ``D_ch=64``), a
linear head with bias and the projection term ``embed(y) . phi(x)`` (Miyato & Koyama 2018).

Self-attention (SAGAN's non-local block, Zhang et al. 2019, as BigGAN's code writes it)::

    o = x + gamma * W_o (g(x) softmax(theta(x)^T phi(x))^T),   gamma = 0 at initialisation

with 1x1 convolutions theta, phi to C/8 channels, g to C/2 and W_o back to C, phi and g
max-pooled 2x2 (so keys are a quarter of the positions). It sits at half the image side in G
and in D (16x16 at 32 px), where BigGAN's ImageNet models put it (64x64 at 128 px); the
code's CIFAR script (``scripts/launch_cifar_ema.sh``) uses none (``attention=false``).

Weights are initialised orthogonally (``init="ortho"``, the code's default; ``"N02"``: N(0,
0.02), its CIFAR script's) with PyTorch's default biases, Linear, Conv2d and Embedding alike;
as in ``resnet``, G's layers before its output conv have no bias (batch norm cancels them).
Spectral norm on G and D and orthogonal regularization are techniques (``spectral-norm`` with
``generator=true``, ``orthogonal``); the shared embedding is an ``nn.Embedding``, which spectral
norm leaves alone as BigGAN's code does ("applying SN to G's embedding seems to randomly
cripple G"), the CBN maps and D's class embedding are linear layers, which it normalises.

``conditional=false`` drops the class embedding and the projection (the CBN conditions are
the z chunks alone, or plain batch norm without the hierarchical latent); ``shared=false``
gives each CBN its own class embeddings (``1 + E_gamma[y]``; the code's ``G_shared`` off, as in
its CIFAR script, which also turns ``hierarchical`` off). Sizes: 8 to 32 pixels, a multiple
of 4 (28x28 starts from 7x7 with 2 blocks, as ``resnet`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganagerie.components import Architecture
from ganagerie.plugins.resnet import (
    ConditionalBatchNorm2d,
    GBlock,
    ResNetDiscriminator,
    ResNetGenerator,
    check_classes,
    cifar_d_blocks,
    plan,
    square_image,
)

#: BigGAN's batch-norm eps (PyTorch's default)
BIGGAN_BN_EPS = 1e-5
INITS = ("ortho", "N02")


class SelfAttention(nn.Module):
    """SAGAN's non-local block, BigGAN's variant: x + gamma * W_o(g . softmax(theta^T phi)^T)."""

    def __init__(self, channels: int):
        super().__init__()
        if channels < 8:
            raise ValueError(f"self-attention needs at least 8 channels, got {channels}")
        self.theta = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.phi = nn.Conv2d(channels, channels // 8, 1, bias=False)
        self.g = nn.Conv2d(channels, channels // 2, 1, bias=False)
        self.o = nn.Conv2d(channels // 2, channels, 1, bias=False)
        # one element rather than BigGAN's 0-d scalar: a seed stack's gradient norm flattens
        # each stacked parameter from its second dimension
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: Tensor) -> Tensor:
        theta = self.theta(x).flatten(-2)                     # [.., C/8, HW]
        phi = F.max_pool2d(self.phi(x), 2).flatten(-2)         # [.., C/8, HW/4]
        g = F.max_pool2d(self.g(x), 2).flatten(-2)             # [.., C/2, HW/4]
        beta = torch.softmax(theta.transpose(-1, -2) @ phi, dim=-1)  # [.., HW, HW/4]
        o = (g @ beta.transpose(-1, -2)).unflatten(-1, x.shape[-2:])
        return x + self.gamma * self.o(o)


class BigGANGenerator(ResNetGenerator):
    """BigGAN's G: the shared class embedding and the hierarchical latent make each block's
    condition ``[e(y), z_i]``."""

    def __init__(self, *args, shared: nn.Module | None, chunk: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.shared, self.chunk = shared, chunk

    def conditions(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        n = len(self.blocks)
        e = None if y is None or self.shared is None else self.shared(y)
        if not self.chunk:  # one latent: the class (embedded, or for per-class CBN, as is)
            return z, [y if e is None else e] * n
        z0, *zs = z.split(self.chunk, dim=-1)
        return z0, [zi if e is None else torch.cat([e, zi], dim=-1) for zi in zs]


class BigGAN(Architecture):
    """BigGAN at 32x32: shared embedding, hierarchical z, CBN, self-attention, projection D."""

    def __init__(self, latent_dim: int = 128, width: int = 64, conditional: bool = True,
                 shared: bool = True, shared_dim: int = 0, hierarchical: bool = True,
                 attention: bool = True, init: str = "ortho", projection: bool = True,
                 aux_classifier: bool = False):
        if latent_dim < 1 or width < 1 or shared_dim < 0:
            raise ValueError("latent_dim and width must be at least 1, shared_dim 0 (the latent "
                             "size) or more")
        if init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {init!r}")
        if conditional and not shared and hierarchical:
            raise ValueError("hierarchical=true needs shared=true (each block's condition is the "
                             "shared embedding and a chunk of z)")
        self.latent_dim, self.width, self.conditional = latent_dim, width, conditional
        self.shared, self.shared_dim, self.hierarchical = shared, shared_dim or latent_dim, hierarchical
        self.attention, self.init = attention, init
        self.projection, self.aux_classifier = projection, aux_classifier

    def build(self, shape: tuple[int, ...], num_classes: int | None = None
              ) -> tuple[BigGANGenerator, ResNetDiscriminator]:
        channels, size = square_image(shape, "biggan")
        check_classes("biggan", self.conditional, self.aux_classifier, num_classes)
        if size > 32 or size % 4:
            raise ValueError(f"biggan builds square images of 8 to 32 pixels, a multiple of 4, got {size}")
        base, n_blocks = plan(size)
        classes = num_classes if self.conditional else None
        chunk = self.latent_dim // (n_blocks + 1) if self.hierarchical else 0
        if self.hierarchical and chunk == 0:
            raise ValueError(f"latent_dim {self.latent_dim} is too small to give each of "
                             f"{n_blocks + 1} slots a chunk; raise it or hierarchical=false")
        latent_dim = chunk * (n_blocks + 1) if chunk else self.latent_dim  # split evenly, as the code
        shared = nn.Embedding(classes, self.shared_dim) if classes is not None and self.shared else None
        cond_dim = (self.shared_dim if shared is not None else 0) + chunk
        ch = 4 * self.width
        norm = self._norm(classes, cond_dim)
        blocks = [GBlock(ch, ch, norm) for _ in range(n_blocks)]
        # attention at half the image side: after all blocks but the last
        extra = (n_blocks - 1, SelfAttention(ch)) if self.attention else None
        g = BigGANGenerator(shape, latent_dim, base, blocks, classes, out_eps=BIGGAN_BN_EPS,
                            linear_in=chunk or latent_dim, extra=extra, shared=shared, chunk=chunk)
        d_attention = SelfAttention(ch) if self.attention else None
        d = ResNetDiscriminator(cifar_d_blocks(channels, ch, d_attention), classes, self.projection,
                                self.aux_classifier, head_bias=True)
        for net in (g, d):
            _init(net, self.init)
        return g, d

    def _norm(self, classes: int | None, cond_dim: int) -> Callable[[int], nn.Module]:
        def norm(c: int) -> nn.Module:
            if cond_dim:  # [e(y), z_i] (or z_i alone) through linear maps
                return ConditionalBatchNorm2d(c, nn.Linear(cond_dim, c, bias=False),
                                              nn.Linear(cond_dim, c, bias=False), 1.0, BIGGAN_BN_EPS)
            if classes is not None:  # the code's G_shared off: class embeddings in each CBN
                return ConditionalBatchNorm2d(c, nn.Embedding(classes, c), nn.Embedding(classes, c),
                                              1.0, BIGGAN_BN_EPS)
            return nn.BatchNorm2d(c, eps=BIGGAN_BN_EPS)
        return norm


def _init(net: nn.Module, style: str) -> None:
    """BigGAN's ``init_weights``: every Conv2d, Linear and Embedding weight orthogonal (or
    N(0, 0.02)), its bias PyTorch's default."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            m.reset_parameters()
            if style == "ortho":
                nn.init.orthogonal_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
