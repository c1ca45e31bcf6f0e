"""PacGAN packing: which samples land together, by hand; the packed D; a real run and resume."""

import pytest
import torch
from test_top_k import assert_resume_is_bit_identical
from test_trainer import tiny
from torch import nn

from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.plugins.pacgan import Packing
from ganagerie.train.trainer import Trainer, train


@pytest.mark.parametrize("m, shape, packed", [
    (2, (2,), (4,)), (4, (2,), (8,)), (2, (3, 8, 8), (6, 8, 8)), (3, (1, 28, 28), (3, 28, 28)),
])
def test_d_is_built_for_m_samples_side_by_side(m, shape, packed):
    assert Packing(m).discriminator_shape(shape) == packed


def test_consecutive_vectors_are_concatenated_in_order():
    x = torch.arange(12.0).view(6, 2)  # sample i is (2i, 2i + 1)
    assert Packing(2).transform(x, 0).tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert Packing(3).transform(x, 0).tolist() == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_images_are_stacked_along_the_channels():
    # sample b, channel c holds 10 * b + c everywhere
    x = (10 * torch.arange(4.0).view(4, 1, 1, 1) + torch.arange(2.0).view(1, 2, 1, 1)).expand(4, 2, 3, 3)
    packed = Packing(2).transform(x, 0)
    assert packed.shape == (2, 4, 3, 3)
    assert packed[:, :, 0, 0].tolist() == [[0, 1, 10, 11], [20, 21, 30, 31]]
    assert torch.equal(packed[1, 2:], x[3])


def test_packing_passes_gradients_back_to_every_sample():
    x = torch.randn(8, 3, requires_grad=True)
    (Packing(4).transform(x, 0) * torch.arange(2.0).view(2, 1)).sum().backward()
    assert x.grad.tolist() == [[0.0] * 3] * 4 + [[1.0] * 3] * 4  # samples 4..7 form pack 1


def test_a_batch_that_m_does_not_divide_is_refused():
    with pytest.raises(ValueError, match="divisible by 4"):
        Packing(4).transform(torch.randn(6, 2), 0)


def test_a_packed_run_builds_d_for_m_times_d_inputs_trains_and_resumes(registry, tmp_path):
    cfg = tiny(registry, 1, variant="vanilla", regularizers=["pacgan:m=4"])
    trainer = Trainer(cfg, registry, tmp_path / "probe")
    first = next(mod for mod in trainer.D.modules() if isinstance(mod, nn.Linear))
    assert first.in_features == 4 * 2
    assert next(mod for mod in trainer.G.modules() if isinstance(mod, nn.Linear)).in_features == 2
    d = trainer.stepper.d_update()
    assert d.real_out.shape == d.fake_out.shape == (32 // 4,)
    assert d.real_input.shape == (8, 8) and torch.equal(d.real_input[1, :2], d.real[4])
    assert_resume_is_bit_identical(registry, tmp_path, 200, variant="vanilla", regularizers=["pacgan:m=4"])


def test_presets_use_pacgans_2d_setup_with_100_packs_a_batch(registry, tmp_path):
    cfg = resolve_config(registry, dataset="ring8", variant="pacgan4")
    assert [(r.name, r.options) for r in cfg.regularizers] == [("pacgan", {"m": 4})]
    assert (cfg.batch_size, cfg.lr_g, cfg.lr_d, cfg.betas_d) == (400, 1e-4, 1e-4, (0.8, 0.999))
    assert cfg.arch.name == "mlp" and cfg.arch.options["d_maxout"] == 5
    pac2 = resolve_config(registry, dataset="ring8", variant="pacgan2",
                          overrides={"steps": 2}, sets=["dataset.n=400", "arch.g_width=8", "arch.d_width=8"])
    assert pac2.batch_size == 200
    assert train(pac2, registry, tmp_path / "run", progress=False).status == "completed"


def test_m_below_one_is_a_usage_error(registry):
    with pytest.raises(UsageError, match="at least 1"):
        registry.create("regularizer", "pacgan", {"m": 0})
