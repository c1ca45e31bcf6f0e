"""Precision and recall (Kynkäänniemi et al. 2019, k=3) and density and coverage (Naeem et
al. 2020, k=5), in a backbone's feature space.

Each real (or generated) sample gets a ball reaching its k-th nearest neighbour in its own
set; balls are closed (distance <= radius).

* precision: share of generated samples inside some real ball (fidelity);
* recall: share of real samples inside some generated ball (diversity);
* density: balls of real samples holding each generated sample, divided by k, averaged;
  1 in expectation when both sets come from one distribution;
* coverage: share of real balls holding at least one generated sample.

The papers compare equal numbers of real and generated samples: both sets are cut to the
smaller of the two (and to ``n_max``), the real one by a seeded random choice. Distances are
computed in float64, in blocks of rows, so memory stays linear in the set sizes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie.evaluation.backbones import BackboneMetric

BLOCK = 2048


def pairwise_distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances ``[len(a), len(b)]`` through one matrix product (float64 keeps it exact enough)."""
    # torch.cdist does the same but costs ~15 ms a call on small CPU inputs (torch 2.14)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * (a @ b.T)
    return sq.clamp_(min=0).sqrt_()


def knn_radii(x: Tensor, k: int) -> Tensor:
    """Distance from each row of ``x`` to its ``k``-th nearest other row."""
    if x.shape[0] <= k:
        raise ValueError(f"need more than k={k} samples for k-nearest-neighbour radii, got {x.shape[0]}")
    x = x.double()
    radii = []
    for start in range(0, x.shape[0], BLOCK):
        d = pairwise_distances(x[start : start + BLOCK], x)
        rows = torch.arange(d.shape[0], device=x.device)
        d[rows, rows + start] = float("inf")  # a sample is not its own neighbour
        radii.append(d.topk(k, dim=1, largest=False).values[:, k - 1])
    return torch.cat(radii)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall of ``fake`` against ``real`` (Kynkäänniemi et al. 2019)."""
    real, fake = real.double(), fake.double()
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    fake_inside = torch.zeros(fake.shape[0], dtype=torch.bool, device=fake.device)
    real_inside = []
    for start in range(0, real.shape[0], BLOCK):
        d = pairwise_distances(real[start : start + BLOCK], fake)
        fake_inside |= (d <= r_real[start : start + BLOCK, None]).any(dim=0)
        real_inside.append((d <= r_fake[None, :]).any(dim=1))
    return fake_inside.double().mean().item(), torch.cat(real_inside).double().mean().item()


def density_coverage(real: Tensor, fake: Tensor, k: int = 5) -> tuple[float, float]:
    """Density and coverage of ``fake`` against ``real`` (Naeem et al. 2020)."""
    real, fake = real.double(), fake.double()
    r_real = knn_radii(real, k)
    inside_count = torch.zeros((), dtype=torch.float64, device=real.device)
    covered = []
    for start in range(0, real.shape[0], BLOCK):
        d = pairwise_distances(real[start : start + BLOCK], fake)
        radius = r_real[start : start + BLOCK, None]
        inside_count += (d <= radius).sum()
        covered.append(d.amin(dim=1) <= radius[:, 0])
    density = inside_count.item() / (k * fake.shape[0])
    return density, torch.cat(covered).double().mean().item()


class _ManifoldMetric(BackboneMetric):
    """Collects generated features; ``compute`` cuts both sets to one size and scores them."""

    def __init__(self, k: int = 3, n_max: int = 10_000, backbone: str = "auto",
                 inception_weights: str = ""):
        super().__init__(backbone, inception_weights)
        if k < 1 or n_max <= k:
            raise ValueError("k must be at least 1 and n_max larger than k")
        self.k, self.n_max = k, n_max
        self.fake_features: list[Tensor] = []
        self.n_used = 0

    def update(self, fake: Tensor) -> None:
        self.fake_features.append(self.backbone.embed(fake)[0])

    def _sets(self) -> tuple[Tensor, Tensor]:
        fake = torch.cat(self.fake_features)
        real = self.backbone.embed(self.real.x)[0]
        n = min(fake.shape[0], real.shape[0], self.n_max)
        pick = torch.randperm(real.shape[0])[:n].sort().values.to(real.device)
        self.n_used = n
        return real[pick], fake[:n]

    def protocol(self) -> dict:
        return {**super().protocol(), "k": self.k, "n_real_used": self.n_used,
                "n_generated_used": self.n_used, "n_generated": sum(len(f) for f in self.fake_features)}


class PrecisionRecall(_ManifoldMetric):
    """Improved precision (fidelity) and recall (diversity) with k-NN balls (Kynkäänniemi 2019)."""

    value_range = {"precision": (0, 1), "recall": (0, 1)}
    higher_is_better = {"precision": True, "recall": True}

    def compute(self) -> dict[str, float]:
        p, r = precision_recall(*self._sets(), k=self.k)
        return {"precision": p, "recall": r}


class DensityCoverage(_ManifoldMetric):
    """Density (fidelity) and coverage (diversity) with k-NN balls of real samples (Naeem 2020)."""

    value_range = {"density": (0, None), "coverage": (0, 1)}  # density may exceed 1
    higher_is_better = {"density": True, "coverage": True}

    def __init__(self, k: int = 5, n_max: int = 10_000, backbone: str = "auto",
                 inception_weights: str = ""):
        super().__init__(k, n_max, backbone, inception_weights)

    def compute(self) -> dict[str, float]:
        d, c = density_coverage(*self._sets(), k=self.k)
        return {"density": d, "coverage": c}
