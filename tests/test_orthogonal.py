"""BigGAN's orthogonal regularization by hand: the off-diagonal Gram, its gradient, G only."""

import pytest
import torch
from test_trainer import losses, tiny
from torch import nn

from ganagerie.components import GStep
from ganagerie.errors import UsageError
from ganagerie.plugins.orthogonal import Orthogonal, off_diagonal_gram, penalty
from ganagerie.train.trainer import Trainer, train


def test_off_diagonal_gram_by_hand_and_its_gradient():
    w = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)  # rows = output units
    # W W^T = [[5, 11], [11, 25]]: the off-diagonal squares are 2 * 11^2 = 242
    value = off_diagonal_gram(w)
    assert value.item() == pytest.approx(242.0)
    value.backward()
    # d/dW ||(W W^T) * (1 - I)||^2 = 4 ((W W^T) * (1 - I)) W = 4 [[0, 11], [11, 0]] W
    #   = 4 [[33, 44], [11, 22]]
    assert w.grad.tolist() == [[132.0, 176.0], [44.0, 88.0]]


def test_orthogonal_filters_of_any_norm_pay_nothing():
    assert off_diagonal_gram(torch.tensor([[2.0, 0.0], [0.0, -3.0]])).item() == 0.0


def test_biases_are_skipped_and_transposed_convolutions_use_output_units():
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
        lin.bias.fill_(100.0)
    assert penalty(lin).item() == pytest.approx(242.0)  # the bias changes nothing
    up = nn.ConvTranspose2d(1, 2, kernel_size=1, bias=False)  # weight [in=1, out=2, 1, 1]
    with torch.no_grad():
        up.weight.copy_(torch.tensor([2.0, 3.0]).view(1, 2, 1, 1))
    # two output filters, the scalars 2 and 3: off-diagonal Gram 2 * (2 * 3)^2 = 72
    # (read as [1, 2] rows, it would be a single filter paying 0)
    assert penalty(up).item() == pytest.approx(72.0)


def test_the_penalty_is_beta_times_the_sum_and_reaches_g_only(registry, tmp_path):
    trainer = Trainer(tiny(registry, 1, variant="vanilla", regularizers=["orthogonal"]), registry, tmp_path)
    G, D = trainer.G, trainer.D
    (tech,) = [t for _, t in trainer.run.techniques]
    assert isinstance(tech, Orthogonal) and tech.beta == 1e-4
    pen = tech.g_penalty(GStep(G, D, None, None, None, None))
    expected = sum(off_diagonal_gram(m.weight).item() for m in G.modules() if isinstance(m, nn.Linear))
    assert pen.item() == pytest.approx(1e-4 * expected, rel=1e-5)
    pen.backward()
    for name, p in G.named_parameters():
        assert (p.grad is not None and p.grad.abs().sum() > 0) == (p.dim() >= 2), name
    assert all(p.grad is None for p in D.parameters())


def test_a_negative_beta_is_rejected(registry):
    with pytest.raises(UsageError, match="beta must be >= 0"):
        registry.create("regularizer", "orthogonal", {"beta": -1e-4})


def test_a_run_logs_the_generator_penalty(registry, tmp_path):
    train(tiny(registry, 10, variant="vanilla", regularizers=["orthogonal"]), registry, tmp_path / "r",
          progress=False)
    assert losses(tmp_path / "r")[-1]["g/orthogonal"] > 0
