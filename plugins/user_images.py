"""What the datasets of the user's own files share: 8-bit images in memory, a fixed split, a protocol.

``image-folder`` (PNG and JPEG files) and ``npz`` (a NumPy array file) both end in images
``[N, C, H, W]`` (uint8, or an npz file's floats) and, for labelled data, classes ``[N]``
numbered from 0. They serve
them as the generator outputs them, in [-1, 1], split once and for all: ``test_fraction``
of each class held out (of all images when unlabelled), drawn with the fixed seed 0, so
that every run, and every reviewer, trains and scores on the same images.

The files are found under the data root (``--data-root DIR``, or ``GANAGERIE_DATA``): an
option names a path inside it, never an absolute one. A config, suite or results file that
someone else wrote then never makes this machine read elsewhere, and a reviewer reruns it
on their own copy of the files with their own ``--data-root``; the protocol's digest of the
decoded images says whether the copies are the same.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganagerie.components import Dataset, DataSplit
from ganagerie.plugins.mnist_5k import stratified_split
from ganagerie.plugins.torchvision_datasets import data_root

#: the most the images may take in memory as float32 (what the trainer holds)
MAX_FLOAT_BYTES = 16 * 2**30
#: the channel counts architectures and backbones take: grey and RGB
CHANNELS = (1, 3)


def under_data_root(name: str, option: str) -> Path:
    """The path that option ``option`` (``name``) names inside the data root; a ValueError
    saying what to do when it would leave it."""
    root = Path(data_root())
    relative = Path(name)
    if relative.is_absolute() or name.startswith("~") or ".." in relative.parts:
        where = Path(name).expanduser()
        fix = (f"pass --data-root {where.parent} and {option}={where.name}" if where.is_absolute()
               else "pass --data-root DIR (or set GANAGERIE_DATA) to read files elsewhere")
        raise ValueError(f"{option}={name!r} must be a path inside the data root {root}, with no "
                         f"'..' (a config from elsewhere must not choose what this machine reads); {fix}")
    return root / relative


def check_test_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")


def check_memory(n: int, shape: tuple[int, ...], where: str, advice: str = "use fewer images") -> None:
    """Refuse ``n`` images of ``shape`` that would not fit in memory as floats, before they are read."""
    size = 4 * n * int(torch.Size(shape).numel())
    if size > MAX_FLOAT_BYTES:
        raise ValueError(f"the {n:,} images of {where}, {'x'.join(map(str, shape))} each, would take "
                         f"{size / 2**30:.1f} GiB as floats, more than {MAX_FLOAT_BYTES // 2**30} GiB; "
                         f"{advice}")


class UserImages(Dataset):
    """The user's images ``[N, C, H, W]`` served in [-1, 1], split with the fixed seed 0.

    A subclass reads its files in ``__init__`` (so that a bad file is refused before a run
    writes anything) and ends with ``hold``.
    """

    def hold(self, images: Tensor, labels: Tensor | None, classes: list[str] | None,
             test_fraction: float, about: dict[str, Any],
             value_range: tuple[float, float] = (0.0, 255.0)) -> None:
        """Keep ``images`` (``[N, C, H, W]``, values in ``value_range``: uint8 0..255, or floats)
        and their ``labels`` (classes 0..K-1 named ``classes``, or None), split them, and
        remember ``about`` (how they were read) for ``protocol``. A ValueError when a split
        would be empty."""
        self.images, self.labels, self.classes = images, labels, classes
        self.value_range = value_range
        self.shape = tuple(images.shape[1:])
        self.num_classes = len(classes) if classes else None
        self._about = about
        ids = torch.arange(images.shape[0])
        by = labels if labels is not None else torch.zeros(images.shape[0], dtype=torch.long)
        parts = stratified_split(ids, by, self.num_classes or 1, test_fraction)
        self._index = {split: part.x for split, part in parts.items()}
        for split, index in self._index.items():
            if len(index) == 0:
                raise ValueError(f"test_fraction={test_fraction} of {images.shape[0]} images leaves the "
                                 f"{split} split empty; give more images or another test_fraction")
        self._splits: dict[str, DataSplit] = {}
        self._digest: str | None = None

    def load(self, split: str = "train") -> DataSplit:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; use train or test")
        if split not in self._splits:
            index = self._index[split]
            low, high = self.value_range
            x = self.images[index].float().sub_(low).div_((high - low) / 2).sub_(1.0)  # 0..255: x/127.5 - 1
            y = None if self.labels is None else self.labels[index]
            self._splits[split] = DataSplit(x, y)
        return self._splits[split]

    def digest(self) -> str:
        """The first 16 hex digits of a SHA-256 over the decoded images and labels: whether two
        machines' copies of the files are the same data."""
        if self._digest is None:
            h = hashlib.sha256(str(tuple(self.images.shape)).encode())
            h.update(self.images.contiguous().numpy().tobytes())
            if self.labels is not None:
                h.update(self.labels.numpy().tobytes())
            self._digest = h.hexdigest()[:16]
        return self._digest

    def protocol(self) -> dict[str, Any]:
        return {**self._about, "shape": list(self.shape), "images": int(self.images.shape[0]),
                "train": len(self._index["train"]), "test": len(self._index["test"]),
                "split_seed": 0, "classes": self.classes, "digest": self.digest()}


def class_labels(y: Any, n: int, where: str) -> tuple[Tensor, list[str]]:
    """Labels ``[n]`` and class names from an integer array ``y`` (``n`` > 0) of classes 0..K-1,
    each used, K at least 2 (one class is unlabelled data); a ValueError naming ``where``
    otherwise."""
    import numpy as np

    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{where}: y must hold one label per image, shape ({n},), not {tuple(y.shape)}")
    if not (np.issubdtype(y.dtype, np.integer) and not np.issubdtype(y.dtype, np.bool_)):
        raise ValueError(f"{where}: y must hold integer classes 0..K-1, not {y.dtype}")
    low, high = int(y.min()), int(y.max())
    if low < 0:
        raise ValueError(f"{where}: y holds class {low}; classes are numbered from 0")
    if high >= 100_000:
        raise ValueError(f"{where}: y holds class {high}; give at most 100,000 classes")
    counts = np.bincount(y.astype(np.int64), minlength=high + 1)
    missing = np.flatnonzero(counts == 0)
    if len(missing):
        raise ValueError(f"{where}: no image has class {int(missing[0])}, but class {high} exists; "
                         "number the classes 0..K-1")
    if high == 0:
        raise ValueError(f"{where}: every image has class 0; leave y out for unlabelled images")
    return torch.from_numpy(y.astype(np.int64)), [str(c) for c in range(high + 1)]
