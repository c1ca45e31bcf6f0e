"""FID-infinity on Gaussians, where FID_N's bias is known: it falls like 1/N, and the
extrapolation to 1/N = 0 leaves the true distance (0 for one distribution)."""

import pytest
import torch

from ganagerie.components import Dataset, DataSplit
from ganagerie.evaluation import backbones
from ganagerie.plugins.fid_infinity import FIDInfinity
from ganagerie.plugins.fid_kid_is import FID

DIM = 16


class Pixels(backbones.Backbone):
    """The pixels themselves as features: FID is then the Fréchet distance of the data."""

    def __init__(self):
        super().__init__()
        self.feature_dim, self.num_classes = DIM, 2
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # gives the backbone a device
        self.info = {"name": "pixels"}

    def forward(self, x):
        return x.flatten(1), x.flatten(1)[:, :2]


class Gaussian(Dataset):
    """20,000 draws of N(0, I) as 1x4x4 images."""

    shape = (1, 4, 4)

    def load(self, split="train"):
        return DataSplit(torch.randn(20_000, *self.shape, generator=torch.Generator().manual_seed(1)))


@pytest.fixture
def pixels(monkeypatch):
    monkeypatch.setattr(backbones, "get_backbone", lambda *a, **k: Pixels())


def score(metric, fake):
    metric.setup(Gaussian(), torch.device("cpu"))
    torch.manual_seed(0)
    for batch in fake.split(1000):
        metric.update(batch)
    return metric.compute()


def test_fid_infinity_removes_the_1_over_n_bias(pixels):
    fake = torch.randn(10_000, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    metric = FIDInfinity()
    fid_inf = score(metric, fake)["fid_infinity"]
    sizes = [n for n, _ in metric.fits]
    assert sizes[0] == 1_000 and sizes[-1] == 10_000 and len(sizes) == 15  # 10% to all, 15 points
    fids = [f for _, f in metric.fits]
    assert fids[0] > 0.05 and fids[0] > 3 * fids[-1]  # a clear bias at 1,000 samples...
    # ...gone at 1/N = 0: the same Gaussian, FID 0, up to the 20,000 real samples' own bias
    # (slope / 20,000 = 0.003) and noise; another seed gives -0.0001 (no range is declared)
    assert abs(fid_inf) < 0.01
    assert metric.slope == pytest.approx(fids[0] * 1_000, rel=0.3)  # FID_N ~ slope / N
    # the largest N is fid's own number on the same samples
    assert fids[-1] == pytest.approx(score(FID(), fake)["fid"], rel=1e-5)
    proto = metric.protocol()
    assert proto["fid_n"][0][0] == 1_000 and proto["points"] == 15 and proto["n_generated"] == 10_000


def test_a_shifted_gaussian_extrapolates_to_its_true_distance(pixels):
    # N(0.3, I) against N(0, I): the Fréchet distance is 16 * 0.3^2 = 1.44
    fake = 0.3 + torch.randn(10_000, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    metric = FIDInfinity(points=5, min_fraction=0.2)
    assert score(metric, fake)["fid_infinity"] == pytest.approx(DIM * 0.09, abs=0.03)
    assert [n for n, _ in metric.fits] == [2_000, 4_000, 6_000, 8_000, 10_000]
    assert metric.fits[0][1] > metric.fits[-1][1] > DIM * 0.09  # finite N overestimates


def test_fid_infinity_options_and_small_budgets(registry, pixels):
    assert not registry.create("metric", "fid-infinity").by_default  # named only: 15 FIDs
    assert registry.create("metric", "fid-infinity").n_samples == 50_000  # the paper's
    assert registry.create("metric", "fid-infinity", {"protocol": "studiogan-v0.3"}).n_samples == 10_000
    with pytest.raises(ValueError, match="points must be at least 2"):
        FIDInfinity(points=1)
    with pytest.raises(ValueError, match="min_fraction must lie between 0 and 1"):
        FIDInfinity(min_fraction=1.0)
    with pytest.raises(ValueError, match="needs at least 15 distinct N"):
        score(FIDInfinity(), torch.randn(12, 1, 4, 4))
