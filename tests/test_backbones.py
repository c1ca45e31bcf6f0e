"""Backbones: the digits classifier (accuracy, determinism, disk cache), stacking, Inception errors."""

import sys

import pytest
import torch

from ganagerie.components import DataSplit
from ganagerie.errors import UsageError
from ganagerie.evaluation import backbones
from ganagerie.evaluation.backbones import (
    Backbone,
    StackedBackbone,
    get_backbone,
    train_classifier,
)


@pytest.fixture(scope="module")
def digits(registry):
    return registry.create("dataset", "digits")


def test_digits_classifier_is_accurate_and_states_itself(digits, ganagerie_cache):
    bb = get_backbone(digits, "cpu", "classifier")
    info = bb.info
    assert info["name"] == "classifier" and info["version"] == backbones.CLASSIFIER_VERSION
    assert info["accuracy"] > 0.95
    assert info["train_samples"] == len(digits.load("train").x)
    feats, logits = bb.embed(digits.load("test").x)
    assert feats.shape == (len(digits.load("test").x), bb.feature_dim) and logits.shape[1] == 10
    assert list((ganagerie_cache / "classifiers").glob(f"digits-{info['key']}.pt"))


def test_cached_classifier_is_read_back_not_retrained(digits, monkeypatch):
    x = digits.load("test").x[:50]
    before = get_backbone(digits, "cpu", "classifier").embed(x)[0].clone()
    monkeypatch.setattr(backbones, "_loaded", {})
    monkeypatch.setattr(backbones, "train_classifier", lambda *a, **k: pytest.fail("retrained"))
    again = get_backbone(digits, "cpu", "classifier")
    assert torch.equal(again.embed(x)[0], before)


def test_a_damaged_cache_file_is_trained_over(digits, ganagerie_cache, monkeypatch):
    key = get_backbone(digits, "cpu", "classifier").info["key"]
    path = next((ganagerie_cache / "classifiers").glob(f"digits-{key}.pt"))
    saved = path.read_bytes()
    path.write_bytes(b"not a checkpoint")
    monkeypatch.setattr(backbones, "_loaded", {})
    calls = []

    def fake_train(train, test, shape, num_classes):
        calls.append(shape)
        return backbones.DomainClassifier(shape, num_classes), {"name": "classifier", "accuracy": 0.0}

    monkeypatch.setattr(backbones, "train_classifier", fake_train)
    try:
        assert get_backbone(digits, "cpu", "classifier").info["accuracy"] == 0.0
        assert calls == [(1, 8, 8)]
    finally:
        path.write_bytes(saved)


def test_training_is_deterministic_and_the_key_follows_the_data(registry, digits, monkeypatch):
    monkeypatch.setattr(backbones, "CLASSIFIER_MIN_STEPS", 5)
    monkeypatch.setattr(backbones, "CLASSIFIER_BATCH", 256)  # 3 epochs of 1,437 images: 18 steps
    train, test = digits.load("train"), digits.load("test")
    a, info = train_classifier(train, test, digits.shape, 10)
    b, _ = train_classifier(train, test, digits.shape, 10)
    assert info["steps"] == 18
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    other = registry.create("dataset", "digits", {"test_fraction": 0.3})
    assert backbones.data_key(other) != backbones.data_key(digits)


def test_the_classifier_is_the_same_whatever_the_callers_thread_count(registry, monkeypatch):
    # a 28x28 classifier's convolutions split their sums over threads: before training
    # pinned one thread, 2 threads gave another network (and another FID) than 1
    monkeypatch.setattr(backbones, "CLASSIFIER_MIN_STEPS", 5)
    monkeypatch.setattr(backbones, "CLASSIFIER_BATCH", 500)  # 3 epochs of 1,000 digits: 6 steps
    mnist = registry.create("dataset", "mnist-5k")
    full, test = mnist.load("train"), mnist.load("test")
    train = DataSplit(full.x[:1000], full.y[:1000])
    before = torch.get_num_threads()
    trained = []
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            trained.append(train_classifier(train, test, mnist.shape, 10))
            assert torch.get_num_threads() == threads  # the caller's count is given back
    finally:
        torch.set_num_threads(before)
    (a, info_a), (b, info_b) = trained
    assert info_a["threads"] == 1 and info_a["weights"] == info_b["weights"]
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert info_a["weights"] == backbones.weights_digest(b)


def test_a_cache_file_not_known_to_be_one_thread_or_with_other_weights_is_trained_over(
        digits, ganagerie_cache, monkeypatch):
    key = get_backbone(digits, "cpu", "classifier").info["key"]
    path = next((ganagerie_cache / "classifiers").glob(f"digits-{key}.pt"))
    saved = path.read_bytes()
    state = torch.load(path, weights_only=True)
    calls = []

    def fake_train(train, test, shape, num_classes):
        calls.append(shape)
        return backbones.DomainClassifier(shape, num_classes), {"name": "classifier", "accuracy": 0.0}

    monkeypatch.setattr(backbones, "train_classifier", fake_train)
    older = {**state, "info": {k: v for k, v in state["info"].items() if k != "threads"}}
    edited = {**state, "state_dict": {k: v + 1 if v.is_floating_point() else v
                                      for k, v in state["state_dict"].items()}}
    try:
        for bad in (older, edited):
            torch.save(bad, path)
            monkeypatch.setattr(backbones, "_loaded", {})
            assert get_backbone(digits, "cpu", "classifier").info["accuracy"] == 0.0
        assert calls == [(1, 8, 8), (1, 8, 8)]
    finally:
        path.write_bytes(saved)


class _Base(Backbone):
    """Features: the mean of each image; logits: fixed per channel value."""

    feature_dim, num_classes = 1, 3

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        m = x.mean(dim=(1, 2, 3))
        return m[:, None], torch.stack([-(m - c).abs() * 50 for c in (0.0, 0.5, 1.0)], dim=1)


def test_stacked_backbone_reads_each_channel_group_first_most_significant():
    stacked = StackedBackbone(_Base(), groups=2)
    x = torch.stack([torch.full((2, 4, 4), 1.0), torch.full((2, 4, 4), 0.0)])
    x[0, 1] = 0.5  # channels (1.0, 0.5): classes (2, 1) -> 2*3 + 1
    feats, logits = stacked(x)
    assert feats.shape == (2, 2) and logits.shape == (2, 9)
    assert logits.argmax(1).tolist() == [7, 0]
    # joint logits are log-probabilities: each row's exp sums to 1
    assert torch.allclose(logits.exp().sum(1), torch.ones(2))


def test_embed_remembers_recent_inputs():
    bb = _Base()
    x = torch.rand(10, 1, 2, 2)
    first = bb.embed(x, batch_size=3)
    assert bb.embed(x) is first
    x.add_(1)  # changed in place: computed again
    assert bb.embed(x) is not first


def test_bad_requests_are_usage_errors(registry, digits, monkeypatch, tmp_path):
    with pytest.raises(UsageError, match="need images"):
        get_backbone(registry.create("dataset", "ring8"), "cpu")
    with pytest.raises(UsageError, match="unknown backbone 'vgg'"):
        get_backbone(digits, "cpu", "vgg")
    with pytest.raises(UsageError, match="--inception-weights FILE"):
        get_backbone(digits, "cpu", "inception", str(tmp_path / "missing.pth"))
    monkeypatch.setenv("GANAGERIE_INCEPTION_WEIGHTS", str(tmp_path / "nowhere.pth"))
    with pytest.raises(UsageError, match="nowhere.pth"):
        get_backbone(digits, "cpu", "inception")
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"")
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "torch_fidelity.feature_extractor_inceptionv3", None)
    with pytest.raises(UsageError, match=r"ganagerie\[inception\]"):
        get_backbone(digits, "cpu", "inception", str(weights))


def test_auto_keeps_the_classifier_for_small_images_or_without_weights(digits, monkeypatch, tmp_path):
    monkeypatch.setenv("GANAGERIE_INCEPTION_WEIGHTS", str(tmp_path / "absent.pth"))
    assert not backbones._inception_suits(digits)  # 8x8: too small for Inception
    assert get_backbone(digits, "cpu", "auto").info["name"] == "classifier"


def test_inception_loads_from_a_file_without_unpickling_or_downloading(tmp_path, monkeypatch):
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    # random weights of the right shapes stand in for the real file, which tests never download
    weights = tmp_path / "inception.pth"
    with monkeypatch.context() as m:
        m.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        m.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
        torch.save(tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"]).state_dict(), weights)
    bb = backbones.load_inception(weights)
    feats, logits = bb(torch.rand(2, 1, 28, 28) * 2 - 1)  # grey images are repeated to RGB
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert bb.info["name"] == "inception"
    assert tfi.load_state_dict_from_url is torch.hub.load_state_dict_from_url  # put back
    wrong = tmp_path / "wrong.pth"
    torch.save({"a": torch.zeros(1)}, wrong)
    with pytest.raises(UsageError, match="does not hold the FID Inception weights"):
        backbones.load_inception(wrong)
