"""FID-infinity: FID extrapolated to infinitely many generated samples (Chong & Forsyth 2020,
"Effectively Unbiased FID and Inception Score and where to find them").

FID_N, the FID of N generated samples, is biased upwards by a term that falls like 1/N and
whose size depends on the generator, so two models compared at one N can swap places. Their
recipe (``mchong6/FID_IS_infinity``, ``score_infinity.py``): draw 50,000 samples, compute
FID_N at 15 values of N evenly spaced from 5,000 to 50,000 (each on a fresh random subset
of the drawn samples), fit FID_N = FID_inf + b / N by least squares and report the fit at
1/N = 0.

Here the grid is ``points`` values of N from ``min_fraction`` of the drawn samples to all of
them: with the default 50,000 samples and ``min_fraction=0.1``, ``points=15`` that is the
paper's 5k..50k; a smaller evaluation (``--n-samples 10000``) scales it down (1k..10k).
Each FID_N is ``fid``'s computation (torchmetrics' Fréchet distance on the same backbone,
the same real statistics, computed once); the protocol records every (N, FID_N) and the
slope b. The paper draws latents from a scrambled Sobol sequence:
``ganagerie eval --latents sobol`` does (for every metric of that evaluation). The paper's
FID is pytorch-fid's, ours that of the chosen backbone and ``protocol``.

No range is declared: like KID's, the extrapolated estimate can fall below 0 when the
generated and real distributions are close.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganagerie.plugins.fid_kid_is import FID


class FIDInfinity(FID):
    """FID extrapolated linearly in 1/N to infinitely many samples (Chong & Forsyth 2020; lower is better)."""

    #: the paper's 50,000 generated samples
    n_samples = 50_000
    by_default = False  # asked for by name: it draws 50,000 samples for 15 FIDs
    value_range: dict = {}
    higher_is_better = {"fid_infinity": False}

    def __init__(self, points: int = 15, min_fraction: float = 0.1, backbone: str = "auto",
                 inception_weights: str = "", protocol: str = ""):
        super().__init__(backbone, inception_weights, protocol)
        if points < 2:
            raise ValueError(f"points must be at least 2 (a line needs two), got {points}")
        if not 0 < min_fraction < 1:
            raise ValueError(f"min_fraction must lie between 0 and 1 (the paper's 0.1: 5k of 50k), "
                             f"got {min_fraction}")
        self.points, self.min_fraction = points, min_fraction
        self.fits: list[tuple[int, float]] = []
        self.slope: float | None = None

    def make(self, feature: nn.Module):
        from torchmetrics.image.fid import FrechetInceptionDistance

        # the real statistics survive reset(): each FID_N reuses them
        return FrechetInceptionDistance(feature=feature, reset_real_features=False)

    def setup(self, dataset, device: torch.device) -> None:
        super().setup(dataset, device)
        self.features: list[Tensor] = []

    def update(self, fake: Tensor) -> None:
        self.features.append(self.backbone.embed(fake)[0])
        self.n += fake.shape[0]

    def sizes(self, n: int) -> list[int]:
        """The N of the fit for ``n`` drawn samples: ``points`` values from ``min_fraction * n``
        to ``n``, evenly spaced (rounded down, as the paper's ``astype('int32')``)."""
        low = int(self.min_fraction * n)
        if low < 2 or n - low < self.points - 1:
            raise ValueError(f"fid-infinity needs at least {self.points} distinct N of 2 samples or "
                             f"more from {self.min_fraction:g} x {n} samples to {n}")
        return torch.linspace(low, n, self.points, dtype=torch.float64).long().tolist()

    def compute(self) -> dict[str, float]:
        feats = torch.cat(self.features)
        sizes = self.sizes(len(feats))
        self.fits = []
        for size in sizes:
            self.tm.reset()  # generated statistics only
            self.tm.update(feats[torch.randperm(len(feats), device=feats.device)[:size]], real=False)
            self.fits.append((size, float(self.tm.compute())))
        x = torch.tensor([1 / size for size, _ in self.fits], dtype=torch.float64)
        y = torch.tensor([fid for _, fid in self.fits], dtype=torch.float64)
        slope = ((x - x.mean()) * (y - y.mean())).sum() / (x - x.mean()).square().sum()
        self.slope = float(slope)
        return {"fid_infinity": float(y.mean() - slope * x.mean())}

    def protocol(self) -> dict:
        return {**super().protocol(), "points": self.points, "min_fraction": self.min_fraction,
                "fid_n": [[size, round(fid, 6)] for size, fid in self.fits],
                "slope": self.slope, "fit": "least squares FID_N = fid_infinity + slope / N",
                "implementation": "torchmetrics FrechetInceptionDistance at each N"}
