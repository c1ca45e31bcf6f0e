"""FID, KID and IS through torchmetrics on the digits classifier, against hand computations."""

import numpy as np
import pytest
import scipy.linalg
import torch

from ganagerie.plugins.fid_kid_is import FID, IS, KID


@pytest.fixture(scope="module")
def digits(registry):
    return registry.create("dataset", "digits")


@pytest.fixture(scope="module")
def fake(digits):
    """Training images with noise: close to the data, not equal to it."""
    x = digits.load("train").x
    g = torch.Generator().manual_seed(0)
    return (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)


def run(metric, dataset, fake):
    metric.setup(dataset, torch.device("cpu"))
    torch.manual_seed(0)
    with torch.no_grad():
        for batch in fake.split(500):
            metric.update(batch)
        return metric.compute()


@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # dead ReLU units: singular covariances
def test_fid_matches_the_formula(digits, fake):
    metric = FID(backbone="classifier")
    got = run(metric, digits, fake)["fid"]
    real_f = metric.backbone.embed(digits.load("train").x)[0].double().numpy()
    fake_f = metric.backbone.embed(fake)[0].double().numpy()
    mu1, mu2 = real_f.mean(0), fake_f.mean(0)
    s1, s2 = np.cov(real_f, rowvar=False), np.cov(fake_f, rowvar=False)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert got == pytest.approx(expected, rel=1e-3)
    assert got > 1.0  # the noise is visible
    proto = metric.protocol()
    assert proto["backbone"]["name"] == "classifier" and proto["backbone"]["accuracy"] > 0.95
    assert proto["n_real"] == len(digits.load("train").x) and proto["n_generated"] == len(fake)


def test_kid_matches_the_unbiased_mmd(digits, fake):
    # one subset as large as both sets: no random choice is left
    metric = KID(subsets=1, subset_size=10_000, backbone="classifier")
    got = run(metric, digits, fake)
    x = metric.backbone.embed(digits.load("train").x)[0].double()
    y = metric.backbone.embed(fake)[0].double()
    m, d = len(x), x.shape[1]

    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = ((kxx.sum() - kxx.diag().sum() + kyy.sum() - kyy.diag().sum()) / (m * (m - 1))
                - 2 * kxy.sum() / m**2).item()
    assert got["kid"] == pytest.approx(expected, rel=1e-3)
    assert got["kid_std"] == 0.0
    assert metric.protocol()["subset_size"] == m


def test_inception_score_matches_the_formula(digits, fake):
    metric = IS(splits=1, backbone="classifier")
    got = run(metric, digits, fake)
    p = metric.backbone.embed(fake)[1].double().softmax(1)
    expected = (p * (p.log() - p.mean(0, keepdim=True).log())).sum(1).mean().exp().item()
    assert got["is"] == pytest.approx(expected, rel=1e-4)
    assert 1.0 < got["is"] <= 10.0 and got["is_std"] == 0.0


def test_the_same_samples_give_the_same_numbers(digits, fake):
    assert run(KID(subsets=5, subset_size=100), digits, fake) == run(
        KID(subsets=5, subset_size=100), digits, fake)


def test_image_metrics_apply_to_images_only(registry, digits):
    for cls in (FID, KID, IS):
        assert cls().applies_to(digits)
        assert not cls().applies_to(registry.create("dataset", "ring8"))
    with pytest.raises(ValueError, match="backbone must be one of"):
        FID(backbone="vgg")
