"""ReACGAN's data-to-data cross-entropy, D2D-CE (Kang, Shim, Cho & Park 2021, "Rebooting
ACGAN: Auxiliary Classifier GANs with Stable Training", NeurIPS, sec. 4).

D embeds each sample, f = P(h) on its features h (a linear head), and holds one proxy v_c
per class. Both are projected onto the unit sphere (the paper's first cure: normalised
vectors keep the classifier's gradients bounded). For a batch with classes y, each sample i
is pulled towards its class proxy and pushed away from the samples of other classes only::

    D2D-CE = -1/N sum_i log( exp(a_i) / (exp(a_i) + sum_{j in N(i)} exp(b_ij)) )
    a_i  = min(f_i . v_{y_i} - m_p, 0) / tau
    b_ij = max(f_i . f_j - m_n, 0) / tau,       N(i) = {j : y_j != y_i}

The margins stop the pull once a sample is within m_p of its proxy and the push once two
samples are less similar than m_n; leaving same-class samples out of N(i) is the paper's
false-negative removal. D minimises weight * D2D-CE on the real batch with its labels, G
weight * D2D-CE on its batch with the classes it was asked for (StudioGAN's ReACGAN,
``d_cond_mtd: D2DCE`` without TAC/ADC), added to the run's adversarial loss.

Defaults are StudioGAN's CIFAR-10 ReACGAN config (``src/configs/CIFAR10/ReACGAN.yaml``):
tau = 0.5, m_p = 0.98 (``m_p``), weight 0.5 (``cond_lambda``); its code sets m_n = 1 - m_p
(``sim + m_p - 1``), our 0.02. The value is the formula's, computed with an exact
log-sum-exp. StudioGAN's ``Data2DataCrossEntropyLoss`` instead subtracts each row's largest
similarity from the negative terms only, a shift the positive term does not share, so its
numbers differ from the formula (its gradients' directions too, slightly).

The discriminator provides ``class_embedding(h)`` ``[B, E]`` and ``class_proxies()``
``[K, E]`` (``docs/plugins.md``, "A class head"); one without them, or a generator that is not
conditional, is refused when the run is built. G's term reads the features its update
computed; D's runs ``features`` once more on the real batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganagerie.components import Discriminator, DStep, Generator, GStep, Technique
from ganagerie.plugins.aux_classifier import features_of, on_discriminator, require_head


def d2d_ce(embedding: Tensor, proxies: Tensor, labels: Tensor, temperature: float,
           positive_margin: float, negative_margin: float) -> Tensor:
    """Each sample's D2D-CE term ``[*batch]`` from embeddings ``[*batch, E]``, the class
    proxies ``[K, E]`` and the classes ``[*batch]`` (the batch is the last batch axis)."""
    f = F.normalize(embedding.float(), dim=-1)
    v = F.normalize(proxies.float(), dim=-1)[labels]
    pull = ((f * v).sum(-1) - positive_margin).clamp(max=0) / temperature
    push = ((f @ f.transpose(-1, -2)) - negative_margin).clamp(min=0) / temperature
    others = labels.unsqueeze(-1) != labels.unsqueeze(-2)  # also leaves out j = i
    push = push.masked_fill(~others, float("-inf"))
    return torch.logsumexp(torch.cat([pull.unsqueeze(-1), push], dim=-1), dim=-1) - pull


class D2DCE(Technique):
    """ReACGAN's D2D-CE: unit embeddings pulled to class proxies, pushed from other classes (Kang 2021)."""

    seed_batched = True  # each seed's loss reads its own D, batch and classes

    def __init__(self, weight: float = 0.5, temperature: float = 0.5, positive_margin: float = 0.98,
                 negative_margin: float = 0.02):
        if weight < 0:
            raise ValueError(f"weight must be >= 0, got {weight}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        for name, margin in (("positive_margin", positive_margin), ("negative_margin", negative_margin)):
            if not -1 <= margin <= 1:
                raise ValueError(f"{name} is a cosine similarity, in [-1, 1]; got {margin}")
        self.weight, self.temperature = weight, temperature
        self.margins = (positive_margin, negative_margin)

    def setup(self, generator: Generator, discriminator: Discriminator) -> None:
        require_head("d2d-ce", generator, discriminator, ("class_embedding", "class_proxies"),
                     "use e.g. --arch mlp:conditional=true,aux_classifier=true")

    def _loss(self, d, h: Tensor, y: Tensor) -> Tensor:
        return d2d_ce(d.class_embedding(h), d.class_proxies(), y, self.temperature, *self.margins)

    def d_penalty(self, step: DStep) -> Tensor:
        per_sample = on_discriminator(step, lambda d, x, y: self._loss(d, features_of(d, x, y), y),
                                      step.real_input, step.real_labels)
        return self.weight * step.batch_mean(per_sample)

    def g_penalty(self, step: GStep) -> Tensor:
        per_sample = on_discriminator(step, self._loss, step.fake_features, step.fake_labels)
        return self.weight * step.batch_mean(per_sample)
