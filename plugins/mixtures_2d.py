"""2-D Gaussian mixtures, the mode-collapse benchmark of VEEGAN (Srivastava et al. 2017)
and PacGAN (Lin et al. 2018): ``ring8`` (8 modes on a circle of radius 1, std 0.01) and
``grid25`` (25 modes at {-4,-2,0,2,4}^2, std 0.05). Points are drawn once from a seed:
PacGAN trains on a fixed set of 100,000 of them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganagerie.components import Dataset, DataSplit

_SPLIT_OFFSET = {"train": 0, "test": 1_000_003}


#: 80 MB of points: more than any published 2-D protocol uses (PacGAN: 100,000)
MAX_POINTS = 10_000_000


class GaussianMixture(Dataset):
    """Equal-weight isotropic Gaussians at given centres; labels are the component index."""

    shape = (2,)

    def __init__(self, centers: Tensor, std: float, n: int, seed: int):
        if not 1 <= n <= MAX_POINTS:
            raise ValueError(f"n must be between 1 and {MAX_POINTS:,} points")
        if seed < 0:
            raise ValueError("seed must be 0 or more")
        self.centers = centers
        self.mode_std = std
        self.num_classes = len(centers)  # the labels are the component index
        self.n, self.seed = n, seed
        self._cache: dict[str, DataSplit] = {}

    def load(self, split: str = "train") -> DataSplit:
        if split not in _SPLIT_OFFSET:
            raise ValueError(f"unknown split {split!r}; use train or test")
        if split not in self._cache:
            g = torch.Generator().manual_seed(self.seed + _SPLIT_OFFSET[split])
            y = torch.randint(len(self.centers), (self.n,), generator=g)
            x = self.centers[y] + self.mode_std * torch.randn(self.n, 2, generator=g)
            self._cache[split] = DataSplit(x, y)
        return self._cache[split]


def ring8(n: int = 100_000, seed: int = 0) -> GaussianMixture:
    """8 Gaussians on a circle of radius 1, std 0.01 (VEEGAN/PacGAN 2-D ring)."""
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = torch.stack([angles.cos(), angles.sin()], dim=1).float()
    return GaussianMixture(centers, 0.01, n, seed)


def grid25(n: int = 100_000, seed: int = 0) -> GaussianMixture:
    """25 Gaussians on the grid {-4,-2,0,2,4}^2, std 0.05 (VEEGAN/PacGAN 2-D grid)."""
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    centers = torch.cartesian_prod(axis, axis)
    return GaussianMixture(centers, 0.05, n, seed)
