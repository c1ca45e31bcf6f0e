"""Metrics of a class-conditional generator: are its samples of class k like the real ones
of class k? Each is given the classes the samples were asked for (``Metric.conditional``),
the evaluation asking every class equally (class ``i % K`` for sample ``i``), and applies to
labelled images only; an unconditional generator is refused in one line. None is scored by
default: ask for them by name (``--metrics intra-fid,cas,class-agreement``).

* ``intra-fid`` (Miyato & Koyama 2018, "cGANs with Projection Discriminator", sec. 5; the
  protocol of rGAN, Kaneko et al. 2019, and StudioGAN's ``calculate_intra_class_fid``): the
  FID between the generated samples of class k and the real samples of class k, averaged
  over the K classes, ``intra-FID = 1/K sum_k FID(G(., k), X_k)``. Each FID_k is ``fid``'s
  computation (torchmetrics' Fréchet distance, the same backbone and reference split; the
  train split unless a named ``protocol`` says otherwise). rGAN and StudioGAN generate, per
  class, as many samples as the class has training images (5,000 on CIFAR-10): the default
  50,000 samples are that on CIFAR-10's 10 classes; the protocol records each class's
  counts and FID.
* ``cas``, the Classification Accuracy Score (Ravuri & Vinyals 2019, "Classification
  Accuracy Score for Conditional Generative Models", NeurIPS): a classifier trained on the
  generated samples with the classes they were asked for, its accuracy on the real test
  split. The paper trains a ResNet-50 on as many samples as ImageNet's train split; here the
  classifier is the domain classifier of the evaluation backbones (``DomainClassifier``,
  trained by ``train_classifier``: Adam 2e-3 with a one-cycle schedule, batches of 64,
  max(600, 3 epochs) steps, one-pixel jitter, one CPU thread) on the default 50,000 samples
  (CIFAR-10's train split size). Its seed is drawn from the metric's seeded RNG, so one
  evaluation seed gives one number. The real-data reference row trains it on the train split
  with its labels: the ceiling.
* ``class-agreement``: the fraction of generated samples that the dataset's classifier (the
  ``classifier`` backbone) reads as the class they were asked for; 1 for a generator whose
  every sample is of its class, as far as that classifier (its test accuracy is in the
  protocol) can tell.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganagerie.components import Dataset, DataSplit, Metric
from ganagerie.evaluation.backbones import BackboneMetric, train_classifier
from ganagerie.plugins.fid_kid_is import FID, BackboneOutput

_NEEDS = "labelled images (a dataset with num_classes) and a conditional generator"


def _labelled_images(dataset: Dataset) -> bool:
    return dataset.is_image and bool(dataset.num_classes)


class IntraFID(FID):
    """Mean over the classes of the FID between generated and real samples of a class (lower is better)."""

    n_samples = 50_000
    by_default = False
    conditional = True
    needs = _NEEDS
    value_range = {"intra_fid": (0, None)}
    higher_is_better = {"intra_fid": False}

    def applies_to(self, dataset: Dataset) -> bool:
        return _labelled_images(dataset)

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        BackboneMetric.setup(self, dataset, device)  # the backbone and real split; no pooled FID
        if self.real.y is None:
            raise ValueError(f"intra-fid needs the labels of the {self.named_protocol.reference} split")
        self.classes = int(dataset.num_classes)
        self.real_features = self.backbone.embed(self.real.x)[0]
        self.real_y = self.real.y.to(self.real_features.device)
        self.fake_features: list[Tensor] = []
        self.fake_y: list[Tensor] = []
        self.per_class: list[tuple[int, int, float]] = []
        self.n = 0

    def update(self, fake: Tensor, labels: Tensor) -> None:
        feats = self.backbone.embed(fake)[0]
        self.fake_features.append(feats)
        self.fake_y.append(labels.to(feats.device))
        self.n += fake.shape[0]

    def compute(self) -> dict[str, float]:
        fake, fake_y = torch.cat(self.fake_features), torch.cat(self.fake_y)
        self.per_class = []
        for c in range(self.classes):
            real_c, fake_c = self.real_features[self.real_y == c], fake[fake_y == c]
            if len(real_c) < 2 or len(fake_c) < 2:
                raise ValueError(f"intra-fid: class {c} has {len(fake_c)} generated and {len(real_c)} "
                                 "real samples; each FID needs at least 2 of each")
            tm = self.make(BackboneOutput(self.backbone, 0)).to(fake.device)
            tm.update(real_c, real=True)
            tm.update(fake_c, real=False)
            self.per_class.append((len(fake_c), len(real_c), float(tm.compute())))
        return {"intra_fid": sum(f for _, _, f in self.per_class) / self.classes}

    def protocol(self) -> dict[str, Any]:
        return {**super().protocol(), "classes": getattr(self, "classes", None),
                "per_class": [{"class": c, "n_generated": g, "n_real": r, "fid": round(f, 6)}
                              for c, (g, r, f) in enumerate(self.per_class)],
                "average": "mean of the classes' FIDs (rGAN, StudioGAN)",
                "implementation": "torchmetrics FrechetInceptionDistance per class"}


class CAS(Metric):
    """CAS: a classifier trained on generated samples, its accuracy on real test data (Ravuri 2019)."""

    n_samples = 50_000
    by_default = False
    conditional = True
    needs = _NEEDS
    value_range = {"cas": (0, 1)}
    higher_is_better = {"cas": True}

    def __init__(self) -> None:
        self.info: dict[str, Any] | None = None

    def applies_to(self, dataset: Dataset) -> bool:
        return _labelled_images(dataset)

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        self.test = dataset.load("test")
        if self.test.y is None:
            raise ValueError("cas needs the labels of the test split")
        self.shape, self.classes = tuple(dataset.shape), int(dataset.num_classes)
        self.x: list[Tensor] = []
        self.y: list[Tensor] = []

    def update(self, fake: Tensor, labels: Tensor) -> None:
        self.x.append(fake.detach().float().cpu())  # the classifier trains on the CPU
        self.y.append(labels.cpu())

    def compute(self) -> dict[str, float]:
        seed = int(torch.randint(2**31 - 1, ()))  # from the evaluation's seeded RNG
        train = DataSplit(torch.cat(self.x), torch.cat(self.y))
        _, self.info = train_classifier(train, self.test, self.shape, self.classes, seed=seed)
        return {"cas": float(self.info["accuracy"])}

    def protocol(self) -> dict[str, Any]:
        info = self.info or {}
        return {"classifier": "DomainClassifier, trained by train_classifier (evaluation.backbones)",
                "n_generated": info.get("train_samples"), "steps": info.get("steps"),
                "seed": info.get("seed"), "tested_on": "test split",
                "n_test": info.get("test_samples"), "weights": info.get("weights")}


class ClassAgreement(BackboneMetric):
    """The fraction of generated samples the dataset's classifier reads as the class they were asked for."""

    n_samples = 10_000
    by_default = False
    conditional = True
    needs = _NEEDS
    value_range = {"class_agreement": (0, 1)}
    higher_is_better = {"class_agreement": True}

    def __init__(self) -> None:
        # the classes are the dataset's: only its own classifier can tell them
        super().__init__(backbone="classifier")
        self.agree = self.n = 0

    def applies_to(self, dataset: Dataset) -> bool:
        return _labelled_images(dataset)

    def setup(self, dataset: Dataset, device: torch.device) -> None:
        super().setup(dataset, device)
        self.agree = torch.zeros((), dtype=torch.long, device=device)

    def update(self, fake: Tensor, labels: Tensor) -> None:
        pred = self.backbone.embed(fake)[1].argmax(dim=1)
        self.agree += (pred == labels.to(pred.device)).sum()
        self.n += fake.shape[0]

    def compute(self) -> dict[str, float]:
        return {"class_agreement": float(self.agree) / self.n}

    def protocol(self) -> dict[str, Any]:
        proto = super().protocol()
        del proto["real"], proto["n_real"]  # it reads no real samples, only the classifier
        return {**proto, "n_generated": self.n, "reading": "the classifier's most likely class"}
