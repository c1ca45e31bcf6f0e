"""Relativistic losses (RSGAN, RaSGAN and their hinge forms) by hand, and a real run that resumes."""

import math

import pytest
import torch
import torch.nn.functional as F
from test_cli import SMALL_2D
from test_top_k import assert_resume_is_bit_identical

from ganagerie.errors import UsageError
from ganagerie.plugins.relativistic import RelativisticAverageLoss, RelativisticLoss

REAL = torch.tensor([2.0, -1.0])  # mean 0.5
FAKE = torch.tensor([0.5, -3.0])  # mean -1.25


def softplus(y):
    return math.log1p(math.exp(y))


def test_rsgan_by_hand():
    loss = RelativisticLoss()
    assert loss.g_needs_real
    # pairs in batch order: C(x_r) - C(x_f) = [2 - 0.5, -1 + 3] = [1.5, 2]; f(y) = softplus(-y)
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx((softplus(-1.5) + softplus(-2.0)) / 2)
    assert loss.g_loss(FAKE, REAL).item() == pytest.approx((softplus(1.5) + softplus(2.0)) / 2)


def test_rsgan_hinge_by_hand():
    loss = RelativisticLoss(form="hinge")
    # D: relu(1 - [1.5, 2]) = [0, 0]; G: relu(1 - [-1.5, -2]) = [2.5, 3] -> 2.75
    assert loss.d_loss(REAL, FAKE).item() == 0.0
    assert loss.g_loss(FAKE, REAL).item() == pytest.approx(2.75)


def test_rsgan_pairs_the_first_samples_when_batches_differ():
    # one fake left (a technique kept the best logit): only the pair (2, 0.5) counts
    assert RelativisticLoss().d_loss(REAL, FAKE[:1]).item() == pytest.approx(softplus(-1.5))


def test_rasgan_by_hand_and_against_its_cross_entropy_form():
    loss = RelativisticAverageLoss()
    # D: real - mean(fake) = [3.25, 0.25], fake - mean(real) = [0, -3.5]
    d = (softplus(-3.25) + softplus(-0.25)) / 2 + (softplus(0.0) + softplus(-3.5)) / 2
    g = (softplus(0.0) + softplus(3.5)) / 2 + (softplus(3.25) + softplus(0.25)) / 2
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(d)
    assert loss.g_loss(FAKE, REAL).item() == pytest.approx(g)
    # the paper's cross-entropy form: real labelled 1 against the mean fake and vice versa
    bce = F.binary_cross_entropy_with_logits
    fake = FAKE.clone().requires_grad_(True)
    reference = (bce(fake - REAL.mean(), torch.ones(2)) + bce(REAL - fake.mean(), torch.zeros(2)))
    (ref_grad,) = torch.autograd.grad(reference, fake)
    ours = loss.g_loss(fake, REAL)
    (grad,) = torch.autograd.grad(ours, fake)
    assert ours.item() == pytest.approx(reference.item())
    assert torch.allclose(grad, ref_grad)


def test_rahinge_by_hand_with_gradient_through_the_real_term():
    loss = RelativisticAverageLoss(form="hinge")
    # D: mean relu(1 - [3.25, 0.25]) = 0.375; mean relu(1 - [0.5 - 0.5, 0.5 + 3]) = 0.5
    assert loss.d_loss(REAL, FAKE).item() == pytest.approx(0.875)
    fake = FAKE.clone().requires_grad_(True)
    g = loss.g_loss(fake, REAL)
    # G: mean relu(1 - [0, -3.5]) = 2.75; mean relu(1 - [-1.25 - 2, -1.25 + 1]) = mean(4.25, 1.25) = 2.75
    assert g.item() == pytest.approx(5.5)
    g.backward()
    # first term: -1/2 per fake; second, through mean(fake): 2 active * (-1/2) * 1/2 = -1/2
    assert fake.grad.tolist() == pytest.approx([-1.0, -1.0])


def test_the_generator_side_needs_the_real_logits():
    with pytest.raises(ValueError, match="real_out"):
        RelativisticAverageLoss().g_loss(FAKE)


def test_an_unknown_form_is_rejected(registry):
    with pytest.raises(UsageError, match="form must be one of standard, hinge"):
        registry.create("loss", "relativistic", {"form": "least-squares"})


def test_rsgan_trains_100_steps_and_resumes_bit_identically(registry, tmp_path):
    assert_resume_is_bit_identical(registry, tmp_path, 100, variant="rsgan")


def test_ragan_hinge_preset_trains_from_the_cli(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "ragan",
                            "--loss", "relativistic-average:form=hinge", "--steps", "20",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 20")
