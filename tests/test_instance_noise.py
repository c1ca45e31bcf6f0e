"""Instance noise: the annealing schedule by hand, the noise it adds, a run on 2-D data."""

import math

import helpers
import pytest
import torch

from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.plugins.instance_noise import InstanceNoise
from ganagerie.train.trainer import train

TINY = helpers.tiny()


def test_sigma_is_annealed_linearly_to_zero():
    noise = InstanceNoise(sigma=0.2, anneal_steps=100)
    assert [noise.sigma_at(s) for s in (0, 25, 50, 99, 100, 1000)] == pytest.approx(
        [0.2, 0.15, 0.1, 0.002, 0.0, 0.0])
    assert InstanceNoise(sigma=0.3, anneal_steps=0).sigma_at(10**6) == 0.3  # 0: constant


def test_transform_adds_sigma_times_standard_normal_noise():
    x = torch.randn(5, 3)
    noise = InstanceNoise(sigma=0.2, anneal_steps=100)
    torch.manual_seed(0)
    out = noise.transform(x, step=50)
    torch.manual_seed(0)
    assert torch.equal(out, x + 0.1 * torch.randn(5, 3))
    assert noise.log_values() == {"sigma": pytest.approx(0.1)}


def test_noise_has_the_scheduled_spread_on_images_and_passes_gradients():
    x = torch.zeros(200, 1, 8, 8, requires_grad=True)
    out = InstanceNoise(sigma=0.1, anneal_steps=0).transform(x, step=0)
    assert out.shape == x.shape and out.std().item() == pytest.approx(0.1, rel=0.03)
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_after_annealing_the_input_passes_unchanged():
    x = torch.randn(4, 2)
    assert InstanceNoise(sigma=0.1, anneal_steps=10).transform(x, step=10) is x


def test_bad_options(registry):
    with pytest.raises(UsageError, match="sigma"):
        registry.create("regularizer", "instance-noise", {"sigma": -1.0})
    with pytest.raises(UsageError, match="anneal_steps"):
        registry.create("regularizer", "instance-noise", {"anneal_steps": -5})


def test_trains_on_2d_data(registry, tmp_path):
    cfg = resolve_config(registry, dataset="ring8", variant="instance-noise", overrides={"steps": 20},
                         sets=[*TINY, "reg.instance-noise.anneal_steps=40"])
    result = train(cfg, registry, tmp_path / "r", progress=False)
    assert result.status == "completed"
    assert all(math.isfinite(v) for v in result.last.values())
    # the log reads the last transform's step: the G step of step 19
    assert result.last["instance-noise/sigma"] == pytest.approx(0.1 * (1 - 19 / 40))
