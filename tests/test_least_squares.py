"""The least-squares loss against hand computations, in both of the paper's codings, and its preset."""

import pytest
import torch
from test_cli import SMALL_2D

from ganagerie.errors import UsageError
from ganagerie.plugins.least_squares import LeastSquaresLoss

REAL = torch.tensor([2.0, -1.0])
FAKE = torch.tensor([0.5, -3.0])


def test_zero_one_coding_by_hand():
    loss = LeastSquaresLoss()  # a=0, b=c=1
    # D: 1/2 mean((2-1)^2, (-1-1)^2) + 1/2 mean(0.5^2, (-3)^2) = 1/2 * 5/2 + 1/2 * 9.25/2 = 3.5625
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(3.5625)
    # G: 1/2 mean((0.5-1)^2, (-3-1)^2) = 1/2 * 16.25/2 = 4.0625
    assert loss.g_loss(FAKE).item() == pytest.approx(4.0625)


def test_pearson_chi2_coding_by_hand():
    loss = LeastSquaresLoss(a=-1.0, b=1.0, c=0.0)
    # D: 1/2 * (1 + 4)/2 + 1/2 mean((0.5+1)^2, (-3+1)^2) = 1.25 + 1/2 * 6.25/2 = 2.8125
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(2.8125)
    # G: 1/2 mean(0.5^2, (-3)^2) = 1/2 * 9.25/2 = 2.3125
    assert loss.g_loss(FAKE).item() == pytest.approx(2.3125)


def test_gradients_pull_each_logit_to_its_target():
    real, fake = REAL.clone().requires_grad_(True), FAKE.clone().requires_grad_(True)
    LeastSquaresLoss().d_loss(real, fake).backward()
    # d/dr_i 1/2 mean((r - 1)^2) = (r_i - 1) / 2; d/df_i 1/2 mean(f^2) = f_i / 2
    assert real.grad.tolist() == pytest.approx([0.5, -1.0])
    assert fake.grad.tolist() == pytest.approx([0.25, -1.5])
    fake.grad = None
    LeastSquaresLoss().g_loss(fake).backward()
    assert fake.grad.tolist() == pytest.approx([-0.25, -2.0])  # (f_i - 1) / 2


def test_equal_targets_for_real_and_fake_are_rejected(registry):
    with pytest.raises(UsageError, match="a .* and b .* must differ"):
        registry.create("loss", "least-squares", {"a": 1, "b": 1})


def test_lsgan_preset_trains_from_the_cli(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "lsgan", "--steps", "20",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 20")
