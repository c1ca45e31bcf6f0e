"""Memory is counted before it is spent: a run that cannot fit is refused in one line before
its networks are allocated."""

import torch

from ganagerie.plugin_loader import get_registry
from ganagerie.train import build


def test_the_estimate_counts_weights_four_times_and_the_activations_of_one_step():
    arch = get_registry().create("architecture", "mlp", {})
    with torch.device("meta"):
        g, d = build.build_networks(arch, (2,), None)
    weights = sum(p.numel() * 4 for net in (g, d) for p in net.parameters())
    small, large = (build.memory_needed(g, d, b, (2,), None) for b in (1, 1001))
    assert small > 4 * weights
    # activations grow linearly with the batch: G's outputs once, D's twice (real and fake)
    per_sample = (large - small) / 1000
    g_out = sum(m.out_features for m in g.modules() if isinstance(m, torch.nn.Linear))
    assert per_sample >= 4 * g_out


def test_a_run_that_cannot_fit_is_refused_before_anything_is_allocated(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(build, "memory_free", lambda device: 64 * 2**20)
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "2", "--set", "batch_size=200000",
                       "--set", "dataset.n=200000", "--out", tmp_path / "big", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "needs about" in err and "GiB" in err and "lower batch_size" in err, err
    assert not (tmp_path / "big" / "checkpoints").exists()
    # an ordinary run (about 2 MiB) fits in the same 64 MiB
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "2", "--set", "batch_size=200",
                       "--set", "dataset.n=500", "--out", tmp_path / "small", "--quiet")
    assert code == 0, err
