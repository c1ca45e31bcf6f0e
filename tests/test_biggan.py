"""BigGAN at 32x32: self-attention by hand, the hierarchical latent and shared embedding, BigGAN's
conditional batch norm, where attention sits, orthogonal init, which layers spectral norm and
the orthogonal penalty reach, the kit, and the biggan-32 preset through the trainer."""

import pytest
import torch
from torch import nn

from ganagerie.config import resolve_config
from ganagerie.plugins.biggan import BigGAN, SelfAttention
from ganagerie.plugins.orthogonal import filter_matrices
from ganagerie.plugins.resnet import ConditionalBatchNorm2d
from ganagerie.plugins.spectral_norm import SpectralNorm
from ganagerie.testing import check_component
from ganagerie.train.trainer import prepare


def test_attention_with_gamma_0_is_the_identity():
    attn = SelfAttention(8)
    assert attn.gamma.tolist() == [0.0]
    x = torch.randn(3, 8, 4, 4)
    assert torch.equal(attn(x), x)


def test_attention_over_one_key_adds_gamma_times_the_pooled_value_everywhere():
    # on a 2x2 map the pooled keys are one position: softmax over one key is 1, so every
    # position gets x + gamma * W_o max_pool(W_g x), whatever theta and phi are
    attn = SelfAttention(8)
    with torch.no_grad():
        attn.gamma.fill_(0.5)
    x = torch.randn(2, 8, 2, 2)
    wg, wo = attn.g.weight.flatten(1), attn.o.weight.flatten(1)  # [4, 8], [8, 4]
    pooled = torch.einsum("oc,nchw->nohw", wg, x).amax(dim=(2, 3))  # [2, 4]
    expected = x + 0.5 * (pooled @ wo.T)[:, :, None, None]
    assert torch.allclose(attn(x), expected, atol=1e-6)


def test_attention_weights_are_a_softmax_over_the_pooled_keys_by_hand():
    attn = SelfAttention(8)
    with torch.no_grad():
        for conv in (attn.theta, attn.phi):  # one channel each: theta = phi = channel 0
            conv.weight.zero_()
            conv.weight[0, 0] = 1.0
        attn.g.weight.zero_()
        attn.g.weight[0, 1] = 1.0  # the value: channel 1
        attn.o.weight.zero_()
        attn.o.weight[2, 0] = 1.0  # written to channel 2
        attn.gamma.fill_(1.0)
    x = torch.zeros(1, 8, 2, 4)
    x[0, 0] = torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # query/key channel
    x[0, 1] = torch.tensor([[3.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0]])  # value channel
    # pooled 2x2: keys k = (1, 2), values v = (3, 5); query q at each position: the weights
    # are softmax(q * k), the output sum_j w_j v_j
    out = attn(x)[0, 2]
    for (i, j), q in zip([(0, 0), (0, 2), (1, 1)], [1.0, 2.0, 0.0]):
        w = torch.softmax(torch.tensor([q * 1.0, q * 2.0]), 0)
        assert out[i, j].item() == pytest.approx(float(w[0] * 3 + w[1] * 5), abs=1e-6)


def test_biggans_conditional_batch_norm_is_1_plus_a_linear_map_by_hand():
    gain, bias = nn.Linear(2, 1, bias=False), nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        gain.weight.copy_(torch.tensor([[1.0, -1.0]]))
        bias.weight.copy_(torch.tensor([[0.5, 2.0]]))
    cbn = ConditionalBatchNorm2d(1, gain, bias, offset=1.0, eps=1e-5)
    x = torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1)  # normalised: -1, 1 (variance 1)
    c = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    # sample 0: (1 + 2) * -1 + 1 = -2; sample 1: (1 - 1) * 1 + 2 = 2
    s = 1 / (1 + 1e-5) ** 0.5
    assert cbn(x, c).flatten().tolist() == pytest.approx([-3 * s + 1, 0 * s + 2], abs=1e-6)


def test_the_hierarchical_latent_and_the_shared_embedding():
    g, d = BigGAN().build((3, 32, 32), num_classes=10)
    assert g.latent_dim == 128 and g.chunk == 32  # 3 blocks + the linear layer: 4 chunks
    assert g.linear.in_features == 32
    assert {b.b1.gain.in_features for b in g.blocks} == {128 + 32}  # [shared(y), z_i]
    assert {b.c1.out_channels for b in g.blocks} == {256} and d.linear.in_features == 256
    z, y = torch.randn(2, 128), torch.tensor([3, 7])
    z0, conditions = g.conditions(z, y)
    assert torch.equal(z0, z[:, :32])
    for i, c in enumerate(conditions):
        assert torch.equal(c, torch.cat([g.shared(y), z[:, 32 * (i + 1):32 * (i + 2)]], 1))
    small, _ = BigGAN(width=2).build((1, 28, 28), num_classes=10)  # 2 blocks: 3 chunks of 42
    assert (small.latent_dim, small.chunk) == (126, 42)


def test_attention_sits_at_half_the_image_side_in_g_and_d():
    g, d = BigGAN(width=2).build((3, 32, 32), num_classes=10)
    seen = []
    for attn in (g.extra, d.blocks[1]):
        assert isinstance(attn, SelfAttention)
        attn.register_forward_hook(lambda m, args, out: seen.append(tuple(args[0].shape[-2:])))
    x = g(g.sample_noise(2))
    d(x)
    assert seen == [(16, 16), (16, 16)]
    g, d = BigGAN(width=2, attention=False).build((3, 32, 32), num_classes=10)
    assert not any(isinstance(m, SelfAttention) for m in [*g.modules(), *d.modules()])


def test_orthogonal_init_and_the_layers_spectral_norm_and_the_penalty_reach():
    g, d = BigGAN(width=2).build((3, 32, 32), num_classes=10)
    w = g.linear.weight  # [4 * 4 * 8, 32]: orthonormal columns
    assert torch.allclose(w.T @ w, torch.eye(32), atol=1e-5)
    assert isinstance(g.shared, nn.Embedding) and isinstance(d.embed, nn.Linear)
    # the penalty leaves the class embedding out, as BigGAN's code blacklists G.shared
    assert all(m.shape != g.shared.weight.shape for m in filter_matrices(g))
    SpectralNorm(generator=True).setup(g, d)
    assert not hasattr(g.shared, "parametrizations")  # BigGAN keeps G's embedding plain
    assert hasattr(g.blocks[0].b1.gain, "parametrizations") and hasattr(d.embed, "parametrizations")


def test_options_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="8 to 32 pixels"):
        BigGAN().build((3, 48, 48), num_classes=10)
    with pytest.raises(ValueError, match="needs shared=true"):
        BigGAN(shared=False)
    with pytest.raises(ValueError, match="number of classes"):
        BigGAN().build((3, 32, 32))
    with pytest.raises(ValueError, match="init must be"):
        BigGAN(init="xavier")
    g, d = BigGAN(width=2, conditional=False).build((3, 32, 32))  # CBN from the z chunks alone
    assert not g.conditional and not d.conditional and g.blocks[0].b1.gain.in_features == 32
    # the code's CIFAR script's network: per-class CBN, one latent, no attention, N(0, 0.02)
    g, _ = BigGAN(width=2, shared=False, hierarchical=False, attention=False,
                  init="N02").build((3, 32, 32), num_classes=10)
    assert g.shared is None and isinstance(g.blocks[0].b1.gain, nn.Embedding)
    assert g(g.sample_noise(3)).shape == (3, 3, 32, 32)


@pytest.mark.parametrize("options", [{"width": 4, "latent_dim": 16},
                                     {"width": 4, "latent_dim": 16, "conditional": False}])
def test_conforms_conditional_and_unconditional(options):
    report = check_component("architecture", "biggan", options=options)
    assert "seeds together equal one by one (3 seeds)" in report.passed


def test_biggan_32_is_the_cifar_script_and_trains_through_the_trainer(registry, tmp_path):
    cfg = resolve_config(registry, dataset="digits", variant="biggan-32", overrides={"steps": 3},
                         sets=["arch.width=2", "arch.latent_dim=8", "batch_size=16", "log_every=1"])
    assert cfg.loss.name == "hinge" and cfg.arch.name == "biggan" and cfg.n_critic == 4
    assert [(r.name, r.options) for r in cfg.regularizers][0] == ("spectral-norm", {
        "generator": True, "n_power_iterations": 1})
    assert cfg.regularizers[1].options == {"decay": 0.9999, "start": 1000}
    assert (cfg.regularizers[2].name, cfg.regularizers[2].options) == ("orthogonal", {"beta": 1e-4})
    assert tuple(cfg.betas_g) == tuple(cfg.betas_d) == (0.0, 0.999) and cfg.lr_g == cfg.lr_d == 2e-4
    trainer = prepare(cfg, registry, tmp_path / "run")
    ema = dict(trainer.run.techniques)["ema"]
    assert trainer.fit(progress=False).status == "completed"
    # before the 1000th update the average is a copy of G
    for a, b in zip(ema.average.parameters(), trainer.G.parameters()):
        assert torch.allclose(a, b)
