"""MNIST, Fashion-MNIST and CIFAR-10 through torchvision.

Where the files are and whether they may be downloaded come only from the command line
(``--data-root``, ``--download``) or the environment (``GANAGERIE_DATA``,
``GANAGERIE_DOWNLOAD=1``), never from a config, suite or results file that someone else
wrote. Nothing is downloaded unless the user asks; without the files the error names the
flags to use. Images are scaled to [-1, 1] and held in memory.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ganagerie.components import Dataset, DataSplit
from ganagerie.errors import UsageError


def data_root() -> str:
    return str(Path(os.environ.get("GANAGERIE_DATA", "~/.cache/ganagerie/data")).expanduser())


def may_download() -> bool:
    return os.environ.get("GANAGERIE_DOWNLOAD", "") not in ("", "0")


class TorchvisionImages(Dataset):
    """A torchvision image dataset held in memory as floats in [-1, 1]."""

    def __init__(self, title: str, cls_name: str, shape):
        self.title, self.cls_name = title, cls_name
        self.shape = tuple(shape)
        self.num_classes = 10
        self.root = data_root()
        self.download = may_download()
        self._cache: dict[str, DataSplit] = {}

    def load(self, split: str = "train") -> DataSplit:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; use train or test")
        if split not in self._cache:
            self._cache[split] = self._read(split == "train")
        return self._cache[split]

    def _read(self, train: bool) -> DataSplit:
        import torchvision.datasets as tvd

        cls = getattr(tvd, self.cls_name)
        try:
            ds = cls(self.root, train=train, download=self.download)
        except RuntimeError as exc:
            if "not found" not in str(exc).lower() and "corrupted" not in str(exc).lower():
                raise
            raise UsageError(
                f"{self.title} not found under {self.root}; pass --download to fetch it, "
                "or --data-root DIR where it already is"
            ) from None
        except OSError as exc:  # URLError and socket errors while downloading
            raise UsageError(
                f"could not download {self.title} into {self.root} ({exc}); without internet, "
                "copy the files there on another machine and pass --data-root"
            ) from None
        data = torch.as_tensor(ds.data)
        if data.dim() == 3:  # MNIST-style [N, H, W]
            data = data.unsqueeze(1)
        else:  # CIFAR-style [N, H, W, C]
            data = data.permute(0, 3, 1, 2)
        x = data.float().div(127.5).sub(1.0).contiguous()
        y = torch.as_tensor(ds.targets, dtype=torch.long)
        return DataSplit(x, y)


def mnist() -> TorchvisionImages:
    """MNIST handwritten digits, 28x28 grey (LeCun et al. 1998); needs the files or --download."""
    return TorchvisionImages("MNIST", "MNIST", (1, 28, 28))


def fashion_mnist() -> TorchvisionImages:
    """Fashion-MNIST, 28x28 grey (Xiao et al. 2017); needs the files or --download."""
    return TorchvisionImages("Fashion-MNIST", "FashionMNIST", (1, 28, 28))


def cifar10() -> TorchvisionImages:
    """CIFAR-10, 32x32 colour (Krizhevsky 2009); needs the files or --download."""
    return TorchvisionImages("CIFAR-10", "CIFAR10", (3, 32, 32))
