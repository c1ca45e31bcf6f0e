"""The gradient penalty of a known linear critic, computed by hand."""

import pytest
import torch
from test_cli import SMALL_2D
from torch import nn

from ganagerie.components import Discriminator, DStep
from ganagerie.plugins.gradient_penalty import GradientPenalty, LipschitzPenalty


class LinearCritic(Discriminator):
    def __init__(self, w):
        super().__init__()
        self.lin = nn.Linear(len(w), 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w]))

    def features(self, x):
        return x

    def classify(self, h):
        return self.lin(h).squeeze(1)


def step_for(critic, real, fake):
    return DStep(None, critic, real, fake, critic(real), critic(fake))


@pytest.mark.parametrize("w, weight", [([3.0, 4.0], 10.0), ([0.6, 0.8], 10.0), ([1.0, 0.0], 1.0)])
def test_linear_critic_penalty_is_weight_times_norm_minus_one_squared(w, weight):
    # D(x) = w.x + b has gradient w everywhere, so the penalty is weight * (|w| - 1)^2
    critic = LinearCritic(w)
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    pen = GradientPenalty(weight=weight).d_penalty(step_for(critic, real, fake))
    norm = torch.tensor(w).norm().item()
    assert pen.item() == pytest.approx(weight * (norm - 1) ** 2, rel=1e-5, abs=1e-7)


def test_penalty_gradient_reaches_critic_weights():
    critic = LinearCritic([3.0, 4.0])
    pen = GradientPenalty().d_penalty(step_for(critic, torch.randn(8, 2), torch.randn(8, 2)))
    pen.backward()
    # d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w| = 20 * 4 * [0.6, 0.8]
    assert critic.lin.weight.grad[0].tolist() == pytest.approx([48.0, 64.0], rel=1e-5)


def test_penalty_on_images_uses_per_sample_norm():
    class SumCritic(Discriminator):
        def features(self, x):
            return x.flatten(1)

        def classify(self, h):
            return h.sum(1)

    critic = SumCritic()
    real = torch.randn(4, 1, 2, 2)
    # gradient of sum over 4 pixels is all-ones: norm 2, penalty 10 * (2 - 1)^2
    pen = GradientPenalty().d_penalty(step_for(critic, real, torch.randn(4, 1, 2, 2)))
    assert pen.item() == pytest.approx(10.0)


def test_negative_weight_is_rejected(registry):
    from ganagerie.errors import UsageError

    with pytest.raises(UsageError, match="weight must be >= 0"):
        registry.create("regularizer", "gradient-penalty", {"weight": -1})


@pytest.mark.parametrize("w, two_sided, one_sided, zero_centred", [
    # |w| = 0.5: (0.5 - 1)^2 = 0.25 -> 2.5; nothing one-sided; 0.5^2 = 0.25 -> 2.5
    ([0.3, 0.4], 2.5, 0.0, 2.5),
    # |w| = 5: (5 - 1)^2 = 16 -> 160 on both sides of the target; 5^2 = 25 -> 250
    ([3.0, 4.0], 160.0, 160.0, 250.0),
])
def test_one_sided_and_zero_centred_variants_by_hand(w, two_sided, one_sided, zero_centred):
    step = step_for(LinearCritic(w), torch.randn(16, 2), torch.randn(16, 2))
    assert GradientPenalty().d_penalty(step).item() == pytest.approx(two_sided, rel=1e-5)
    assert GradientPenalty(one_sided=True).d_penalty(step).item() == pytest.approx(one_sided, rel=1e-5)
    assert LipschitzPenalty().d_penalty(step).item() == pytest.approx(one_sided, rel=1e-5)
    assert GradientPenalty(target=0.0).d_penalty(step).item() == pytest.approx(zero_centred, rel=1e-5)


def test_lipschitz_penalty_gradient_only_above_the_bound():
    steep, flat = LinearCritic([3.0, 4.0]), LinearCritic([0.3, 0.4])
    LipschitzPenalty().d_penalty(step_for(steep, torch.randn(8, 2), torch.randn(8, 2))).backward()
    LipschitzPenalty().d_penalty(step_for(flat, torch.randn(8, 2), torch.randn(8, 2))).backward()
    # as for the two-sided penalty above |w| = 5: 20 * 4 * [0.6, 0.8]; nothing below |w| = 1
    assert steep.lin.weight.grad[0].tolist() == pytest.approx([48.0, 64.0], rel=1e-5)
    assert flat.lin.weight.grad[0].tolist() == [0.0, 0.0]


def test_negative_target_is_rejected(registry):
    from ganagerie.errors import UsageError

    with pytest.raises(UsageError, match="target .* must be >= 0"):
        registry.create("regularizer", "gradient-penalty", {"target": -1})


def test_wgan_lp_preset_is_wgan_gp_with_the_one_sided_penalty(registry, cli, tmp_path):
    lp, gp = registry.create("variant", "wgan-lp"), registry.create("variant", "wgan-gp")
    assert lp.pop("regularizers") == [{"name": "lipschitz-penalty", "options": {"weight": 10.0}}]
    gp.pop("regularizers")
    assert lp == gp
    code, stdout, err = cli("train", "--dataset", "ring8", "--variant", "wgan-lp", "--steps", "10",
                            "--out", tmp_path / "r", "--quiet", *SMALL_2D)
    assert code == 0, err
    assert stdout.startswith("completed at step 10")
