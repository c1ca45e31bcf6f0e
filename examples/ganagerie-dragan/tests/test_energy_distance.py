"""The energy distance on point sets computed by hand, and its Metric contract."""

from __future__ import annotations

import math

import pytest
import torch
from ganagerie.components import Dataset, DataSplit

from ganagerie_dragan.energy_distance import EnergyDistance, energy_distance


class Points(Dataset):
    """A dataset whose test split is the given points."""

    def __init__(self, points):
        self.points = torch.tensor(points, dtype=torch.float32)
        self.shape = tuple(self.points.shape[1:])

    def load(self, split="train"):
        return DataSplit(self.points)


def score(points_real, fake_batches, **options):
    metric = EnergyDistance(**options)
    metric.setup(Points(points_real), torch.device("cpu"))
    for batch in fake_batches:
        metric.update(torch.tensor(batch, dtype=torch.float32))
    return metric.compute()["energy_distance"], metric.protocol()


def test_two_points_on_a_line():
    # x = {0, 1}, y = {2, 4}: between-sample distances 2, 4, 1, 3 (mean 2.5); within x one
    # pair at distance 1 (mean 1), within y one pair at 2 (mean 2): E = 2 * 2.5 - 1 - 2 = 2.
    # (The V-statistic would halve the within-sample means: 5 - 0.5 - 1 = 3.5.)
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[2.0], [4.0]])
    assert energy_distance(x, y) == pytest.approx(2.0, abs=1e-12)
    assert energy_distance(y, x) == pytest.approx(2.0, abs=1e-12)


def test_a_right_triangle_against_a_doubled_point():
    # x: (0,0), (3,0), (0,4), sides 3, 4, 5, so the within-x mean is (3 + 4 + 5) / 3 = 4;
    # y: (6,0) twice, within-y mean 0; from (6,0) to x: 6, 3, sqrt 52, so the between mean is
    # (9 + sqrt 52) / 3; E = 2 (9 + 2 sqrt 13) / 3 - 4 - 0 = 2 + 4 sqrt(13) / 3
    x = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    y = torch.tensor([[6.0, 0.0], [6.0, 0.0]])
    assert energy_distance(x, y) == pytest.approx(2 + 4 * math.sqrt(13) / 3, rel=1e-12)


def test_the_metric_contract_gives_the_hand_value_over_batches():
    value, protocol = score([[6.0, 0.0], [6.0, 0.0]], [[[0.0, 0.0], [3.0, 0.0]], [[0.0, 4.0]]])
    assert value == pytest.approx(2 + 4 * math.sqrt(13) / 3, rel=1e-12)
    assert protocol["n_real"] == 2 and protocol["n_generated"] == 3
    assert protocol["estimator"].startswith("U-statistic")


def test_same_distribution_scores_near_zero_and_a_collapse_does_not(registry):
    ring8 = registry.create("dataset", "ring8", {"n": 2500})
    metric = EnergyDistance()
    torch.manual_seed(0)
    metric.setup(ring8, torch.device("cpu"))
    metric.update(ring8.load("train").x)  # other draws from the same mixture
    same = metric.compute()["energy_distance"]
    assert abs(same) < 2e-3
    metric = EnergyDistance()
    metric.setup(ring8, torch.device("cpu"))
    metric.update(ring8.centers[0] + 0.01 * torch.randn(2500, 2))  # all on one mode
    assert metric.compute()["energy_distance"] > 0.5


def test_real_samples_are_a_seeded_subset_of_the_test_split():
    points = [[float(i), 0.0] for i in range(10)]
    fake = [[[0.5, 0.0], [2.5, 0.0], [4.5, 0.0]]]
    torch.manual_seed(3)
    a, protocol = score(points, fake, n_real=4)
    torch.manual_seed(3)
    b, _ = score(points, fake, n_real=4)
    assert protocol["n_real"] == 4 and a == b


def test_applies_to_vector_data_only():
    assert EnergyDistance().applies_to(Points([[0.0, 0.0]]))
    assert not EnergyDistance().applies_to(Points([[[[0.0]]]]))  # one 1x1x1 image


def test_too_few_samples_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="at least 2 samples"):
        energy_distance(torch.zeros(1, 2), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="n_real must be at least 2"):
        EnergyDistance(n_real=1)
