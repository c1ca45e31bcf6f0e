"""The built-in datasets: shapes, modes, scaling, splits and offline errors."""

import math

import pytest
import torch

from ganagerie.errors import UsageError


def test_ring8_modes_and_spread(registry):
    ds = registry.create("dataset", "ring8", {"n": 20000})
    split = ds.load("train")
    assert split.x.shape == (20000, 2) and ds.shape == (2,)
    assert torch.allclose(ds.centers.norm(dim=1), torch.ones(8))
    dev = split.x - ds.centers[split.y]
    assert dev.std().item() == pytest.approx(0.01, rel=0.05)
    assert torch.bincount(split.y, minlength=8).min() > 2000
    assert not torch.equal(ds.load("test").x[:10], split.x[:10])


def test_grid25_modes(registry):
    ds = registry.create("dataset", "grid25", {"n": 5000})
    assert len(ds.centers) == 25 and ds.mode_std == 0.05
    assert sorted(set(ds.centers[:, 0].tolist())) == [-4, -2, 0, 2, 4]


def test_same_seed_same_points(registry):
    a = registry.create("dataset", "ring8", {"n": 100, "seed": 3}).load().x
    b = registry.create("dataset", "ring8", {"n": 100, "seed": 3}).load().x
    assert torch.equal(a, b)


def test_digits_are_scaled_and_split(registry):
    ds = registry.create("dataset", "digits")
    train, test = ds.load("train"), ds.load("test")
    assert ds.shape == (1, 8, 8) and ds.num_classes == 10
    assert len(train.x) + len(test.x) == 1797
    assert len(test.x) == pytest.approx(1797 * 0.2, abs=10)
    assert train.x.min() == -1 and train.x.max() == 1
    assert set(test.y.tolist()) == set(range(10))


@pytest.mark.parametrize("name, shape", [("mnist", (1, 28, 28)), ("fashion-mnist", (1, 28, 28)),
                                         ("cifar10", (3, 32, 32))])
def test_torchvision_datasets_fail_clearly_offline(registry, tmp_path, name, shape, monkeypatch):
    monkeypatch.setenv("GANAGERIE_DATA", str(tmp_path))
    ds = registry.create("dataset", name)
    assert ds.shape == shape
    with pytest.raises(UsageError, match="--download"):
        ds.load("train")


def test_mnist_reads_files_from_root(registry, tmp_path, monkeypatch):
    # the raw IDX files torchvision reads, written by hand: no download
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    n = 5
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8)
    labels = torch.arange(n, dtype=torch.uint8)
    for split, count in (("train", n), ("t10k", n)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(
            (2051).to_bytes(4, "big") + count.to_bytes(4, "big") + (28).to_bytes(4, "big")
            + (28).to_bytes(4, "big") + images.numpy().tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(
            (2049).to_bytes(4, "big") + count.to_bytes(4, "big") + labels.numpy().tobytes())
    monkeypatch.setenv("GANAGERIE_DATA", str(tmp_path))
    split = registry.create("dataset", "mnist").load("train")
    assert split.x.shape == (n, 1, 28, 28)
    expected = images.float() / 127.5 - 1
    assert torch.allclose(split.x[:, 0], expected)
    assert split.y.tolist() == list(range(n))
    assert math.isclose(split.x.max().item(), images.max().item() / 127.5 - 1)
