"""R1 and R2 on a critic whose input gradient is known, lazy steps, and a run that resumes."""

import pytest
import torch
from test_cli import SMALL_2D
from test_top_k import assert_resume_is_bit_identical
from test_trainer import losses
from torch import nn

from ganagerie.components import Discriminator, DStep
from ganagerie.errors import UsageError
from ganagerie.plugins.r1_r2 import R1, R2

REAL = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # squared norms 5, 9
FAKE = torch.tensor([[0.0, 1.0], [1.0, 1.0]])  # squared norms 1, 2


class QuadraticCritic(Discriminator):
    """D(x) = s/2 * ||x||^2, so grad_x D = s * x."""

    def __init__(self, s=1.0):
        super().__init__()
        self.s = nn.Parameter(torch.tensor(s))

    def features(self, x):
        return x

    def classify(self, h):
        return self.s / 2 * h.square().sum(1)


def step_at(critic, step=0, real=REAL, fake=FAKE, real_input=None, fake_input=None):
    return DStep(None, critic, real, fake, critic(real), critic(fake), step=step,
                 real_input=real_input, fake_input=fake_input)


def test_r1_and_r2_by_hand():
    critic = QuadraticCritic()
    # R1 = gamma/2 * mean ||x||^2 = 5 * (5 + 9)/2 = 35; R2 = 5 * (1 + 2)/2 = 7.5
    assert R1().d_penalty(step_at(critic)).item() == pytest.approx(35.0)
    assert R2().d_penalty(step_at(critic)).item() == pytest.approx(7.5)
    assert R1(gamma=1.0).d_penalty(step_at(critic)).item() == pytest.approx(3.5)


def test_the_gradient_is_taken_at_what_d_saw():
    # a transform doubled the batch: ||2x||^2 = 20, 36 -> 5 * 28 = 140
    pen = R1().d_penalty(step_at(QuadraticCritic(), real_input=2 * REAL, fake_input=2 * FAKE))
    assert pen.item() == pytest.approx(140.0)
    pen = R2().d_penalty(step_at(QuadraticCritic(), real_input=2 * REAL, fake_input=2 * FAKE))
    assert pen.item() == pytest.approx(30.0)  # 5 * (4 + 8)/2


def test_lazy_regularization_skips_steps_and_scales_by_k():
    critic, r1 = QuadraticCritic(), R1(every=4)
    # 35 * 4 on steps 0, 4, 8...; None (no penalty, no work) in between
    assert [None if p is None else p.item() for p in
            (r1.d_penalty(step_at(critic, s)) for s in range(9))] == \
        [140.0, None, None, None, 140.0, None, None, None, 140.0]


def test_penalty_gradient_reaches_the_critic_weights():
    critic = QuadraticCritic(s=1.0)
    R1().d_penalty(step_at(critic)).backward()
    # R1 = gamma/2 * s^2 * mean||x||^2, so dR1/ds = gamma * s * 7 = 70
    assert critic.s.grad.item() == pytest.approx(70.0)


def test_bad_options_are_rejected(registry):
    with pytest.raises(UsageError, match="every must be at least 1"):
        registry.create("regularizer", "r1", {"every": 0})
    with pytest.raises(UsageError, match="gamma must be >= 0"):
        registry.create("regularizer", "r2", {"gamma": -1})


def test_lazy_r1_trains_logs_and_resumes_bit_identically(registry, tmp_path):
    assert_resume_is_bit_identical(registry, tmp_path, 20, variant="vanilla",
                                   regularizers=["r1:every=4"])
    rows = losses(tmp_path / "full")
    # each 10-step window holds 3 or 2 regularised steps (0, 4, 8 / 12, 16): never all zero
    assert all(r["d/r1"] > 0 for r in rows)


def test_r1_gan_preset_trains_from_the_cli(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "r1-gan", "--steps", "10",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 10")
