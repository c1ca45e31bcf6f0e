"""Stacked digits: three bundled 8x8 digits stacked as the channels of one image, 1,000 modes.

The Stacked MNIST mode-collapse benchmark (Metz et al. 2017; VEEGAN, Srivastava et al.
2017; PacGAN, Lin et al. 2018) on scikit-learn's bundled digits, so it needs no download.
The label of an image is 100*first + 10*second + third. Labels are balanced: each of the
1,000 combinations appears equally often (up to one), each channel's digit image drawn at
random from the digits of that class in the same split. Scored by ``class-modes`` (modes
covered out of 1,000 and KL), with each channel read by the digits' classifier.
"""

from __future__ import annotations

import torch

from ganagerie.components import Dataset, DataSplit
from ganagerie.plugins.digits import Digits

_SPLIT_OFFSET = {"train": 0, "test": 1_000_003}


class Stacked(Dataset):
    """Three samples of a one-channel, 10-class dataset stacked as channels: 1,000 balanced modes."""

    num_classes = 1000

    def __init__(self, base: Dataset, n: int, n_test: int, seed: int):
        if n < 1 or n_test < 1:
            raise ValueError("n and n_test must be at least 1")
        if base.shape[0] != 1 or base.num_classes != 10:
            raise ValueError(f"stacking needs one-channel data of 10 classes, got shape {base.shape} "
                             f"and {base.num_classes} classes")
        self.n, self.n_test, self.seed = n, n_test, seed
        self.stacked_from = base
        self.shape = (3, *base.shape[1:])
        self._cache: dict[str, DataSplit] = {}

    def load(self, split: str = "train") -> DataSplit:
        if split not in _SPLIT_OFFSET:
            raise ValueError(f"unknown split {split!r}; use train or test")
        if split not in self._cache:
            self._cache[split] = self._stack(split)
        return self._cache[split]

    def _stack(self, split: str) -> DataSplit:
        base = self.stacked_from.load(split)
        n = self.n if split == "train" else self.n_test
        g = torch.Generator().manual_seed(self.seed + _SPLIT_OFFSET[split])
        labels = torch.randperm(n, generator=g) % self.num_classes
        digits = torch.stack([labels // 100, labels // 10 % 10, labels % 10], dim=1)
        # for each class, its images in the split; pick one at random per channel
        by_class = [(base.y == c).nonzero().squeeze(1) for c in range(10)]
        sizes = torch.tensor([len(idx) for idx in by_class])
        offsets = torch.cumsum(sizes, 0) - sizes
        order = torch.cat(by_class)
        pick = (torch.rand(n, 3, generator=g) * sizes[digits]).long()
        images = base.x[order[offsets[digits] + pick]]  # [n, 3, 1, H, W]
        return DataSplit(images.squeeze(2).contiguous(), labels)


class StackedDigits(Stacked):
    """Three 8x8 digits stacked as RGB channels: 1,000 modes (Stacked MNIST on the bundled digits)."""

    shape = (3, 8, 8)

    def __init__(self, n: int = 50_000, n_test: int = 10_000, seed: int = 0):
        super().__init__(Digits(), n, n_test, seed)
