"""ACGAN's auxiliary classifier (Odena, Olah & Shlens 2017, "Conditional Image Synthesis
with Auxiliary Classifier GANs", ICML, sec. 3).

G is told a class c for every sample, X_fake = G(c, z); D gives a source logit (the run's
adversarial loss) and class probabilities P(C | X) from a class head on the same features.
The paper's objective has two parts, the source part L_S (here the run's loss) and the class
part::

    L_C = E[log P(C = c | X_real)] + E[log P(C = c | X_fake)]

D maximises L_S + L_C and G maximises L_C - L_S. As losses to minimise, with CE the softmax
cross-entropy of D's class logits against the class::

    D pays  weight * (CE(real, y_real) + CE(fake, y_fake))     (y_fake: the classes G was asked for)
    G pays  weight * CE(G(z, y_fake), y_fake)

each CE the batch mean. This is the paper's variant: D learns the classes of generated samples
too. ``fake_in_d=false`` is StudioGAN's ``ACGAN-Mod`` (``d_cond_mtd: AC``): D's class loss on
real samples only. ``weight`` is the paper's 1 (it weighs L_S and L_C equally; StudioGAN's
``cond_lambda: 1.0``).

The class head is the discriminator's ``class_logits(h)`` on its features h
(``docs/plugins.md``, "A class head"); a discriminator without one, or a generator that is
not conditional (no classes to learn), is refused when the run is built. G's term reads the
features its update computed already; a D update carries no features, so D's term runs
``features`` once more on the real and on the generated batch (D's batch statistics and
spectral-norm power iterations see those passes too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Discriminator, DStep, Generator, GStep, Technique
from ganagerie.errors import UsageError


def on_discriminator(step: DStep | GStep, fn: Callable[..., Tensor], *xs: Tensor) -> Tensor:
    """``fn(D, *xs)`` on the step's discriminator: called directly in one run, and mapped
    over the seeds in a seed-stacked step (``ganagerie.train.batched.mapped``), where each
    seed's network meets its own slices of ``xs``."""
    if step.batch_dims == 1:
        return fn(step.discriminator, *xs)
    from ganagerie.train.batched import mapped

    return mapped(fn, step.discriminator)(*xs)


def features_of(d: Any, x: Tensor, y: Tensor) -> Tensor:
    """D's features of ``x``, given the classes ``y`` where D is conditional (projection)."""
    return d.features(x, y) if getattr(d, "conditional", False) else d.features(x)


def require_head(name: str, generator: Generator, discriminator: Discriminator,
                 methods: tuple[str, ...], how: str) -> None:
    """Refuse, in one line, a run whose G is not conditional or whose D lacks ``methods``."""
    if not getattr(generator, "conditional", False):
        raise UsageError(f"{name} needs a conditional generator on labelled data (G(z, y)); "
                         f"this one is not: {how}")
    missing = [m for m in methods if not callable(getattr(discriminator, m, None))]
    if missing:
        raise UsageError(f"{name} needs a discriminator with a class head ({', '.join(missing)}); "
                         f"this one has none: {how}")


def cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """Softmax cross-entropy of each sample, ``[*batch]``, for logits ``[*batch, K]``."""
    flat = F.cross_entropy(logits.flatten(0, -2).float(), labels.flatten(), reduction="none")
    return flat.view(labels.shape)


class AuxClassifier(Technique):
    """ACGAN: D's class head classifies real and generated samples; G's are made classifiable (Odena 2017)."""

    seed_batched = True  # each seed's loss reads its own D, batch and classes

    def __init__(self, weight: float = 1.0, fake_in_d: bool = True):
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        self.weight, self.fake_in_d = weight, fake_in_d

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        require_head("aux-classifier", generator, discriminator, ("class_logits",),
                     "use e.g. --arch resnet:conditional=true,projection=false,aux_classifier=true")

    def d_penalty(self, step: DStep) -> Tensor:
        if self.fake_in_d:
            def loss(d, real, fake, real_y, fake_y):
                return (cross_entropy(d.class_logits(features_of(d, real, real_y)), real_y)
                        + cross_entropy(d.class_logits(features_of(d, fake, fake_y)), fake_y))

            per_sample = on_discriminator(step, loss, step.real_input, step.fake_input,
                                          step.real_labels, step.fake_labels)
        else:
            per_sample = on_discriminator(
                step, lambda d, real, y: cross_entropy(d.class_logits(features_of(d, real, y)), y),
                step.real_input, step.real_labels)
        return self.weight * step.batch_mean(per_sample)

    def g_penalty(self, step: GStep) -> Tensor:
        logits = on_discriminator(step, lambda d, h: d.class_logits(h), step.fake_features)
        return self.weight * step.batch_mean(cross_entropy(logits, step.fake_labels))

