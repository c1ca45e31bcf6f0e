"""DRAGAN's penalty against hand-computed values, the preset, and a tiny real run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from ganagerie.components import Discriminator, DStep
from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.train.trainer import train
from torch import nn

from ganagerie_dragan.dragan import DraganPenalty, dragan_preset


class LinearCritic(Discriminator):
    """D(x) = w.x + b: its gradient is w everywhere."""

    def __init__(self, w):
        super().__init__()
        self.lin = nn.Linear(len(w), 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w]))

    def features(self, x):
        return x

    def classify(self, h):
        return self.lin(h).squeeze(1)


class QuadraticCritic(Discriminator):
    """D(x) = ||x||^2 / 2: its gradient at x is x itself; remembers the points it was asked about."""

    seen: torch.Tensor | None = None

    def features(self, x):
        self.seen = x.detach().clone()
        return x.flatten(1)

    def classify(self, h):
        return 0.5 * (h * h).sum(1)


def step_for(critic, real, real_input=None):
    fake = torch.zeros_like(real)  # DRAGAN never looks at the generated batch
    return DStep(None, critic, real, fake, None, None, real_input=real_input)


@pytest.mark.parametrize("w, weight, expected", [
    ([3.0, 4.0], 10.0, 10 * (5 - 1) ** 2),     # |w| = 5
    ([0.3, 0.4], 10.0, 10 * (0.5 - 1) ** 2),   # |w| = 0.5
    ([2.0, 0.0], 1.0, 1 * (2 - 1) ** 2),
])
def test_linear_critic_pays_weight_times_norm_minus_one_squared(w, weight, expected):
    pen = DraganPenalty(weight=weight).d_penalty(step_for(LinearCritic(w), torch.randn(16, 2)))
    assert pen.item() == pytest.approx(expected, rel=1e-5)


def test_penalty_gradient_reaches_the_critic():
    critic = LinearCritic([3.0, 4.0])
    DraganPenalty().d_penalty(step_for(critic, torch.randn(8, 2))).backward()
    # d/dw 10 (|w| - 1)^2 = 20 (|w| - 1) w / |w| = 20 * 4 * [0.6, 0.8]
    assert critic.lin.weight.grad[0].tolist() == pytest.approx([48.0, 64.0], rel=1e-5)


def test_without_perturbation_the_penalty_is_taken_at_the_real_points():
    # x = (0, 0) and (2, 2); gradient of ||x||^2 / 2 is x: norms 0 and 2 sqrt 2, so
    # 10 * ((0 - 1)^2 + (2 sqrt 2 - 1)^2) / 2 = 10 * (1 + 9 - 4 sqrt 2) / 2 = 50 - 20 sqrt 2
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    pen = DraganPenalty(c=0.0).d_penalty(step_for(QuadraticCritic(), real))
    assert pen.item() == pytest.approx(50 - 20 * math.sqrt(2), rel=1e-6)


def test_perturbation_is_the_reference_codes():
    # the batch's coordinates 0, 0, 2, 2 have mean 1 and population std exactly 1 (the sample
    # std, divisor N - 1, would be 1.1547); x_hat = x + alpha * 0.5 * 1 * u, with u drawn per
    # coordinate and then alpha per sample, from the global RNG
    real = torch.tensor([[0.0, 0.0], [2.0, 2.0]])
    critic = QuadraticCritic()
    torch.manual_seed(0)
    pen = DraganPenalty().d_penalty(step_for(critic, real))
    torch.manual_seed(0)
    u = torch.rand(2, 2)
    alpha = torch.rand(2, 1)
    x_hat = real + alpha * 0.5 * u
    assert torch.allclose(critic.seen, x_hat, atol=1e-7)
    expected = 10 * ((x_hat.norm(dim=1) - 1) ** 2).mean()
    assert pen.item() == pytest.approx(expected.item(), rel=1e-6)


def test_perturbation_is_one_sided_and_within_c_std():
    torch.manual_seed(1)
    real = 3 * torch.randn(512, 2) + 1
    critic = QuadraticCritic()
    DraganPenalty(c=0.5).d_penalty(step_for(critic, real))
    shift = critic.seen - real
    bound = 0.5 * real.std(correction=0)
    assert shift.min() >= 0 and shift.max() < bound
    assert shift.max() > 0.9 * bound  # alpha * u reaches close to 1 in 1,024 draws


def test_images_take_one_norm_per_sample():
    class SumCritic(Discriminator):
        def features(self, x):
            return x.flatten(1)

        def classify(self, h):
            return h.sum(1)

    # the gradient of a sum over 4 pixels is all ones: norm 2, penalty 10 * (2 - 1)^2
    pen = DraganPenalty().d_penalty(step_for(SumCritic(), torch.randn(4, 1, 2, 2)))
    assert pen.item() == pytest.approx(10.0)


def test_penalty_is_taken_on_what_the_discriminator_saw():
    # a packing technique hands D pairs of samples: 4 real points of 2-D seen as 2 of 4-D
    real = torch.randn(4, 2)
    critic = LinearCritic([1.0, 1.0, 1.0, 1.0])  # |w| = 2 and takes 4 features only
    pen = DraganPenalty().d_penalty(step_for(critic, real, real_input=real.reshape(2, 4)))
    assert pen.item() == pytest.approx(10.0, rel=1e-5)


@pytest.mark.parametrize("options, message", [({"weight": -1}, "weight must be >= 0"),
                                              ({"c": -0.5}, "c .* must be >= 0")])
def test_bad_options_are_usage_errors(registry, options, message):
    with pytest.raises(UsageError, match=message):
        registry.create("regularizer", "dragan", options)


def test_preset_is_the_reference_codes_setting(registry):
    assert registry.create("variant", "dragan") == dragan_preset()
    cfg = resolve_config(registry, dataset="ring8", variant="dragan")
    assert cfg.loss.name == "non-saturating" and cfg.n_critic == 1
    assert [(r.name, r.options["weight"], r.options["c"]) for r in cfg.regularizers] == \
        [("dragan", 10.0, 0.5)]
    assert (cfg.lr_g, cfg.lr_d) == (1e-4, 1e-4)
    assert list(cfg.betas_g) == list(cfg.betas_d) == [0.5, 0.9]


def test_a_tiny_run_logs_the_penalty(registry, tmp_path):
    cfg = resolve_config(registry, dataset="ring8", variant="dragan", overrides={"steps": 20},
                         sets=["arch.g_width=32", "arch.d_width=32", "arch.g_depth=2",
                               "arch.d_depth=2", "log_every=10", "batch_size=32", "dataset.n=2000"])
    result = train(cfg, registry, tmp_path / "run", progress=False)
    assert result.status == "completed"
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    penalties = [r["d/dragan"] for r in rows if "d/dragan" in r]
    assert len(penalties) == 2 and all(math.isfinite(p) and p >= 0 for p in penalties)
