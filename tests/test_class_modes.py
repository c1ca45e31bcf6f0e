"""Class modes: classes the classifier assigns to generated samples, and KL to the real classes."""

import math

import pytest
import torch

from ganagerie.plugins.class_modes import ClassModes, class_mode_scores


@pytest.fixture(scope="module")
def digits(registry):
    return registry.create("dataset", "digits")


def run(dataset, samples):
    metric = ClassModes()
    metric.setup(dataset, torch.device("cpu"))
    with torch.no_grad():
        for batch in samples.split(500):
            metric.update(batch)
    return metric.compute(), metric


def test_scores_by_hand():
    uniform = torch.full((4,), 0.25, dtype=torch.float64)
    got = class_mode_scores(torch.tensor([5, 5, 0, 0]), uniform)
    assert got == {"modes": 2.0, "kl": pytest.approx(math.log(2))}
    got = class_mode_scores(torch.tensor([1, 3, 0, 0]), torch.tensor([0.5, 0.5, 0.0, 0.0]).double())
    assert got["kl"] == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))


def test_real_held_out_digits_give_every_class_and_near_zero_kl(digits):
    got, metric = run(digits, digits.load("test").x)
    assert got["modes"] == 10 and got["kl"] < 0.02
    proto = metric.protocol()
    assert proto["n_modes"] == 10 and proto["n_generated"] == len(digits.load("test").x)
    assert proto["backbone"]["accuracy"] > 0.95


def test_one_class_gives_one_mode_and_the_kl_of_a_point_mass(digits):
    train = digits.load("train")
    sevens = train.x[train.y == 7]
    got, metric = run(digits, sevens)
    assert got["modes"] <= 3  # a stray seven or two read as another digit
    p7 = (train.y == 7).double().mean().item()
    assert got["kl"] == pytest.approx(math.log(1 / p7), rel=0.05)


def test_a_real_class_missing_from_the_labels_gets_half_a_sample(digits, monkeypatch):
    _, metric = run(digits, digits.load("test").x[:10])
    y = digits.load("train").y
    assert metric.real_p.min() > 0
    assert metric.real_p[0].item() == pytest.approx((y == 0).sum().item() / len(y))


def test_applies_to_labelled_images_only(registry, digits):
    assert ClassModes().applies_to(digits)
    assert not ClassModes().applies_to(registry.create("dataset", "ring8"))
    assert "backbone" not in registry.get("metric", "class-modes").options()
