"""The contracts every component kind honours; plugins subclass these or duck-type them.

Each contract is small on purpose (one job per component):

* ``Loss``: the adversarial objective, a D side and a G side.
* ``Regularizer``: anything else that shapes training: a penalty on the D or the
  G objective, or a change made to the networks once at build time.
* ``Architecture``: builds a generator and a discriminator for a data shape.
* ``Dataset``: describes its shape (and modes, where it has them) and loads splits.
* ``Metric``: scores generated samples against a dataset (``update``, ``compute``).

The trainer calls nothing else. Every method called inside the training step must
stay on the device: no ``.item()``, no printing, no host sync.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor, nn


class Generator(nn.Module):
    """Maps noise ``z`` of shape ``[B, latent_dim]`` to samples ``[B, *shape]``."""

    latent_dim: int

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` latent vectors from the prior (standard normal unless overridden)."""
        device = next(self.parameters()).device
        if generator is not None and generator.device != device:
            return torch.randn(n, self.latent_dim, generator=generator).to(device)
        return torch.randn(n, self.latent_dim, generator=generator, device=device)


class Discriminator(nn.Module):
    """Scores samples; ``forward(x) == classify(features(x))``, one logit per sample.

    ``features`` exposes an intermediate layer (for feature matching and similar
    techniques), so that the trainer gets both with one forward pass.
    """

    @abstractmethod
    def features(self, x: Tensor) -> Tensor:
        """Intermediate features ``[B, F]`` of a batch."""

    @abstractmethod
    def classify(self, h: Tensor) -> Tensor:
        """Logits ``[B]`` from features ``[B, F]``."""

    def forward(self, x: Tensor) -> Tensor:
        return self.classify(self.features(x))


class Loss(ABC):
    """An adversarial objective. Both sides return a scalar to minimise."""

    @abstractmethod
    def d_loss(self, real_out: Tensor, fake_out: Tensor) -> Tensor:
        """The discriminator's loss from its logits on a real and a generated batch."""

    @abstractmethod
    def g_loss(self, fake_out: Tensor) -> Tensor:
        """The generator's loss from the discriminator's logits on a generated batch."""


@dataclass
class DStep:
    """What a regularizer sees during a discriminator update."""

    generator: Generator
    discriminator: Discriminator
    real: Tensor
    fake: Tensor  # detached from the generator
    real_out: Tensor
    fake_out: Tensor


@dataclass
class GStep:
    """What a regularizer sees during a generator update."""

    generator: Generator
    discriminator: Discriminator
    real: Tensor  # the last real batch the discriminator saw
    fake: Tensor
    fake_features: Tensor  # discriminator.features(fake), with grad to the generator
    fake_out: Tensor


class Regularizer:
    """Shapes training beyond the loss. Override only what the technique needs.

    Penalties are returned already weighted; they are added to the objective and
    logged under the regularizer's name.
    """

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        """Change the networks once, at build time, before optimizers exist."""

    def d_penalty(self, step: DStep) -> Tensor | None:
        """A scalar added to the discriminator's loss."""
        return None

    def g_penalty(self, step: GStep) -> Tensor | None:
        """A scalar added to the generator's loss."""
        return None


class Architecture(ABC):
    """Builds a generator and a discriminator for data of a given shape."""

    @abstractmethod
    def build(self, shape: tuple[int, ...]) -> tuple[Generator, Discriminator]:
        """Return fresh, randomly initialised networks for samples of ``shape``."""


@dataclass
class DataSplit:
    """A whole split in memory: samples scaled as the generator outputs them, labels if any."""

    x: Tensor
    y: Tensor | None = None


class Dataset(ABC):
    """A source of real samples. Small datasets load whole; the trainer samples by index."""

    #: shape of one sample, e.g. ``(2,)`` or ``(1, 28, 28)``
    shape: tuple[int, ...]
    #: mode centres ``[M, *shape]`` for mixtures, else None
    centers: Tensor | None = None
    #: standard deviation of each mixture component, else None
    mode_std: float | None = None
    #: number of classes for labelled data, else None
    num_classes: int | None = None
    #: for data whose channels each hold a sample of another dataset (Stacked MNIST): that
    #: dataset; the class is the base classes read channel group by channel group, first most
    #: significant, so a classifier of the base data scores it
    stacked_from: Dataset | None = None

    @abstractmethod
    def load(self, split: str = "train") -> DataSplit:
        """Load a split ("train" or "test")."""

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


class Metric(ABC):
    """Scores a generator's samples against a dataset, torchmetrics-style.

    ``setup`` prepares what the metric needs from the real data (once);
    ``update`` takes batches of generated samples; ``compute`` returns named values;
    ``protocol`` states how they were measured (a number without it is not a result).
    A fresh instance is built for every evaluation; construction must stay cheap.
    ``setup``, ``update`` and ``compute`` run under ``torch.no_grad`` with a seeded global RNG.
    A factory option named ``backbone`` or ``inception_weights`` receives the evaluation's
    choice of feature network (see ``ganagerie.backbones``).
    """

    #: generated samples its published protocol uses; an evaluation draws the largest
    #: of its metrics' numbers unless the user gives one
    n_samples: int = 10_000
    #: what a dataset needs for this metric to apply, in words (for error messages)
    needs: str = ""

    def applies_to(self, dataset: Dataset) -> bool:
        """Whether the metric is meaningful for ``dataset``; the default metrics are those that are."""
        return True

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        """Prepare references from the real data."""

    @abstractmethod
    def update(self, fake: Tensor) -> None:
        """Accumulate a batch of generated samples."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """The metric's values."""

    def protocol(self) -> dict:
        """How the values were measured (backbone, sample counts, k, ...)."""
        return {}
