"""DiffAugment: the paper's policy on what D sees, real and fake; a real run on digits."""

import math

import pytest
import torch

from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.plugins.diffaugment import DiffAugment
from ganagerie.train.trainer import Trainer, train

TINY_DIGITS = ["arch.width=8", "arch.latent_dim=16", "batch_size=32", "log_every=10"]


def digits(registry, steps, **kw):
    return resolve_config(registry, dataset="digits", variant="diffaug", overrides={"steps": steps},
                          sets=TINY_DIGITS, **kw)


def test_default_policy_is_the_papers():
    assert DiffAugment().ops == ("color", "translation", "cutout")


def test_each_sample_gets_its_own_augmentation_and_the_input_is_untouched():
    x = torch.rand(1, 3, 8, 8).repeat(8, 1, 1, 1) * 2 - 1
    before = x.clone()
    torch.manual_seed(0)
    out = DiffAugment().transform(x, step=0)
    assert out.shape == x.shape and torch.equal(x, before)
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8


def test_gradient_reaches_the_input():
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    DiffAugment().transform(x, step=0).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0


def test_vector_data_is_refused_at_build_time():
    with pytest.raises(ValueError, match="diffaugment works on images"):
        DiffAugment().discriminator_shape((2,))
    assert DiffAugment().discriminator_shape((1, 8, 8)) == (1, 8, 8)


def test_policy_option_from_the_command_line(registry):
    cfg = digits(registry, 1, regularizers=["diffaugment:policy=color+cutout"])
    spec = cfg.regularizers[0]
    assert registry.create("regularizer", spec.name, spec.options).ops == ("color", "cutout")
    with pytest.raises(UsageError, match="did you mean 'translation'"):
        registry.create("regularizer", "diffaugment", {"policy": "translate"})


def test_the_discriminator_sees_augmented_reals_and_fakes(registry, tmp_path):
    trainer = Trainer(digits(registry, 1), registry, tmp_path)
    d = trainer.stepper.d_update()
    assert d.real_input.shape == d.real.shape and not torch.equal(d.real_input, d.real)
    assert not torch.equal(d.fake_input, d.fake)


def test_trains_on_digits(registry, tmp_path):
    result = train(digits(registry, 20), registry, tmp_path / "r", progress=False)
    assert result.status == "completed" and result.step == 20
    assert all(math.isfinite(v) for v in result.last.values())
