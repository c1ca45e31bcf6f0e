"""Mode coverage on Gaussian mixtures (VEEGAN/PacGAN): hand computations and the ideal values."""

import math

import pytest
import torch

from ganagerie.plugins.mixture_modes import MixtureModes, mixture_scores


def score(dataset, samples, **options):
    metric = MixtureModes(**options)
    metric.setup(dataset, torch.device("cpu"))
    for batch in samples.split(500):
        metric.update(batch)
    return metric.compute()


@pytest.fixture(scope="module")
def ring8(registry):
    return registry.create("dataset", "ring8", {"n": 2500})


def test_scores_by_hand():
    # 5 samples: 3 high quality on mode 0, 1 on mode 1, 1 of low quality
    got = mixture_scores(torch.tensor([3, 1, 0, 0]), 5)
    assert got["modes"] == 2 and got["high_quality_pct"] == 80.0
    assert got["reverse_kl"] == pytest.approx(0.75 * math.log(0.75 * 4) + 0.25 * math.log(0.25 * 4))
    assert mixture_scores(torch.tensor([5, 5, 5, 5]), 20)["reverse_kl"] == 0.0
    # nothing of high quality: q is undefined, the worst value log(#modes) is reported
    assert mixture_scores(torch.zeros(8, dtype=torch.long), 10) == {
        "modes": 0.0, "high_quality_pct": 0.0, "reverse_kl": math.log(8)}


def test_real_data_scores_ideally(ring8):
    got = score(ring8, ring8.load("test").x)
    assert got["modes"] == 8
    # within 3 std in 2-D: 1 - exp(-9/2) = 98.89% of real samples
    assert got["high_quality_pct"] == pytest.approx(100 * (1 - math.exp(-4.5)), abs=0.7)
    assert got["reverse_kl"] < 0.01


def test_one_mode_gives_one_mode_and_log8(ring8):
    g = torch.Generator().manual_seed(0)
    collapsed = ring8.centers[3] + 0.01 * torch.randn(2500, 2, generator=g)
    got = score(ring8, collapsed)
    assert got["modes"] == 1
    assert got["reverse_kl"] == pytest.approx(math.log(8), abs=1e-9)


def test_high_quality_is_within_the_threshold(ring8):
    c = ring8.centers[0]
    inside = c + torch.tensor([[0.0299, 0.0]])
    outside = c + torch.tensor([[0.0301, 0.0]])
    assert score(ring8, inside)["high_quality_pct"] == 100.0
    assert score(ring8, outside)["high_quality_pct"] == 0.0
    assert score(ring8, outside, threshold=4.0)["high_quality_pct"] == 100.0


def test_grid25_and_what_it_applies_to(registry):
    grid = registry.create("dataset", "grid25", {"n": 2500})
    got = score(grid, grid.load("test").x)
    assert got["modes"] == 25 and got["high_quality_pct"] > 97
    assert MixtureModes().applies_to(grid)
    assert not MixtureModes().applies_to(registry.create("dataset", "digits"))
    assert MixtureModes.n_samples == 2500
