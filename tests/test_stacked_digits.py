"""Stacked digits: three bundled digits as channels, 1,000 balanced modes, scored by class modes."""

import math

import pytest
import torch

from ganagerie.plugins.class_modes import ClassModes

SMALL = {"n": 3000, "n_test": 5000}


@pytest.fixture(scope="module")
def stacked(registry):
    return registry.create("dataset", "stacked-digits", SMALL)


def test_channels_are_digits_of_the_labelled_classes(registry, stacked):
    split = stacked.load("train")
    assert stacked.shape == (3, 8, 8) and stacked.num_classes == 1000
    assert split.x.shape == (3000, 3, 8, 8) and split.y.max() < 1000
    assert torch.bincount(split.y, minlength=1000).tolist() == [3] * 1000  # balanced
    base = registry.create("dataset", "digits").load("train")
    flat = base.x.flatten(1)
    for i in range(20):
        digits = [split.y[i].item() // 100, split.y[i].item() // 10 % 10, split.y[i].item() % 10]
        for channel, digit in enumerate(digits):
            match = (flat == split.x[i, channel].flatten()).all(dim=1)
            assert base.y[match].tolist()[0] == digit


def test_splits_are_seeded_and_drawn_from_their_own_digits(registry, stacked):
    again = registry.create("dataset", "stacked-digits", SMALL)
    assert torch.equal(again.load("train").x, stacked.load("train").x)
    assert stacked.load("test").x.shape[0] == 5000
    other = registry.create("dataset", "stacked-digits", {**SMALL, "seed": 1})
    assert not torch.equal(other.load("train").x, stacked.load("train").x)
    test_digits = registry.create("dataset", "digits").load("test").x.flatten(1)
    first = stacked.load("test").x[0, 0].flatten()
    assert (test_digits == first).all(dim=1).any()


def score(dataset, samples):
    metric = ClassModes()
    metric.setup(dataset, torch.device("cpu"))
    with torch.no_grad():
        for batch in samples.split(1000):
            metric.update(batch)
    return metric.compute(), metric.protocol()


def test_held_out_stacks_cover_nearly_all_1000_modes(stacked):
    got, proto = score(stacked, stacked.load("test").x)
    assert got["modes"] >= 990 and got["kl"] < 0.3  # 5 samples a mode: KL is mostly sampling noise
    assert proto["n_modes"] == 1000
    assert proto["backbone"]["stacked_groups"] == 3
    assert proto["backbone"]["accuracy_stacked"] > 0.85  # about the digit accuracy cubed


def test_one_stack_repeated_is_one_mode(stacked):
    one = stacked.load("test").x[:1].expand(2000, -1, -1, -1)
    got, _ = score(stacked, one)
    assert got["modes"] == 1 and got["kl"] == pytest.approx(math.log(1000), rel=1e-6)


def test_a_dcgan_trains_on_it(cli, tmp_path):
    code, _, err = cli("train", "--dataset", "stacked-digits", "--steps", "3", "--set", "arch.width=8",
                       "--set", "dataset.n=1000", "--set", "dataset.n_test=1000",
                       "--out", tmp_path / "s", "--quiet")
    assert code == 0, err
