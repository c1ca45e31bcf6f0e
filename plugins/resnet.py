"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018, "Spectral Normalization
for Generative Adversarial Networks", app. B.4) and of cGANs with a projection discriminator
(Miyato & Koyama 2018, "cGANs with Projection Discriminator"), as the authors' chainer code
(pfnet-research/sngan_projection: ``gen_models/resnet_32.py``, ``dis_models/snresnet_32.py``)
builds them, and Mimicry (``torch_mimicry/nets/sngan``) for 48x48.

``width`` is the channel unit (64); the layout follows the image side:

* 8 to 32 pixels (CIFAR-10's layout; ``width=64`` gives the paper's G 256 / D 128 channels).
  G: z -> linear -> [4w, b, b] -> up-blocks of 4w -> BN-ReLU-conv3x3-tanh, with b the side
  halved while even and above 7: 32 -> 4x4 and 3 blocks, 28 (MNIST) -> 7x7 and 2 blocks, 8 ->
  4x4 and 1 block. D: an optimized block 2w (down), a block 2w (down), two blocks 2w,
  ReLU, global sum pooling, linear. The side must be a multiple of 4.
* 48 pixels (STL-10's layout): G from 6x6x8w through up-blocks of 4w, 2w, w; D: optimized
  block w (down), blocks 2w, 4w, 8w (down) and 16w, then as above (Mimicry's ``sngan_48``,
  ``width=64`` its ngf 512 / ndf 1024).

A G block is BN-ReLU-up-conv3x3-BN-ReLU-conv3x3 plus a 1x1 convolution of the up-sampled input;
up-sampling is nearest-neighbour, as chainer's ``unpooling_2d`` in the authors' code (Mimicry
uses bilinear). A D block is ReLU-conv3x3-ReLU-conv3x3-avgpool plus a 1x1 convolution (then
avgpool); the optimized first block has no leading ReLU and pools its input before the 1x1
convolution. Weights are Glorot-uniform, gain sqrt(2) inside the residuals and 1 elsewhere,
biases 0; batch norm has eps 2e-5 and momentum 0.1 (chainer's defaults, decay 0.9). D's
last linear has no bias (the authors' code; Mimicry has one). G's linear layer and block
convolutions have no bias, where the authors' have one: every path from them to the output
passes a batch norm (the residual's, or the final one at the end of the shortcuts), which
subtracts any per-channel constant, so those biases never change G's output. Their gradients
are rounding noise, which Adam's normalised step turns into moves of the learning rate's size,
different for each way of summing (seeds trained together drifted from one by one).

``conditional=true`` makes G's block norms conditional batch norm (de Vries et al. 2017,
Dumoulin et al. 2017; in the paper's form, Miyato & Koyama 2018, sec. 4)::

    CBN(x, y) = gamma_y * (x - E[x]) / sqrt(Var[x] + eps) + beta_y

with one gain and bias per class (initialised to 1 and 0), and D the projection
discriminator (Miyato & Koyama 2018, eq. 3)::

    D(x, y) = psi(phi(x)) + embed(y) . phi(x)

with phi(x) the pooled features, psi the linear head. The class embedding is stored as a
bias-free linear map of the one-hot class (``nn.Linear(K, F)``) so that the ``spectral-norm``
technique, which normalises linear and convolutional layers, normalises it as the authors'
``SNEmbedID`` does. The number of classes comes from the dataset (``num_classes`` of
``build``). With ``projection=false`` D stays unconditional while G is conditional (ACGAN's
setting); ``aux_classifier=true`` gives D a class head, ``class_logits(h) -> [B, K]`` on the
same features (ACGAN, Odena et al. 2017), for the ``aux-classifier`` technique.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganagerie.components import Architecture, Discriminator, Generator

#: chainer's batch-norm eps, the authors' code's (PyTorch's default is 1e-5)
SNGAN_BN_EPS = 2e-5


def plan(size: int) -> tuple[int, int]:
    """(base side, number of up-blocks) of G for an image side ``size``: halved while even and
    above 7 (32 -> (4, 3), 28 -> (7, 2), 48 -> (6, 3), 8 -> (4, 1))."""
    base, blocks = size, 0
    while base % 2 == 0 and base > 7:
        base //= 2
        blocks += 1
    if blocks == 0:
        raise ValueError(f"the ResNet networks need an even image side of at least 8, got {size}")
    return base, blocks


def square_image(shape: Sequence[int], name: str) -> tuple[int, int]:
    """(channels, side) of a square image shape, else a ValueError naming what fits."""
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ValueError(f"{name} needs square images [C, H, W], got shape {tuple(shape)}; "
                         "use --arch mlp for vector data")
    return shape[0], shape[1]


def upsample(x: Tensor) -> Tensor:
    """Nearest-neighbour up-sampling by 2 (chainer's ``unpooling_2d``, BigGAN's ``interpolate``)."""
    return F.interpolate(x, scale_factor=2, mode="nearest")


def glorot(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Glorot-uniform weight with ``gain``, zero bias: chainer's ``GlorotUniform(gain)``."""
    nn.init.xavier_uniform_(layer.weight, gain)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)
    return layer


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine, then a gain and a bias computed from a condition c:
    ``(offset + gain(c)) * BN(x) + bias(c)``.

    ``per_class`` is SNGAN's categorical form (de Vries et al. 2017; Miyato & Koyama 2018):
    ``gain`` and ``bias`` are class embeddings initialised to 1 and 0, offset 0. BigGAN's form
    (Brock et al. 2019) maps a vector c linearly, with offset 1 (``ganagerie.plugins.biggan``).
    """

    def __init__(self, channels: int, gain: nn.Module, bias: nn.Module, offset: float = 0.0,
                 eps: float = SNGAN_BN_EPS, momentum: float = 0.1):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum, affine=False)
        self.gain, self.bias, self.offset = gain, bias, offset

    @classmethod
    def per_class(cls, channels: int, num_classes: int, eps: float = SNGAN_BN_EPS) -> ConditionalBatchNorm2d:
        """One gain (initially 1) and one bias (initially 0) per class."""
        gain, bias = nn.Embedding(num_classes, channels), nn.Embedding(num_classes, channels)
        nn.init.ones_(gain.weight)
        nn.init.zeros_(bias.weight)
        return cls(channels, gain, bias, 0.0, eps)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        gain = self.offset + self.gain(c)
        return self.bn(x) * gain[..., None, None] + self.bias(c)[..., None, None]


def _norm(layer: nn.Module, x: Tensor, c: Tensor | None) -> Tensor:
    return layer(x) if c is None else layer(x, c)


class GBlock(nn.Module):
    """norm-ReLU-up-conv3x3-norm-ReLU-conv3x3, plus conv1x1 of the up-sampled input.

    ``norm(channels)`` builds each of the two norms: a plain ``nn.BatchNorm2d`` (called on x),
    or a conditional one (called on x and the block's condition).
    """

    def __init__(self, c_in: int, c_out: int, norm: Callable[[int], nn.Module]):
        super().__init__()
        self.b1, self.b2 = norm(c_in), norm(c_out)
        # no biases: every path from them meets a batch norm, which cancels them (see the module)
        self.c1 = glorot(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), math.sqrt(2))
        self.c2 = glorot(nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), math.sqrt(2))
        self.c_sc = glorot(nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        h = self.c1(upsample(F.relu(_norm(self.b1, x, c))))
        h = self.c2(F.relu(_norm(self.b2, h, c)))
        return h + self.c_sc(upsample(x))


class DBlock(nn.Module):
    """ReLU-conv3x3-ReLU-conv3x3(-avgpool), plus a 1x1 shortcut where the shape changes.

    ``first``: SNGAN's optimized block (BigGAN's first block): no leading ReLU, always
    down-sampling, its shortcut pooled before the 1x1 convolution. ``hidden``: the channels
    between the two convolutions (SNGAN's blocks: the input's; the first block and BigGAN's
    wide D: the output's).
    """

    def __init__(self, c_in: int, c_out: int, downsample: bool = False, first: bool = False,
                 hidden: int | None = None):
        super().__init__()
        hidden = hidden or (c_out if first else c_in)
        self.first, self.downsample = first, downsample or first
        self.c1 = glorot(nn.Conv2d(c_in, hidden, 3, padding=1), math.sqrt(2))
        self.c2 = glorot(nn.Conv2d(hidden, c_out, 3, padding=1), math.sqrt(2))
        learnable = c_in != c_out or self.downsample
        self.c_sc = glorot(nn.Conv2d(c_in, c_out, 1)) if learnable else None

    def _pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.downsample else x

    def forward(self, x: Tensor) -> Tensor:
        h = self._pool(self.c2(F.relu(self.c1(x if self.first else F.relu(x)))))
        if self.c_sc is None:
            return h + x
        return h + (self.c_sc(self._pool(x)) if self.first else self._pool(self.c_sc(x)))


def classes_for_previews(z: Tensor, num_classes: int) -> Tensor:
    """Class ``i % K`` for sample ``i``: what a conditional G makes when called as ``G(z)``."""
    return torch.arange(z.shape[0], device=z.device) % num_classes


class ResNetGenerator(Generator):
    """z -> linear -> [C, b, b] -> up-blocks -> BN-ReLU-conv3x3-tanh; ``extra = (k, layer)``
    puts a layer after the first k blocks (BigGAN's attention).

    ``conditions(z, y)`` gives the input of the linear layer and each block's condition:
    here z itself and the class y for every block (None when unconditional); BigGAN's
    generator overrides it.
    """

    def __init__(self, shape: Sequence[int], latent_dim: int, base: int, blocks: Sequence[GBlock],
                 num_classes: int | None, out_eps: float = SNGAN_BN_EPS, linear_in: int | None = None,
                 extra: tuple[int, nn.Module] | None = None):
        super().__init__()
        self.latent_dim, self.base, self.num_classes = latent_dim, base, num_classes
        self.conditional = num_classes is not None
        self.blocks = nn.ModuleList(blocks)
        c0, c_last = blocks[0].c1.in_channels, blocks[-1].c2.out_channels
        self.linear = glorot(nn.Linear(linear_in or latent_dim, c0 * base * base, bias=False))
        self.extra_at, self.extra = extra if extra is not None else (None, None)
        self.out_bn = nn.BatchNorm2d(c_last, eps=out_eps)
        self.out_conv = glorot(nn.Conv2d(c_last, shape[0], 3, padding=1))

    def conditions(self, z: Tensor, y: Tensor | None) -> tuple[Tensor, list[Tensor | None]]:
        return z, [y] * len(self.blocks)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional and y is None:  # previews and evaluation: every class equally
            y = classes_for_previews(z, self.num_classes)
        z0, conditions = self.conditions(z, y if self.conditional else None)
        h = self.linear(z0).unflatten(-1, (-1, self.base, self.base))
        for i, (block, c) in enumerate(zip(self.blocks, conditions)):
            if i == self.extra_at:
                h = self.extra(h)
            h = block(h, c)
        return torch.tanh(self.out_conv(F.relu(self.out_bn(h))))


class ResNetDiscriminator(Discriminator):
    """Residual blocks, ReLU, global sum pooling: the features phi(x) ``[B, F]``; the logit
    psi(phi(x)) plus, when projecting, ``embed(y) . phi(x)``; ``class_logits`` when it has
    an auxiliary classifier."""

    def __init__(self, blocks: Sequence[nn.Module], num_classes: int | None, projection: bool,
                 aux_classifier: bool, head_bias: bool = False):
        super().__init__()
        self.blocks = nn.Sequential(*blocks)
        width = [m for m in self.blocks.modules() if isinstance(m, DBlock)][-1].c2.out_channels
        self.num_classes = num_classes
        self.conditional = projection and num_classes is not None
        self.linear = glorot(nn.Linear(width, 1, bias=head_bias))
        # embed(y) is column y of this map: a linear layer, so that spectral norm reaches it
        self.embed = glorot(nn.Linear(num_classes, width, bias=False)) if self.conditional else None
        self.aux = glorot(nn.Linear(width, num_classes)) if aux_classifier else None

    def features(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return F.relu(self.blocks(x)).sum(dim=(-2, -1))

    def classify(self, h: Tensor, y: Tensor | None = None) -> Tensor:
        out = self.linear(h).squeeze(-1)
        if self.embed is None or y is None:
            return out
        return out + (F.embedding(y, self.embed.weight.T) * h).sum(-1)

    def class_logits(self, h: Tensor) -> Tensor:
        """The auxiliary classifier's logits ``[B, num_classes]`` from ``features`` ``[B, F]``."""
        if self.aux is None:
            raise ValueError("this discriminator has no class head; build it with aux_classifier=true")
        return self.aux(h)


def check_classes(name: str, conditional: bool, aux_classifier: bool, num_classes: int | None) -> None:
    """The class options' ValueErrors, shared by the ResNet architectures."""
    if aux_classifier and not conditional:
        raise ValueError(f"{name}: aux_classifier=true needs conditional=true (G must be told the "
                         "classes it draws for the classifier to learn them)")
    if conditional and not num_classes:
        raise ValueError(f"conditional {name} needs the dataset's number of classes: "
                         "choose a labelled dataset, or conditional=false")


class ResNet(Architecture):
    """SNGAN's ResNet G and D (8-32 px and 48 px); conditional BN and projection D optional."""

    def __init__(self, latent_dim: int = 128, width: int = 64, conditional: bool = False,
                 projection: bool = True, aux_classifier: bool = False):
        if latent_dim < 1 or width < 1:
            raise ValueError("latent_dim and width must be at least 1")
        self.latent_dim, self.width = latent_dim, width
        self.conditional, self.projection, self.aux_classifier = conditional, projection, aux_classifier

    def build(self, shape: tuple[int, ...], num_classes: int | None = None
              ) -> tuple[ResNetGenerator, ResNetDiscriminator]:
        channels, size = square_image(shape, "resnet")
        check_classes("resnet", self.conditional, self.aux_classifier, num_classes)
        classes = num_classes if self.conditional else None
        w = self.width
        if classes is None:
            norm: Callable[[int], nn.Module] = lambda c: nn.BatchNorm2d(c, eps=SNGAN_BN_EPS)  # noqa: E731
        else:
            norm = lambda c: ConditionalBatchNorm2d.per_class(c, classes)  # noqa: E731
        base, n_blocks = plan(size)
        if size == 48:  # STL-10's layout
            g_widths = [8 * w, 4 * w, 2 * w, w]
            d_blocks = [DBlock(channels, w, first=True), DBlock(w, 2 * w, True),
                        DBlock(2 * w, 4 * w, True), DBlock(4 * w, 8 * w, True), DBlock(8 * w, 16 * w)]
        elif size <= 32 and size % 4 == 0:  # CIFAR-10's layout
            g_widths = [4 * w] * (n_blocks + 1)
            d_blocks = cifar_d_blocks(channels, 2 * w)
        else:
            raise ValueError(f"resnet builds square images of 8 to 32 pixels (a multiple of 4; "
                             f"CIFAR-10's layout) and of 48 (STL-10's), got {size}")
        blocks = [GBlock(a, b, norm) for a, b in zip(g_widths, g_widths[1:])]
        g = ResNetGenerator(shape, self.latent_dim, base, blocks, classes)
        d = ResNetDiscriminator(d_blocks, num_classes if self.conditional else None,
                                self.projection, self.aux_classifier)
        return g, d


def cifar_d_blocks(channels: int, width: int, after_first: nn.Module | None = None) -> list[nn.Module]:
    """The 32x32 discriminator's blocks: optimized (down), down, plain, plain, all ``width``
    wide (SNGAN's and BigGAN's), with ``after_first`` (BigGAN's attention) after the first."""
    first = [DBlock(channels, width, first=True), *([after_first] if after_first is not None else [])]
    return [*first, DBlock(width, width, True), DBlock(width, width), DBlock(width, width)]
