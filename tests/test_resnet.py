"""SNGAN's ResNet networks: the layouts by image size, conditional batch norm and the projection
term by hand, the class head, the kit (conditional and ACGAN-style), and the ResNet presets."""

import math

import pytest
import torch
from torch import nn

from ganagerie.config import resolve_config
from ganagerie.files import read_jsonl
from ganagerie.plugins.resnet import ConditionalBatchNorm2d, DBlock, GBlock, ResNet, plan
from ganagerie.plugins.spectral_norm import apply_spectral_norm
from ganagerie.testing import check_component
from ganagerie.train.build import build_networks, build_run
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import prepare


def test_plan_halves_the_side_while_even_and_above_7():
    assert plan(32) == (4, 3)
    assert plan(28) == (7, 2)
    assert plan(48) == (6, 3)
    assert plan(8) == (4, 1)
    with pytest.raises(ValueError, match="even image side"):
        plan(7)


@pytest.mark.parametrize("shape,base,g_widths,d_widths", [
    ((3, 32, 32), 4, [16, 16, 16, 16], [8, 8, 8, 8]),     # CIFAR-10: G 4w, D 2w
    ((1, 28, 28), 7, [16, 16, 16], [8, 8, 8, 8]),         # MNIST: from 7x7, 2 blocks
    ((3, 48, 48), 6, [32, 16, 8, 4], [4, 8, 16, 32, 64]),  # STL-10: G 8w..w, D w..16w
    ((1, 8, 8), 4, [16, 16], [8, 8, 8, 8]),
])
def test_layouts_by_image_size(shape, base, g_widths, d_widths):
    g, d = ResNet(latent_dim=8, width=4).build(shape)
    assert g.base == base and g.linear.in_features == 8
    assert [b.c1.in_channels for b in g.blocks] + [g.blocks[-1].c2.out_channels] == g_widths
    blocks = [m for m in d.blocks if isinstance(m, DBlock)]
    assert [b.c2.out_channels for b in blocks] == d_widths
    assert blocks[0].first and not any(b.first for b in blocks[1:])
    x = g(g.sample_noise(4))
    assert x.shape == (4, *shape) and x.abs().max() <= 1
    assert d.features(x).shape == (4, d_widths[-1]) and d(x).shape == (4,)


def test_the_papers_cifar_widths_and_no_bias_on_ds_head():
    g, d = ResNet().build((3, 32, 32))
    assert {b.c1.out_channels for b in g.blocks} == {256} and len(g.blocks) == 3
    assert d.linear.in_features == 128 and d.linear.bias is None
    assert g.linear.bias is None and all(b.c1.bias is None for b in g.blocks)  # cancelled by BN


def test_other_sizes_and_vectors_are_refused():
    for shape in ((3, 64, 64), (1, 30, 30), (1, 28, 14)):
        with pytest.raises(ValueError):
            ResNet().build(shape)
    with pytest.raises(ValueError, match="use --arch mlp"):
        ResNet().build((2,))


def test_class_options_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="number of classes"):
        ResNet(conditional=True).build((1, 8, 8))
    with pytest.raises(ValueError, match="aux_classifier=true needs conditional=true"):
        ResNet(aux_classifier=True).build((1, 8, 8), num_classes=10)


def test_conditional_batch_norm_by_hand():
    cbn = ConditionalBatchNorm2d.per_class(1, num_classes=2)  # eps 2e-5, chainer's
    assert cbn.gain.weight.tolist() == [[1.0], [1.0]] and cbn.bias.weight.tolist() == [[0.0], [0.0]]
    with torch.no_grad():
        cbn.gain.weight.copy_(torch.tensor([[2.0], [-1.0]]))
        cbn.bias.weight.copy_(torch.tensor([[1.0], [0.5]]))
    x = torch.tensor([1.0, 3.0, 5.0, 7.0]).view(2, 1, 1, 2)
    # batch statistics over N, H, W: mean 4, variance (9 + 1 + 1 + 9) / 4 = 5
    r = 1 / math.sqrt(5 + 2e-5)
    expected = [[2 * -3 * r + 1, 2 * -1 * r + 1], [-1 * r + 0.5, -3 * r + 0.5]]
    out = cbn(x, torch.tensor([0, 1]))
    assert out.flatten().tolist() == pytest.approx(sum(expected, []), abs=1e-6)


def test_projection_adds_embed_y_dot_phi_x_by_hand():
    _, d = ResNet(latent_dim=4, width=1, conditional=True).build((1, 8, 8), num_classes=3)
    with torch.no_grad():
        d.linear.weight.copy_(torch.tensor([[1.0, -1.0]]))
        d.embed.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))  # [F, K]
    h = torch.tensor([[1.0, 2.0], [3.0, 0.5]])
    # psi(h) = h1 - h2; embed(y) is column y: y=2 -> (3, 6), y=0 -> (1, 4)
    assert d.classify(h).tolist() == pytest.approx([-1.0, 2.5])
    assert d.classify(h, torch.tensor([2, 0])).tolist() == pytest.approx([-1 + 3 + 12, 2.5 + 3 + 2])
    assert isinstance(d.embed, nn.Linear)  # so that spectral norm normalises it too
    apply_spectral_norm(d)
    assert hasattr(d.embed, "parametrizations")


def test_a_conditional_generator_called_without_classes_makes_i_mod_k():
    g, _ = ResNet(latent_dim=8, width=2, conditional=True).build((1, 8, 8), num_classes=3)
    g.eval()
    for m in g.modules():  # classes initially share gain 1 and bias 0; make them differ
        if isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight)
    z = g.sample_noise(5)
    assert torch.equal(g(z), g(z, torch.tensor([0, 1, 2, 0, 1])))
    assert not torch.equal(g(z), g(z, torch.tensor([1, 1, 1, 1, 1])))


def test_blocks_by_hand_shapes_and_the_optimized_shortcut():
    block = GBlock(2, 3, lambda c: nn.BatchNorm2d(c))
    assert block(torch.randn(4, 2, 3, 3)).shape == (4, 3, 6, 6)
    first = DBlock(1, 2, first=True)
    with torch.no_grad():
        first.c2.weight.zero_()
        first.c2.bias.zero_()
        first.c_sc.weight.fill_(2.0)
        first.c_sc.bias.fill_(1.0)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # residual 0 (c2 is zero); shortcut 2 * avgpool(x) + 1
    expected = 2 * torch.nn.functional.avg_pool2d(x, 2) + 1
    assert torch.equal(first(x), expected.expand(1, 2, 2, 2))


def test_the_class_head_gives_logits_over_the_classes():
    _, d = ResNet(latent_dim=8, width=2, conditional=True, projection=False,
                  aux_classifier=True).build((1, 8, 8), num_classes=10)
    assert not d.conditional and d.num_classes == 10  # G conditional, D not: ACGAN's setting
    h = d.features(torch.randn(4, 1, 8, 8))
    assert d.class_logits(h).shape == (4, 10)
    _, plain = ResNet(width=2).build((1, 8, 8))
    with pytest.raises(ValueError, match="aux_classifier=true"):
        plain.class_logits(h)


def test_the_trainer_tells_the_architecture_the_datasets_classes(registry):
    cfg = resolve_config(registry, dataset="digits", variant="vanilla",
                         arch="resnet:conditional=true,width=2,latent_dim=8")
    run = build_run(cfg, registry)
    assert run.generator.num_classes == 10 and run.discriminator.embed.in_features == 10

    class Old:  # an architecture whose build takes the shape alone
        def build(self, shape):
            return shape

    assert build_networks(Old(), (1, 8, 8), 10) == (1, 8, 8)


@pytest.mark.parametrize("options", [
    {"conditional": True, "width": 4, "latent_dim": 16},
    {"conditional": True, "projection": False, "aux_classifier": True, "width": 4, "latent_dim": 16},
])
def test_conforms_conditional_and_with_a_class_head(options):
    report = check_component("architecture", "resnet", options=options)
    assert "seeds together equal one by one (3 seeds)" in report.passed


def test_the_presets_are_the_authors_cifar_settings(registry):
    cfg = resolve_config(registry, dataset="digits", variant="cgan-pd")
    assert cfg.loss.name == "hinge" and [r.name for r in cfg.regularizers] == ["spectral-norm"]
    assert (cfg.n_critic, cfg.lr_g, cfg.lr_d, cfg.batch_size) == (5, 2e-4, 2e-4, 64)
    assert tuple(cfg.betas_g) == tuple(cfg.betas_d) == (0.0, 0.9)
    assert (cfg.schedule_g.name, cfg.schedule_g.options["end"]) == ("linear", 0.0)
    assert cfg.schedule_d.name == "linear"
    assert cfg.arch.name == "resnet" and cfg.arch.options["conditional"] is True
    plain = resolve_config(registry, dataset="digits", variant="sngan-resnet")
    assert plain.arch.options["conditional"] is False and plain.n_critic == 5


def test_cgan_pd_trains_on_28x28_digits_through_the_trainer(registry, tmp_path):
    cfg = resolve_config(registry, dataset="mnist-5k", variant="cgan-pd", overrides={"steps": 2},
                         sets=["arch.width=2", "arch.latent_dim=8", "batch_size=16", "log_every=1"])
    trainer = prepare(cfg, registry, tmp_path / "run")
    assert trainer.G.base == 7 and trainer.num_classes == 10
    result = trainer.fit(progress=False)
    assert result.status == "completed"
    rows = [r for r in read_jsonl(RunDir(tmp_path / "run").metrics) if "d_loss" in r]
    assert len(rows) == 2 and all(math.isfinite(r["d_loss"]) for r in rows)
    assert rows[-1]["lr_g"] < rows[0]["lr_g"]  # decayed linearly
