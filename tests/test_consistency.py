"""Balanced consistency regularization: its value and gradient on a linear D by hand, and a run."""

import math

import pytest
import torch
from torch import nn

from ganagerie.components import Discriminator, DStep
from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.plugins import consistency
from ganagerie.plugins.consistency import BalancedConsistency
from ganagerie.train.trainer import train

TINY_DIGITS = ["arch.width=8", "arch.latent_dim=16", "batch_size=32", "log_every=10"]


class LinearD(Discriminator):
    """D(x) = w . x on 1x1x2 images."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def features(self, x):
        return x.flatten(1)

    def classify(self, h):
        return h @ self.w


def step_for(D, real, fake):
    return DStep(None, D, real, fake, D(real), D(fake))


def images(*pairs):
    return torch.tensor(pairs).view(-1, 1, 1, 2)


def test_value_and_gradient_of_a_linear_d_under_a_flip_by_hand(monkeypatch):
    # T = left-right flip for every sample: D(x) - D(T(x)) = (1 - 3) x_0 + (3 - 1) x_1
    monkeypatch.setattr(consistency, "apply_ops", lambda x, names: x.flip(3))
    D = LinearD([1.0, 3.0])
    real, fake = images([0.0, 1.0], [2.0, 2.0]), images([1.0, 0.0])
    pen = BalancedConsistency(lambda_real=10.0, lambda_fake=1.0).d_penalty(step_for(D, real, fake))
    # real gaps 2 and 0: 10 * (4 + 0) / 2 = 20; fake gap -2: 1 * 4 = 4
    assert pen.item() == pytest.approx(24.0)
    pen.backward()
    # d/dw of lambda * mean (w . d)^2, d = x - T(x): real 10 * 2 * 2 * [-1, 1] / 2, fake 2 * -2 * [1, -1]
    assert D.w.grad.tolist() == pytest.approx([-24.0, 24.0])


def test_a_d_invariant_to_the_augmentation_pays_nothing():
    D = LinearD([2.0, 2.0])  # symmetric: blind to flips
    real, fake = torch.randn(16, 1, 1, 2), torch.randn(16, 1, 1, 2)
    assert BalancedConsistency(augment="flip").d_penalty(step_for(D, real, fake)).item() == 0.0


def test_the_augmentation_is_applied_to_what_d_saw(monkeypatch):
    seen = []

    def record(x, names):
        seen.append(x)
        return x

    monkeypatch.setattr(consistency, "apply_ops", record)
    D = LinearD([1.0, 3.0])
    real, fake = images([0.0, 1.0]), images([1.0, 0.0])
    step = step_for(D, real, fake)
    step.real_input, step.fake_input = real + 5, fake - 5  # what another transform made of them
    BalancedConsistency().d_penalty(step)
    assert torch.equal(seen[0], real + 5) and torch.equal(seen[1], fake - 5)


def test_paper_defaults_and_bad_options(registry):
    bcr = BalancedConsistency()
    assert (bcr.lambda_real, bcr.lambda_fake, bcr.ops) == (10.0, 10.0, ("flip", "translation"))
    with pytest.raises(UsageError, match="lambda_real"):
        registry.create("regularizer", "consistency", {"lambda_real": -1.0})
    with pytest.raises(ValueError, match="consistency works on images"):
        bcr.discriminator_shape((2,))


def test_bcr_preset_trains_on_digits(registry, tmp_path):
    cfg = resolve_config(registry, dataset="digits", variant="bcr", overrides={"steps": 20},
                         sets=TINY_DIGITS)
    assert [r.name for r in cfg.regularizers] == ["spectral-norm", "consistency"]
    result = train(cfg, registry, tmp_path / "r", progress=False)
    assert result.status == "completed"
    assert all(math.isfinite(v) for v in result.last.values())
    assert result.last["d/consistency"] > 0
