"""Energy distance between generated and real samples (Székely & Rizzo 2013, "Energy
statistics: A class of statistics based on distances", J. Stat. Planning and Inference 143).

For distributions of X (generated) and Y (real) with finite means,

    E(X, Y) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||,

Euclidean distances, X' and Y' independent copies. E >= 0, with equality only when the two
distributions are equal, so unlike mode counts it sees every difference in shape (spread
within a mode, mass between modes, unequal weights).

Estimator: the U-statistic, unbiased for E: with n generated samples x and m real ones y,

    2/(n m) sum_{i,j} ||x_i - y_j||
      - 1/(n (n-1)) sum_{i!=k} ||x_i - x_k|| - 1/(m (m-1)) sum_{j!=l} ||y_j - y_l||.

Its mean is 0 when both samples come from one distribution, whatever n and m; it can be
slightly negative. Székely & Rizzo's two-sample statistic is the V-statistic (divisors n^2
and m^2 within samples), which is >= 0 but biased upwards by about E||X-X'||/n + E||Y-Y'||/m.

Real samples: ``n_real`` (2,500) drawn without replacement, by the evaluation's seeded RNG,
from the dataset's test split (all of it when smaller); generated: the evaluation's, 2,500
unless the user asks otherwise (the VEEGAN/PacGAN sample size on 2-D mixtures). Distances
are computed exactly (no matrix-product shortcut), in float64, in blocks of rows.
"""

from __future__ import annotations

import torch
from ganagerie.components import Dataset, Metric
from torch import Tensor

BLOCK = 1024


def distance_sum(a: Tensor, b: Tensor) -> Tensor:
    """The sum of Euclidean distances over all pairs (row of ``a``, row of ``b``), in float64."""
    a, b = a.double(), b.double()
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[0], BLOCK):
        # the exact mode: the matrix-product one turns a zero distance into ~1e-8
        total += torch.cdist(a[start : start + BLOCK], b,
                             compute_mode="donot_use_mm_for_euclid_dist").sum()
    return total


def energy_distance(x: Tensor, y: Tensor) -> float:
    """The unbiased (U-statistic) energy distance between samples ``x`` ``[n, d]`` and ``y`` ``[m, d]``."""
    n, m = x.shape[0], y.shape[0]
    if n < 2 or m < 2:
        raise ValueError(f"the energy distance needs at least 2 samples on each side, got {n} "
                         f"generated and {m} real")
    # self-distances are exactly 0, so summing all pairs and dividing by n (n-1) skips i == k
    between = distance_sum(x, y) / (n * m)
    within_x = distance_sum(x, x) / (n * (n - 1))
    within_y = distance_sum(y, y) / (m * (m - 1))
    return (2 * between - within_x - within_y).item()


class EnergyDistance(Metric):
    """Energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| to the test split, unbiased (Székely & Rizzo 2013)."""

    n_samples = 2500
    needs = "vector samples (one axis, such as the 2-D mixtures ring8 and grid25)"
    #: lower is better: 0 when generated and real samples come from one distribution
    higher_is_better = {"energy_distance": False}  # unbiased: it can fall below 0, so no range

    def __init__(self, n_real: int = 2500):
        if n_real < 2:
            raise ValueError(f"n_real must be at least 2, got {n_real}")
        self.n_real = n_real
        self.real: Tensor | None = None
        self.fake: list[Tensor] = []

    def applies_to(self, dataset: Dataset) -> bool:
        return len(dataset.shape) == 1

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        real = dataset.load("test").x
        if real.shape[0] > self.n_real:
            # a random subset, not the first rows: a split may be stored sorted by class
            pick = torch.randperm(real.shape[0])[: self.n_real].sort().values
            real = real[pick]
        self.real = real.to(device=device, dtype=torch.float64).flatten(1)
        self.fake = []

    def update(self, fake: Tensor) -> None:
        self.fake.append(fake.detach().flatten(1).double())

    def compute(self) -> dict[str, float]:
        fake = torch.cat(self.fake) if self.fake else torch.empty(0, 0)
        return {"energy_distance": energy_distance(fake, self.real)}

    def protocol(self) -> dict:
        return {"estimator": "U-statistic (unbiased; within-sample means over i != j)",
                "distance": "Euclidean, exact, float64",
                "real": "the test split, a seeded random subset without replacement",
                "n_real": None if self.real is None else self.real.shape[0],
                "n_generated": sum(f.shape[0] for f in self.fake)}
