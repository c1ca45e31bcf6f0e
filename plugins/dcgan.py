"""DCGAN (Radford et al. 2016), adapted to the dataset's image size and channels.

G projects z to a small feature map and doubles its size with stride-2 transposed
convolutions (BN + ReLU, tanh output); D mirrors it with stride-2 convolutions and
LeakyReLU(0.2). The number of stages follows the image size: 8x8 -> 2x2 base,
28x28 -> 7x7, 32x32 -> 4x4, 64x64 -> 4x4. D has no batch norm by default, so that it
combines with gradient penalties (Gulrajani et al. 2017 drop it in the critic).
"""

from __future__ import annotations

from torch import Tensor, nn

from ganagerie.components import Architecture, Discriminator, Generator


def plan(size: int) -> tuple[int, int]:
    """(base size, number of stride-2 stages) for a square image side ``size``."""
    smallest = 4 if size >= 16 else 2
    base, stages = size, 0
    while base % 2 == 0 and base > smallest:
        base //= 2
        stages += 1
    if stages == 0:
        raise ValueError(f"dcgan needs an image side divisible by 2 and at least 4, got {size}")
    return base, stages


class DCGANGenerator(Generator):
    def __init__(self, shape, latent_dim, width, batchnorm):
        super().__init__()
        channels, size, _ = shape
        self.latent_dim = latent_dim
        base, stages = plan(size)
        ch = width * 2 ** (stages - 1)
        self.base, self.ch = base, ch
        self.project = nn.Sequential(
            nn.Linear(latent_dim, ch * base * base),
            nn.BatchNorm1d(ch * base * base) if batchnorm else nn.Identity(),
            nn.ReLU(),
        )
        layers = []
        for _ in range(stages - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=not batchnorm),
                nn.BatchNorm2d(ch // 2) if batchnorm else nn.Identity(),
                nn.ReLU(),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.project(z).view(-1, self.ch, self.base, self.base))


class DCGANDiscriminator(Discriminator):
    def __init__(self, shape, width, batchnorm):
        super().__init__()
        channels, size, _ = shape
        base, stages = plan(size)
        layers, ch_in, ch = [], channels, width
        for i in range(stages):
            layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1))
            if batchnorm and i > 0:
                layers.append(nn.BatchNorm2d(ch))
            layers.append(nn.LeakyReLU(0.2))
            ch_in, ch = ch, ch * 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(ch_in * base * base, 1)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def classify(self, h: Tensor) -> Tensor:
        return self.head(h).squeeze(1)


class DCGAN(Architecture):
    """Convolutional G and D sized to the images (8x8, 28x28, 32x32, 64x64; 1 or 3 channels)."""

    def __init__(
        self,
        latent_dim: int = 100,
        width: int = 64,
        g_batchnorm: bool = True,
        d_batchnorm: bool = False,
    ):
        if latent_dim < 1 or width < 1:
            raise ValueError("latent_dim and width must be at least 1")
        self.latent_dim, self.width = latent_dim, width
        self.g_batchnorm, self.d_batchnorm = g_batchnorm, d_batchnorm

    def build(self, shape):
        if len(shape) != 3 or shape[1] != shape[2]:
            raise ValueError(f"dcgan needs square images [C, H, W], got shape {tuple(shape)}; "
                             "use --arch mlp for vector data")
        g = DCGANGenerator(shape, self.latent_dim, self.width, self.g_batchnorm)
        d = DCGANDiscriminator(shape, self.width, self.d_batchnorm)
        return g, d
