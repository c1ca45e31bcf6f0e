"""Each built-in loss against a hand computation."""

import math

import pytest
import torch

from ganagerie.plugins.hinge import HingeLoss
from ganagerie.plugins.minimax import MinimaxLoss, NonSaturatingLoss
from ganagerie.plugins.wasserstein import WassersteinLoss

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def sigmoid(a):
    return 1 / (1 + math.exp(-a))


def test_minimax_d_loss_is_binary_cross_entropy():
    expected = -sum(math.log(sigmoid(r)) for r in REAL.tolist()) / 2 - sum(
        math.log(1 - sigmoid(f)) for f in FAKE.tolist()
    ) / 2
    assert MinimaxLoss().d_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)
    assert NonSaturatingLoss().d_loss(REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_g_loss_is_log_one_minus_d():
    expected = sum(math.log(1 - sigmoid(f)) for f in FAKE.tolist()) / 2
    assert MinimaxLoss().g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_non_saturating_g_loss_is_minus_log_d():
    expected = -sum(math.log(sigmoid(f)) for f in FAKE.tolist()) / 2
    assert NonSaturatingLoss().g_loss(FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_minimax_is_stable_for_large_logits():
    big = torch.tensor([80.0, -80.0])
    assert torch.isfinite(MinimaxLoss().d_loss(big, big))
    assert torch.isfinite(NonSaturatingLoss().g_loss(big))


def test_wasserstein():
    loss = WassersteinLoss()
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx((0.5 - 3.0) / 2 - (2.0 - 1.0) / 2)
    assert loss.g_loss(FAKE).item() == pytest.approx(-(0.5 - 3.0) / 2)


def test_hinge():
    loss = HingeLoss()
    # relu(1 - r): [0, 2] -> 1; relu(1 + f): [1.5, 0] -> 0.75
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(1.0 + 0.75)
    assert loss.g_loss(FAKE).item() == pytest.approx(1.25)
