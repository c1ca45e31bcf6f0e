"""FID (Heusel et al. 2017), KID (Bińkowski et al. 2018) and Inception Score (Salimans et
al. 2016), computed by torchmetrics on a backbone's features and logits.

The backbone is the standard Inception network or the dataset's own classifier
(``ganagerie.evaluation.backbones``); FID and KID use its penultimate features, IS its class logits.
The real reference is a whole split, the train split unless the option ``protocol`` names a
published protocol (``ganagerie.evaluation.protocols``: ``mimicry``, ``studiogan-v0.3``,
``clean``), which also sets the generated sample count and, for the Inception, the
quantisation and resize; every result records it. Passing torchmetrics a feature module keeps
torch-fidelity and scipy out of the way: they are needed only for the Inception backbone.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from ganagerie.evaluation.backbones import Backbone, BackboneMetric


class BackboneOutput(nn.Module):
    """One output of a backbone (0: features, 1: logits) as the feature module torchmetrics wants.

    Rows ``[B, F]`` (an output computed already, not images ``[B, C, H, W]``) pass through:
    a metric scores subsets of its stored features with them (``fid-infinity``).
    """

    def __init__(self, backbone: Backbone, which: int):
        super().__init__()
        self.backbone, self.which = backbone, which
        self.num_features = backbone.feature_dim if which == 0 else backbone.num_classes

    def forward(self, x: Tensor) -> Tensor:
        return x if x.dim() == 2 else self.backbone.embed(x)[self.which]


def _quietly(make):
    # KID and IS warn on construction that they keep features in memory: we know
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*will save all extracted features.*")
        return make()


class _RealThenFake(BackboneMetric):
    """Feeds the real split once, then each generated batch, to a torchmetrics object."""

    def make(self, feature: nn.Module):
        raise NotImplementedError

    def setup(self, dataset, device: torch.device) -> None:
        super().setup(dataset, device)
        self.tm = self.make(BackboneOutput(self.backbone, 0)).to(device)
        self.tm.update(self.real.x, real=True)
        self.n = 0

    def update(self, fake: Tensor) -> None:
        self.tm.update(fake, real=False)
        self.n += fake.shape[0]


class FID(_RealThenFake):
    """Fréchet distance between Gaussians fitted to real and generated features (lower is better)."""

    value_range = {"fid": (0, None)}
    higher_is_better = {"fid": False}

    def make(self, feature: nn.Module):
        from torchmetrics.image.fid import FrechetInceptionDistance

        return FrechetInceptionDistance(feature=feature)

    def compute(self) -> dict[str, float]:
        return {"fid": float(self.tm.compute())}

    def protocol(self) -> dict:
        return {**super().protocol(), "n_generated": getattr(self, "n", 0),
                "implementation": "torchmetrics FrechetInceptionDistance"}


class KID(_RealThenFake):
    """Kernel (cubic polynomial) MMD between real and generated features, over random subsets."""

    higher_is_better = {"kid": False}  # no range: the unbiased estimate can fall below 0

    def __init__(self, subsets: int = 100, subset_size: int = 1000, backbone: str = "auto",
                 inception_weights: str = "", protocol: str = ""):
        super().__init__(backbone, inception_weights, protocol)
        if subsets < 1 or subset_size < 2:
            raise ValueError("subsets must be at least 1 and subset_size at least 2")
        self.subsets, self.subset_size = subsets, subset_size

    def make(self, feature: nn.Module):
        from torchmetrics.image.kid import KernelInceptionDistance

        return _quietly(lambda: KernelInceptionDistance(
            feature=feature, subsets=self.subsets, subset_size=self.subset_size))

    def compute(self) -> dict[str, float]:
        # small sets (the 8x8 digits' 1,437 training images) get subsets as large as they allow
        self.used_size = min(self.subset_size, self.n, int(self.real.x.shape[0]))
        self.tm.subset_size = self.used_size
        mean, std = self.tm.compute()
        return {"kid": float(mean), "kid_std": float(std)}

    def protocol(self) -> dict:
        return {**super().protocol(), "n_generated": getattr(self, "n", 0), "subsets": self.subsets,
                "subset_size": getattr(self, "used_size", self.subset_size), "kernel": "(x.y/d + 1)^3",
                "implementation": "torchmetrics KernelInceptionDistance"}


class IS(BackboneMetric):
    """exp E[KL(p(y|x) || p(y))] of the backbone's class probabilities, over splits (higher is better)."""

    value_range = {"is": (1, None), "is_std": (0, None)}  # KID is unbiased: it can be below 0
    higher_is_better = {"is": True}

    def __init__(self, splits: int = 10, backbone: str = "auto", inception_weights: str = "",
                 protocol: str = ""):
        super().__init__(backbone, inception_weights, protocol)
        if splits < 1:
            raise ValueError("splits must be at least 1")
        self.splits = splits

    def setup(self, dataset, device: torch.device) -> None:
        from torchmetrics.image.inception import InceptionScore

        super().setup(dataset, device)
        feature = BackboneOutput(self.backbone, 1)
        self.tm = _quietly(lambda: InceptionScore(feature=feature, splits=self.splits)).to(device)
        self.n = 0

    def update(self, fake: Tensor) -> None:
        self.tm.update(fake)
        self.n += fake.shape[0]

    def compute(self) -> dict[str, float]:
        if self.splits == 1:  # one split has no spread (torchmetrics would warn and give NaN)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return {"is": float(self.tm.compute()[0]), "is_std": 0.0}
        mean, std = self.tm.compute()
        return {"is": float(mean), "is_std": float(std)}

    def protocol(self) -> dict:
        proto = super().protocol()
        del proto["real"], proto["n_real"]  # IS never looks at real data
        return {**proto, "n_generated": getattr(self, "n", 0), "splits": self.splits,
                "num_classes": self.backbone.num_classes if self.backbone else None,
                "implementation": "torchmetrics InceptionScore"}
