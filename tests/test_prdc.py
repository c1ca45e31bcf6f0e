"""Precision/recall and density/coverage: the vectorized versions against brute force."""

import math

import pytest
import torch

from ganagerie.plugins import prdc
from ganagerie.plugins.prdc import density_coverage, knn_radii, precision_recall


def brute_radii(x, k):
    radii = []
    for i in range(len(x)):
        d = sorted(math.dist(x[i], x[j]) for j in range(len(x)) if j != i)
        radii.append(d[k - 1])
    return radii


def brute_precision_recall(real, fake, k):
    real, fake = real.tolist(), fake.tolist()
    r_real, r_fake = brute_radii(real, k), brute_radii(fake, k)
    precision = sum(any(math.dist(f, r) <= rr for r, rr in zip(real, r_real)) for f in fake) / len(fake)
    recall = sum(any(math.dist(r, f) <= rf for f, rf in zip(fake, r_fake)) for r in real) / len(real)
    return precision, recall


def brute_density_coverage(real, fake, k):
    real, fake = real.tolist(), fake.tolist()
    r_real = brute_radii(real, k)
    inside = sum(math.dist(f, r) <= rr for f in fake for r, rr in zip(real, r_real))
    covered = sum(min(math.dist(r, f) for f in fake) <= rr for r, rr in zip(real, r_real))
    return inside / (k * len(fake)), covered / len(real)


@pytest.fixture(params=[0, 1, 2])
def sets(request, monkeypatch):
    # small blocks make the blocked loops run several times
    monkeypatch.setattr(prdc, "BLOCK", 7)
    g = torch.Generator().manual_seed(request.param)
    real = torch.randn(40, 5, generator=g)
    fake = 0.8 * torch.randn(33, 5, generator=g) + 0.3
    return real, fake


def test_knn_radii_match_brute_force(sets):
    real, _ = sets
    for k in (1, 3, 5):
        assert knn_radii(real, k).tolist() == pytest.approx(brute_radii(real.tolist(), k), rel=1e-9)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_match_brute_force(sets, k):
    real, fake = sets
    assert precision_recall(real, fake, k) == pytest.approx(brute_precision_recall(real, fake, k))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_density_coverage_match_brute_force(sets, k):
    real, fake = sets
    assert density_coverage(real, fake, k) == pytest.approx(brute_density_coverage(real, fake, k))


def test_extremes():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(50, 3, generator=g)
    assert precision_recall(real, real.clone(), 3) == (1.0, 1.0)
    assert density_coverage(real, real.clone(), 5)[1] == 1.0
    far = real + 100.0
    assert precision_recall(real, far, 3) == (0.0, 0.0)
    assert density_coverage(real, far, 5) == (0.0, 0.0)
    # one generated point on top of every real one: each is inside its own ball at least
    density, _ = density_coverage(real, real.clone(), 1)
    assert density >= 1.0


def test_same_distribution_scores_near_ideal():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(1500, 4, generator=g), torch.randn(1500, 4, generator=g)
    p, r = precision_recall(real, fake, 3)
    d, c = density_coverage(real, fake, 5)
    assert p > 0.85 and r > 0.85
    assert d == pytest.approx(1.0, abs=0.1)
    assert c > 0.9  # 1 - 2^-5 = 0.97 in expectation (Naeem et al. 2020)


def test_too_few_samples_is_a_clear_error():
    with pytest.raises(ValueError, match="more than k=3"):
        knn_radii(torch.zeros(3, 2), 3)
