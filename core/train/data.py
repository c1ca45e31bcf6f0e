"""The data source the trainer asks for batches: a split held on the device, sampled by index."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class TensorSource:
    """Yields batches from an in-memory tensor, one random permutation per epoch.

    Its state (generator, permutation, position) is checkpointed, so a resumed run
    sees exactly the batches an uninterrupted one would.
    """

    def __init__(self, data: Tensor, batch_size: int, seed: int, device: torch.device | str,
                 labels: Tensor | None = None):
        if data.shape[0] < batch_size:
            raise ValueError(f"batch size {batch_size} is larger than the dataset ({data.shape[0]})")
        if labels is not None and labels.shape != (data.shape[0],):
            raise ValueError(f"the dataset gives {tuple(labels.shape)} labels for {data.shape[0]} samples")
        # samples in the networks' dtype (float32, or float64 where a test sets the default)
        self.data = data.to(device, dtype=torch.get_default_dtype() if data.is_floating_point() else None)
        #: the samples' classes, carried with each batch (conditional runs), else None
        self.labels = None if labels is None else labels.to(device=device, dtype=torch.long)
        self.batch_size = batch_size
        self.generator = torch.Generator().manual_seed(seed)
        self.perm = self._permutation()
        self.pos = 0

    def _permutation(self) -> Tensor:
        return torch.randperm(self.data.shape[0], generator=self.generator).to(self.data.device)

    def batch(self) -> tuple[Tensor, Tensor | None]:
        """The next batch of samples and their labels (None without labels)."""
        if self.pos + self.batch_size > self.perm.shape[0]:
            self.perm = self._permutation()
            self.pos = 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        labels = None if self.labels is None else self.labels.index_select(0, idx)
        return self.data.index_select(0, idx), labels

    def next(self) -> Tensor:
        """The next batch of samples."""
        return self.batch()[0]

    def state_dict(self) -> dict[str, Any]:
        return {
            "generator": self.generator.get_state(),
            "perm": self.perm.cpu(),
            "pos": self.pos,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        perm, pos, n = state["perm"], int(state["pos"]), self.data.shape[0]
        is_permutation = perm.shape == (n,) and torch.equal(perm.sort().values.cpu(), torch.arange(n))
        if not is_permutation or not 0 <= pos <= n:
            raise ValueError("the saved data order is not a permutation of this dataset")
        self.generator.set_state(state["generator"])
        self.perm = perm.to(self.data.device)
        self.pos = pos
