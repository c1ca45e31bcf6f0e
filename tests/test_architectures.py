"""mlp and dcgan build for every supported shape and train a step on it."""

import pytest
import torch

from ganagerie.errors import UsageError
from ganagerie.plugins.dcgan import DCGAN, plan
from ganagerie.plugins.mlp import MLP, Maxout


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 8, 8), (1, 28, 28), (3, 32, 32), (1, 64, 64)])
def test_dcgan_round_trips_shapes(shape):
    g, d = DCGAN(latent_dim=16, width=8).build(shape)
    x = g(g.sample_noise(4))
    assert x.shape == (4, *shape)
    assert x.abs().max() <= 1
    out = d(x)
    assert out.shape == (4,) and out.dtype == torch.float32
    assert d.features(x).shape[0] == 4


def test_dcgan_on_28x28_trains_a_step():
    # the seed article's DCGAN crashed here: D could not take 28x28 and labels had the wrong shape
    g, d = DCGAN(latent_dim=8, width=8).build((1, 28, 28))
    opt = torch.optim.Adam(list(g.parameters()) + list(d.parameters()))
    real = torch.rand(6, 1, 28, 28) * 2 - 1
    loss = torch.nn.functional.softplus(-d(real)).mean() + torch.nn.functional.softplus(
        d(g(g.sample_noise(6)))).mean()
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)


def test_plan():
    assert plan(8) == (2, 2)
    assert plan(28) == (7, 2)
    assert plan(32) == (4, 3)
    assert plan(64) == (4, 4)
    with pytest.raises(ValueError):
        plan(7)


def test_dcgan_rejects_vectors(registry):
    from ganagerie.config import resolve_config

    with pytest.raises(UsageError, match="use --arch mlp"):
        cfg = resolve_config(registry, dataset="ring8", arch="dcgan")
        from ganagerie.train.build import build_run

        build_run(cfg, registry)


def test_maxout_takes_max_over_pieces():
    m = Maxout(1, 1, 3)
    with torch.no_grad():
        m.linear.weight.copy_(torch.tensor([[1.0], [2.0], [-1.0]]))
        m.linear.bias.zero_()
    assert m(torch.tensor([[2.0], [-3.0]])).squeeze(1).tolist() == [4.0, 3.0]


def test_pacgan_2d_architecture():
    g, d = MLP(latent_dim=2, g_width=400, g_depth=4, g_batchnorm=True,
               d_width=200, d_depth=3, d_maxout=5).build((2,))
    linears = [m for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == [400, 400, 400, 400, 2]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in g.modules()) == 4
    maxouts = [m for m in d.modules() if isinstance(m, Maxout)]
    assert len(maxouts) == 3 and all(m.linear.out_features == 200 * 5 for m in maxouts)
    assert g.latent_dim == 2 and d(g(g.sample_noise(5))).shape == (5,)
