"""Fully connected G and D for vector data (and flattened images).

With ``g_width=400, g_depth=4, g_batchnorm=true, latent_dim=2`` and
``d_width=200, d_depth=3, d_maxout=5`` it is the 2-D architecture of PacGAN
(Lin et al. 2018, app. D) and VEEGAN (Srivastava et al. 2017): G 4x400 BN-ReLU from
2-d N(0, I) noise, D 3x200 maxout with 5 pieces (Goodfellow et al. 2013). PacGAN's code
(``synthetic_data_experiments/2DRing_GAN&PacGAN``) also initialises every weight from
N(0, 0.02) with zero biases (``init_std=0.02``), leaves G's hidden layers without bias
(``g_hidden_bias=false``; batch norm follows them) and moves BN's running statistics by 0.05
(``bn_momentum=0.05``); PyTorch's defaults are kept unless asked.

``conditional=true`` makes G conditional as in the first conditional GAN (Mirza & Osindero
2014, "Conditional Generative Adversarial Nets"): the one-hot class is concatenated to z,
``G(z, y) = net([z, onehot(y)])``; D stays unconditional. ``aux_classifier=true`` (with
``conditional``) gives D two class heads on its features h, for the class-conditioning
techniques: ACGAN's linear classifier ``class_logits(h) = W h + b`` (``aux-classifier``) and
ReACGAN's linear embedding ``class_embedding(h) = P h`` with one learned proxy per class,
``class_proxies()`` ``[K, E]`` (``d2d-ce``; E = ``d_width``). The number of classes is the
dataset's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganagerie.components import Architecture, Discriminator, Generator


class Maxout(nn.Module):
    """A linear layer whose output is the max over ``pieces`` affine maps (Goodfellow 2013)."""

    def __init__(self, d_in: int, d_out: int, pieces: int):
        super().__init__()
        self.pieces = pieces
        self.linear = nn.Linear(d_in, d_out * pieces)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).unflatten(1, (-1, self.pieces)).amax(dim=2)


class MLPGenerator(Generator):
    def __init__(self, shape, latent_dim, width, depth, batchnorm, hidden_bias=True, bn_momentum=0.1,
                 num_classes=None):
        super().__init__()
        self.shape, self.latent_dim = tuple(shape), latent_dim
        self.num_classes, self.conditional = num_classes, num_classes is not None
        if num_classes is not None:  # the one-hot codes, looked up (a lookup maps over seeds)
            self.register_buffer("onehot", torch.eye(num_classes), persistent=False)
        layers, d = [], latent_dim + (num_classes or 0)
        for _ in range(depth):
            layers += [nn.Linear(d, width, bias=hidden_bias)]
            layers += [nn.BatchNorm1d(width, momentum=bn_momentum)] if batchnorm else []
            layers += [nn.ReLU()]
            d = width
        layers.append(nn.Linear(d, math.prod(shape)))
        if len(shape) == 3:  # images live in [-1, 1]
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if self.conditional:
            if y is None:  # previews and evaluation: class i % K for sample i
                y = torch.arange(z.shape[0], device=z.device) % self.num_classes
            z = torch.cat([z, F.embedding(y, self.onehot)], dim=-1)
        return self.net(z).view(-1, *self.shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, shape, width, depth, maxout):
        super().__init__()
        layers, d = [], math.prod(shape)
        for _ in range(depth):
            if maxout > 1:
                layers.append(Maxout(d, width, maxout))
            else:
                layers += [nn.Linear(d, width), nn.LeakyReLU(0.2)]
            d = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(d, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x.flatten(1))

    def classify(self, h: Tensor) -> Tensor:
        return self.head(h).squeeze(1)


class MLPClassDiscriminator(MLPDiscriminator):
    """An MLP discriminator with ACGAN's class head and ReACGAN's embedding and class proxies."""

    def __init__(self, shape, width, depth, maxout, num_classes):
        super().__init__(shape, width, depth, maxout)
        self.num_classes = num_classes
        self.aux = nn.Linear(width, num_classes)
        self.embed = nn.Linear(width, width)
        self.proxies = nn.Embedding(num_classes, width)

    def class_logits(self, h: Tensor) -> Tensor:
        """ACGAN's class logits ``[B, K]`` from the features ``[B, F]``."""
        return self.aux(h)

    def class_embedding(self, h: Tensor) -> Tensor:
        """ReACGAN's sample embedding ``[B, E]`` (its linear head P) from the features."""
        return self.embed(h)

    def class_proxies(self) -> Tensor:
        """One learned vector per class, ``[K, E]``."""
        return self.proxies.weight


class MLP(Architecture):
    """Fully connected G and D; BN in G and maxout in D optional (PacGAN's 2-D setup)."""

    def __init__(
        self,
        latent_dim: int = 2,
        g_width: int = 128,
        g_depth: int = 3,
        g_batchnorm: bool = False,
        d_width: int = 128,
        d_depth: int = 3,
        d_maxout: int = 1,
        init_std: float = 0.0,
        g_hidden_bias: bool = True,
        bn_momentum: float = 0.1,
        conditional: bool = False,
        aux_classifier: bool = False,
    ):
        for name, value in [("latent_dim", latent_dim), ("g_width", g_width),
                            ("d_width", d_width), ("d_maxout", d_maxout)]:
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        if g_depth < 0 or d_depth < 1:
            raise ValueError("g_depth must be >= 0 and d_depth >= 1")
        if init_std < 0 or not 0 <= bn_momentum <= 1:
            raise ValueError("init_std must be >= 0 and bn_momentum in [0, 1]")
        self.init_std, self.g_hidden_bias, self.bn_momentum = init_std, g_hidden_bias, bn_momentum
        self.latent_dim, self.g_width, self.g_depth = latent_dim, g_width, g_depth
        self.g_batchnorm, self.d_width, self.d_depth = g_batchnorm, d_width, d_depth
        self.d_maxout = d_maxout
        if aux_classifier and not conditional:
            raise ValueError("aux_classifier=true needs conditional=true (G must be told the "
                             "classes it draws for D's classifier to learn them)")
        self.conditional, self.aux_classifier = conditional, aux_classifier

    def build(self, shape, num_classes=None):
        if self.conditional and not num_classes:
            raise ValueError("a conditional mlp needs the dataset's classes: choose a labelled "
                             "dataset, or conditional=false")
        classes = num_classes if self.conditional else None
        g = MLPGenerator(shape, self.latent_dim, self.g_width, self.g_depth, self.g_batchnorm,
                         self.g_hidden_bias, self.bn_momentum, classes)
        if self.aux_classifier:
            d = MLPClassDiscriminator(shape, self.d_width, self.d_depth, self.d_maxout, classes)
        else:
            d = MLPDiscriminator(shape, self.d_width, self.d_depth, self.d_maxout)
        if self.init_std > 0:  # PacGAN's code: IsotropicGaussian(0.02) weights, Constant(0) biases
            for layer in [*g.modules(), *d.modules()]:
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, 0.0, self.init_std)
                    if layer.bias is not None:
                        nn.init.zeros_(layer.bias)
        return g, d
