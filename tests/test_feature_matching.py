"""Feature matching: squared distance between mean real and mean fake features."""

import pytest
import torch

from ganagerie.components import Discriminator, GStep
from ganagerie.plugins.feature_matching import FeatureMatching


class Identity(Discriminator):
    def features(self, x):
        return x

    def classify(self, h):
        return h.sum(1)


def test_penalty_matches_hand_computation():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]], requires_grad=True)  # mean (1, 1)
    d = Identity()
    step = GStep(None, d, real, fake, d.features(fake), d(fake))
    pen = FeatureMatching(weight=0.5).g_penalty(step)
    assert pen.item() == pytest.approx(0.5 * ((2 - 1) ** 2 + (3 - 1) ** 2))
    pen.backward()
    # d/dfake_i = 0.5 * 2 * (mean_fake - mean_real) / n
    assert fake.grad.tolist() == [[-0.5, -1.0], [-0.5, -1.0]]


def test_no_gradient_flows_into_real_features():
    real = torch.randn(4, 3, requires_grad=True)
    fake = torch.randn(4, 3, requires_grad=True)
    d = Identity()
    FeatureMatching().g_penalty(GStep(None, d, real, fake, fake, d(fake))).backward()
    assert real.grad is None
