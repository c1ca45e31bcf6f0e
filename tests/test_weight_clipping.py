"""Weight clipping: the clamp by hand, the WGAN preset's settings, a run that stays clipped and resumes."""

import pytest
import torch
from test_cli import SMALL_2D
from test_top_k import assert_resume_is_bit_identical
from test_trainer import tiny
from torch import nn

from ganagerie.components import Discriminator, DStep
from ganagerie.errors import UsageError
from ganagerie.plugins.weight_clipping import WeightClipping
from ganagerie.train.checkpoint import read_checkpoint


class LinearCritic(Discriminator):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def features(self, x):
        return x

    def classify(self, h):
        return self.lin(h).squeeze(1)


def test_every_parameter_is_clamped_to_plus_minus_c():
    critic = LinearCritic()
    with torch.no_grad():
        critic.lin.weight.copy_(torch.tensor([[0.5, -0.003, -2.0]]))
        critic.lin.bias.fill_(0.02)
        WeightClipping(clip=0.01).after_d_step(DStep(None, critic, None, None, None, None))
    # 0.5 -> 0.01, -0.003 stays, -2 -> -0.01; the bias 0.02 -> 0.01
    assert torch.equal(critic.lin.weight, torch.tensor([[0.01, -0.003, -0.01]]))
    assert torch.equal(critic.lin.bias, torch.tensor([0.01]))


def test_wgan_preset_is_algorithm_1(registry):
    cfg = tiny(registry, 10, variant="wgan")
    assert cfg.loss.name == "wasserstein" and cfg.n_critic == 5
    assert [(r.name, r.options) for r in cfg.regularizers] == [("weight-clipping", {"clip": 0.01})]
    assert cfg.optimizer_g.name == cfg.optimizer_d.name == "rmsprop"
    assert cfg.lr_g == cfg.lr_d == 5e-5


def test_a_wgan_run_keeps_every_critic_weight_within_c_and_resumes(registry, tmp_path):
    assert_resume_is_bit_identical(registry, tmp_path, 20, variant="wgan")
    weights = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.json")["discriminator"]
    largest = max(t.abs().max().item() for t in weights.values())
    # the default init (about +-1/sqrt(32)) is far outside: clipping acted, and held
    assert largest == pytest.approx(0.01)
    assert all(t.abs().max().item() <= 0.01 for t in weights.values())


def test_a_non_positive_clip_is_rejected(registry):
    with pytest.raises(UsageError, match="clip must be > 0"):
        registry.create("regularizer", "weight-clipping", {"clip": 0})


def test_wgan_preset_trains_from_the_cli(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "wgan", "--steps", "10",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 10")
