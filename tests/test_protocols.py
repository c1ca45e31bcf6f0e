"""Named FID protocols: the Inception's input (quantisation and resize) against hand values
and the libraries each protocol names, and what every result records."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ganagerie.bench.references import Bank
from ganagerie.components import Dataset, DataSplit
from ganagerie.errors import UsageError
from ganagerie.evaluation import backbones
from ganagerie.evaluation.backbones import inception_input, resize_weights
from ganagerie.evaluation.protocols import PROTOCOLS, get_protocol
from ganagerie.evaluation.score import evaluate_generator
from ganagerie.evaluation.select import resolve_eval


def _pil_cubic(x):  # PIL's bicubic kernel, a = -0.5, written out for the hand values
    x = abs(x)
    return 1 - 2.5 * x**2 + 1.5 * x**3 if x < 1 else -0.5 * (x**3 - 5 * x**2 + 8 * x - 4) if x < 2 else 0.0


def test_each_resize_of_two_pixels_to_four_by_hand():
    tf = [[1, 0], [0.5, 0.5], [0, 1], [0, 1]]  # samples at 0, 0.5, 1, 1.5: the last clamps
    torch_ = [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]]  # at -0.25 (cut to 0), 0.25, 0.75, 1.25
    # PIL: centres (i + 0.5) / 2; taps 0 and 1 at distances centre - 0.5 and centre - 1.5
    pil = []
    for i in range(4):
        c = (i + 0.5) / 2
        w = [_pil_cubic(c - 0.5), _pil_cubic(c - 1.5)]
        pil.append([v / sum(w) for v in w])
    assert pil[0] == pytest.approx([0.8671875 / 0.796875, -0.0703125 / 0.796875])  # overshoots
    for resize, expected in (("legacy-tensorflow", tf), ("legacy-pytorch", torch_), ("clean", pil)):
        got = resize_weights(2, 4, resize)
        assert got.flatten().tolist() == pytest.approx(np.ravel(expected), abs=1e-7), resize
        assert got.sum(1).tolist() == pytest.approx([1.0] * 4)
    with pytest.raises(ValueError, match="unknown resize 'bicubic'"):
        resize_weights(2, 4, "bicubic")


def _pil_bicubic(img, size):
    """PIL's float ('F') bicubic resize, channel by channel, as clean-fid runs it."""
    return torch.stack([torch.from_numpy(np.array(
        Image.fromarray(c.numpy().astype(np.float32)).resize(size, Image.BICUBIC))) for c in img])


def test_resizes_match_the_libraries_each_protocol_names():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (2, 3, 32, 32), generator=g).float() / 127.5 - 1  # 8-bit CIFAR-like
    v = (x + 1) * 127.5
    clean = inception_input(x, "clean")
    expected = torch.stack([_pil_bicubic(img, (299, 299)) for img in v]).clamp(0, 255)
    assert clean.shape == (2, 3, 299, 299) and clean.dtype == torch.float32
    assert (clean - expected).abs().max() < 1e-3  # of 255
    assert clean.frac().abs().max() > 0.1  # not quantised again
    pytorch = inception_input(x, "legacy-pytorch")
    expected = F.interpolate(v, size=(299, 299), mode="bilinear", align_corners=False)
    assert (pytorch - expected).abs().max() < 1e-3
    # a non-square image shrunk: PIL widens its kernel (antialiasing), the bilinears do not
    big = torch.rand(1, 3, 400, 350, generator=g) * 255
    assert (resize_weights(400, 299, "clean").float() @ big @ resize_weights(350, 299, "clean").float().T
            - _pil_bicubic(big[0], (299, 299))).abs().max() < 1e-3
    tfi = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")
    expected = tfi.interpolate_bilinear_2d_like_tensorflow1x(v, size=(299, 299), align_corners=False)
    assert (inception_input(x, "legacy-tensorflow") - expected).abs().max() < 1e-3


def test_quantisation_rounds_to_the_8_bit_value_and_a_299_image_is_left_as_it_is():
    u = torch.arange(256.0).repeat(3 * 299 * 299 // 256 + 1)[: 3 * 299 * 299].view(1, 3, 299, 299)
    x = u / 127.5 - 1
    for resize in ("legacy-tensorflow", "legacy-pytorch", "clean"):
        assert torch.equal(inception_input(x, resize), u), resize  # the round trip is exact
    nudged = x + 0.3 / 127.5
    assert torch.equal(inception_input(nudged), u.clamp_max(255))  # 0.3 of a level rounds away...
    unrounded = inception_input(nudged, quantise=False)  # ...or stays
    assert (unrounded - (u + 0.3).clamp_max(255)).abs().max() < 1e-3
    grey = torch.zeros(1, 1, 299, 299)  # 127.5: save_image writes 128
    assert inception_input(grey).unique().tolist() == [128.0] and inception_input(grey).shape[1] == 3


def test_protocols_are_named_and_a_bad_name_is_one_line(registry):
    mimicry = get_protocol("mimicry")
    assert (mimicry.reference, mimicry.n_generated, mimicry.resize, mimicry.quantise) == (
        "train", 50_000, "legacy-tensorflow", True)
    assert get_protocol("studiogan-v0.3").reference == "test"
    assert get_protocol("clean").resize == "clean" and get_protocol("") is PROTOCOLS["default"]
    with pytest.raises(ValueError, match="unknown protocol 'mimicri'; did you mean 'mimicry'"):
        get_protocol("mimicri")
    with pytest.raises(UsageError, match="metric 'fid': unknown protocol") as err:
        registry.create("metric", "fid", {"protocol": "mimicri"})
    assert "\n" not in str(err.value)


@pytest.fixture
def quick_classifier(monkeypatch, tmp_path):
    """A real domain classifier, trained in a few steps into a cache of this test's own (never
    the session's, whose classifiers other tests read)."""
    monkeypatch.setattr(backbones, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(backbones, "_loaded", {})
    monkeypatch.setattr(backbones, "CLASSIFIER_MIN_STEPS", 5)
    monkeypatch.setattr(backbones, "CLASSIFIER_BATCH", 512)


def test_every_result_records_its_protocol_and_where_the_classifier_departs_from_it(
        registry, quick_classifier):
    digits = registry.create("dataset", "digits")
    train, test = digits.load("train"), digits.load("test")
    assert resolve_eval(registry, digits, ["fid"], None, {"protocol": "mimicry"})[1] == 50_000
    assert resolve_eval(registry, digits, ["fid:protocol=studiogan-v0.3"])[1] == 10_000
    result = evaluate_generator(Bank(test.x), digits, registry, metrics=[
        "fid:protocol=mimicry", "kid:protocol=studiogan-v0.3", "is"], n_samples=100, device="cpu")
    fid, kid, is_ = (result["protocol"]["metrics"][m] for m in ("fid", "kid", "is"))
    assert fid["fid_protocol"]["name"] == "mimicry" and fid["fid_protocol"]["n_generated"] == 50_000
    assert fid["real"] == "train split" and fid["n_real"] == len(train.x)
    assert kid["real"] == "test split" and kid["n_real"] == len(test.x)
    assert fid["backbone"]["name"] == "classifier" and "resize" not in fid["backbone"]
    assert fid["images"].startswith("as generated") and "no resize" in fid["images"]
    assert any(d.startswith("backbone: the domain classifier") for d in fid["differs_from_protocol"])
    assert "n_generated: 100 drawn, the protocol calls for 50000" in fid["differs_from_protocol"]
    # ganagerie's own default asks for no Inception: nothing to depart from at its own count
    assert is_["fid_protocol"]["name"] == "default" and is_["differs_from_protocol"] == []
    assert result["protocol"]["latents"].startswith("the run's prior")
    # the evaluation's protocol reaches every metric that takes one; a metric's own wins
    shared = evaluate_generator(Bank(test.x), digits, registry, metrics=["fid", "kid:protocol=default"],
                                n_samples=100, device="cpu", protocol="studiogan-v0.3")
    assert shared["protocol"]["metrics"]["fid"]["real"] == "test split"
    assert shared["protocol"]["metrics"]["kid"]["real"] == "train split"
    assert ("n_generated: 100 drawn, the protocol calls for 10000"
            in shared["protocol"]["metrics"]["fid"]["differs_from_protocol"])


@pytest.fixture
def stand_in_inception(tmp_path, monkeypatch):
    """torch-fidelity's FID Inception with random weights of the right shapes, saved to a file
    and loaded as the real weights are: it checks the plumbing, never the published numbers."""
    tfi = pytest.importorskip("torch_fidelity.feature_extractor_inceptionv3")
    with monkeypatch.context() as m:
        m.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd: None)
        m.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"])
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    return path


def test_the_inception_runs_on_our_input_as_on_its_own(stand_in_inception):
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ours = backbones.load_inception(stand_in_inception)  # legacy-tensorflow, 8-bit: its own way
    assert ours.info["resize"] == "legacy-tensorflow" and ours.info["quantise"] is True
    feats, logits = ours(x)
    with torch.no_grad():  # torch-fidelity's forward: uint8 in, its TF1 bilinear inside
        theirs = ours.net(((x + 1) * 127.5 + 0.5).floor().to(torch.uint8))
    for a, b in zip((feats, logits), theirs):
        assert a.shape == b.shape and (a - b).abs().max() <= 1e-4 * b.abs().max()
    clean = backbones.load_inception(stand_in_inception, "clean")
    assert not torch.allclose(clean(x)[0], feats, rtol=1e-3, atol=0)  # the resize reaches the network
    assert math.isfinite(float(clean(x)[1].sum()))


class _SmallImages(Dataset):
    """60 random 8-bit RGB 16x16 images per split."""

    shape = (3, 16, 16)

    def load(self, split="train"):
        g = torch.Generator().manual_seed(int(split == "test"))
        return DataSplit(torch.randint(0, 256, (60, *self.shape), generator=g) / 127.5 - 1)


class _TinyInception(torch.nn.Module):
    """A stand-in with the FID Inception's block names and output sizes, small enough for the
    CPU: it checks that a metric's protocol reaches the network and its record, not numbers."""

    def __init__(self):
        super().__init__()
        for name in backbones.INCEPTION_BLOCKS:
            setattr(self, name, torch.nn.Identity())
        self.Conv2d_1a_3x3 = torch.nn.Conv2d(3, 4, 13, stride=13)  # 299 -> 23
        self.Mixed_7c = torch.nn.Conv2d(4, 2048, 1)
        self.AvgPool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(2048, 1008)


def test_an_inception_metric_records_the_resize_its_protocol_chose(registry, monkeypatch, tmp_path):
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"")
    made = []

    def load(path, resize="legacy-tensorflow", quantise=True):
        torch.manual_seed(0)
        made.append((resize, quantise))
        return backbones.InceptionBackbone(_TinyInception().eval(), {"name": "inception",
                                                                     "weights": "stand-in"},
                                           resize, quantise)

    monkeypatch.setattr(backbones, "load_inception", load)
    monkeypatch.setattr(backbones, "_loaded", {})
    images = _SmallImages()
    # KID and IS: FID's 2048-dimensional eigenvalues would cost this test most of its time
    result = evaluate_generator(Bank(images.load("test").x), images, registry,
                                metrics=["kid:protocol=clean", "is:protocol=studiogan-v0.3"],
                                n_samples=40, device="cpu", backbone="inception",
                                inception_weights=str(weights))
    kid, is_ = result["protocol"]["metrics"]["kid"], result["protocol"]["metrics"]["is"]
    assert sorted(made) == [("clean", True), ("legacy-pytorch", False)]  # one network per input
    assert kid["backbone"]["resize"] == "clean" and kid["images"].startswith("8-bit; PIL bicubic")
    assert is_["images"].startswith("float, not quantised; torch bilinear")
    assert kid["differs_from_protocol"] == ["n_generated: 40 drawn, the protocol calls for 50000"]
    assert is_["differs_from_protocol"] == ["n_generated: 40 drawn, the protocol calls for 10000"]
    assert math.isfinite(result["metrics"]["kid"]["kid"])
