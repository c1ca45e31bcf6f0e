"""A plugin whose loss takes a built-in's name (``relativistic-average``), with a preset and a
suite that name it: both must train this distribution's loss, not the built-in."""

from __future__ import annotations

import torch
from torch import Tensor

from ganagerie import hookimpl
from ganagerie.components import DStep, Loss, Metric, Technique


class ScaledRelativisticAverage(Loss):
    """The relativistic average loss (Jolicoeur-Martineau 2019, RaSGAN), times ``scale``."""

    g_needs_real = True

    def __init__(self, scale: float = 2.0):
        self.scale = scale

    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        sp = torch.nn.functional.softplus
        return self.scale * (sp(-(real_out - fake_out.mean())).mean()
                             + sp(fake_out - real_out.mean()).mean())

    def g_loss(self, fake_out: Tensor, real_out: Tensor | None = None) -> Tensor:
        sp = torch.nn.functional.softplus
        return self.scale * (sp(-(fake_out - real_out.mean())).mean()
                             + sp(real_out - fake_out.mean()).mean())


class LogitPenalty(Technique):
    """weight * E[D(x)^2] on the real batch (a drift penalty)."""

    def __init__(self, weight: float = 0.1):
        self.weight = weight

    def d_penalty(self, step: DStep) -> Tensor:
        return self.weight * (step.real_out ** 2).mean()


class MeanNorm(Metric):
    """The norm of the generated samples' mean (0 for a centred ring)."""

    def applies_to(self, dataset) -> bool:
        return len(dataset.shape) == 1

    def setup(self, dataset, device) -> None:
        self.total, self.n = None, 0

    def update(self, fake: Tensor) -> None:
        part = fake.double().sum(0)
        self.total = part if self.total is None else self.total + part
        self.n += fake.shape[0]

    def compute(self) -> dict[str, float]:
        return {"mean_norm": float((self.total / self.n).norm())}


@hookimpl
def register_losses(register):
    register("relativistic-average", ScaledRelativisticAverage)


@hookimpl
def register_regularizers(register):
    register("extra-penalty", LogitPenalty)


@hookimpl
def register_variants(register):
    register("extra", lambda: {"loss": "relativistic-average", "regularizers": ["extra-penalty"]})
    # the same preset, naming its technique by its qualified name
    register("extra-q", lambda: {"loss": "relativistic-average",
                                 "regularizers": ["ganagerie-extra:extra-penalty"]})


@hookimpl
def register_metrics(register):
    register("mean-norm", MeanNorm)
