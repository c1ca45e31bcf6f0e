"""scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set, 1,797 images).

Real data that needs no download. Pixels 0..16 are scaled to [-1, 1]; a fixed,
class-stratified 80/20 split gives "train" and "test".
"""

from __future__ import annotations

import torch

from ganagerie.components import Dataset, DataSplit


class Digits(Dataset):
    """scikit-learn's 8x8 handwritten digits, 10 classes, scaled to [-1, 1]; no download."""

    shape = (1, 8, 8)
    num_classes = 10

    def __init__(self, test_fraction: float = 0.2):
        if not 0 < test_fraction < 1:
            raise ValueError("test_fraction must be in (0, 1)")
        self.test_fraction = test_fraction
        self._splits: dict[str, DataSplit] | None = None

    def load(self, split: str = "train") -> DataSplit:
        if split not in ("train", "test"):
            raise ValueError(f"unknown split {split!r}; use train or test")
        if self._splits is None:
            self._splits = self._load_splits()
        return self._splits[split]

    def _load_splits(self) -> dict[str, DataSplit]:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
        y = torch.as_tensor(bunch.target, dtype=torch.long)
        g = torch.Generator().manual_seed(0)
        test_idx = []
        for c in range(self.num_classes):  # stratified, so both splits hold every class
            idx = (y == c).nonzero().squeeze(1)
            idx = idx[torch.randperm(len(idx), generator=g)]
            test_idx.append(idx[: round(len(idx) * self.test_fraction)])
        test = torch.cat(test_idx).sort().values
        is_test = torch.zeros(len(y), dtype=torch.bool)
        is_test[test] = True
        return {
            "train": DataSplit(x[~is_test], y[~is_test]),
            "test": DataSplit(x[is_test], y[is_test]),
        }
