"""Modes of labelled images: how many classes the dataset's classifier assigns to generated
samples, and the KL divergence of that class distribution to the real one.

With ``stacked-digits`` this is the Stacked MNIST protocol (Metz et al. 2017; VEEGAN,
Srivastava et al. 2017; PacGAN, Lin et al. 2018): 1,000 modes, 26,000 generated samples,
KL(generated || real), which stays finite when modes are missing. The real distribution is
that of the train split's labels; a class absent from them is given half a sample, so the
KL stays finite when the classifier assigns it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie.components import Dataset
from ganagerie.evaluation.backbones import BackboneMetric


class ClassModes(BackboneMetric):
    """Classes the dataset's classifier finds in generated samples, and KL(generated || real)."""

    n_samples = 26_000
    needs = "labelled images (a dataset with num_classes)"
    value_range = {"modes": (0, None), "kl": (0, None)}
    higher_is_better = {"modes": True, "kl": False}

    def __init__(self):
        # class modes are the dataset's classes: only its own classifier can tell them
        super().__init__(backbone="classifier")
        self.counts: Tensor | None = None

    def applies_to(self, dataset: Dataset) -> bool:
        return dataset.is_image and bool(dataset.num_classes)

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        super().setup(dataset, device)
        k = self.backbone.num_classes
        real = torch.bincount(self.real.y.to(device), minlength=k).double()
        self.real_p = real.clamp(min=0.5) / real.sum()
        self.counts = torch.zeros(k, dtype=torch.long, device=device)

    def update(self, fake: Tensor) -> None:
        pred = self.backbone.embed(fake)[1].argmax(dim=1)
        self.counts += torch.bincount(pred, minlength=len(self.counts))

    def compute(self) -> dict[str, float]:
        return class_mode_scores(self.counts, self.real_p)

    def value_ranges(self):
        if self.counts is None:
            return dict(self.value_range)
        return {**self.value_range, "modes": (0, len(self.counts))}

    def protocol(self) -> dict:
        n = None if self.counts is None else int(self.counts.sum())
        return {**super().protocol(), "n_generated": n, "n_modes": len(self.counts),
                "mode": "the classifier's most likely class",
                "kl": "KL(generated || real) over classes; real from train-split labels"}


def class_mode_scores(counts: Tensor, real_p: Tensor) -> dict[str, float]:
    """Classes with at least one sample, and KL(q || p) of the counts' distribution q to ``real_p``."""
    q = counts.double() / counts.sum()
    nz = q > 0
    kl = (q[nz] * (q[nz] / real_p[nz]).log()).sum().item()
    return {"modes": float(nz.sum().item()), "kl": kl}
