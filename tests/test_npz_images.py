"""npz: images and labels from a NumPy .npz file, every layout and type it takes, and every
bad file refused in one line before anything is loaded or written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ganagerie.plugins.npz_images import NpzImages

RNG = np.random.default_rng(0)
GREY = RNG.integers(0, 256, (40, 8, 8), dtype=np.uint8)
LABELS = np.arange(40) % 4


@pytest.fixture(autouse=True)
def data_root(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAGERIE_DATA", str(tmp_path))
    return tmp_path


def test_grey_uint8_with_labels(data_root):
    np.savez(data_root / "grey.npz", x=GREY, y=LABELS)
    ds = NpzImages(file="grey.npz", test_fraction=0.25)
    assert ds.shape == (1, 8, 8) and ds.num_classes == 4
    train, test = ds.load("train"), ds.load("test")
    # a quarter of each class's 10, rounded half to even as mnist-5k's split rounds
    assert (len(train.x), len(test.x)) == (32, 8) and torch.bincount(test.y).tolist() == [2, 2, 2, 2]
    x = torch.cat([train.x, test.x]).flatten()
    assert x.min() >= -1 and x.max() <= 1
    first = torch.from_numpy(GREY[ds._index["train"][0].item()]).float()
    assert torch.allclose(train.x[0, 0], first / 127.5 - 1)
    assert ds.protocol()["layout"] == "nhw" and ds.protocol()["value_range"] == [0.0, 255.0]


@pytest.mark.parametrize("layout, shape", [("nhwc", (12, 6, 6, 3)), ("nchw", (12, 3, 6, 6)),
                                           ("nhwc", (12, 6, 6, 1))])
def test_float_layouts_are_scaled_from_their_range(data_root, layout, shape):
    x = RNG.uniform(-1, 1, shape).astype(np.float32)
    np.savez(data_root / "f.npz", x=x)
    ds = NpzImages(file="f.npz", low=-1.0, high=1.0)
    assert ds.shape == ((shape[3], *shape[1:3]) if layout == "nhwc" else shape[1:])
    assert ds.num_classes is None
    back = np.transpose(x, (0, 3, 1, 2)) if layout == "nhwc" else x
    together = torch.zeros_like(torch.from_numpy(back))
    for split in ("train", "test"):
        together[ds._index[split]] = ds.load(split).x
    assert torch.allclose(together, torch.from_numpy(back), atol=1e-6)  # [-1, 1] stays as it is
    assert ds.protocol()["layout"] == layout


def test_an_ambiguous_channel_axis_takes_a_layout(data_root):
    np.savez(data_root / "a.npz", x=np.zeros((5, 3, 4, 3), np.uint8))
    assert NpzImages(file="a.npz", layout="nchw", test_fraction=0.2).shape == (3, 4, 3)
    assert NpzImages(file="a.npz", layout="nhwc", test_fraction=0.2).shape == (3, 3, 4)


def test_train_and_an_unlabelled_eval_that_says_what_to_provide(cli, data_root, tmp_path, monkeypatch):
    np.savez(data_root / "grey.npz", x=GREY)
    code, _, err = cli("train", "--data-root", data_root, "--dataset", "npz:file=grey.npz",
                       "--steps", "3", "--batch-size", "8", "--set", "arch.width=4", "--quiet",
                       "--out", tmp_path / "run")
    assert code == 0, err
    options = json.loads((tmp_path / "run" / "config.json").read_text())["dataset"]["options"]
    assert options["file"] == "grey.npz"
    monkeypatch.setenv("GANAGERIE_INCEPTION_WEIGHTS", str(tmp_path / "none.pth"))
    code, _, err = cli("eval", tmp_path / "run", "--metrics", "fid", "--n-samples", "50")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "needs class labels and this dataset has none" in err
    assert "pip install 'ganagerie[inception]'" in err


def _write(path, case):
    """The bad file of each case."""
    if case == "text":
        path.write_text("not an archive")
    elif case == "npy":
        np.save(path, GREY)  # np.save appends .npy: written under the .npz name below
        (path.parent / (path.name + ".npy")).rename(path)
    else:
        arrays = {
            "pickle": {"x": np.array([{"a": 1}, None], dtype=object)},
            "int64": {"x": GREY.astype(np.int64)},
            "vector": {"x": np.zeros((10, 64), np.uint8)},
            "rgba": {"x": np.zeros((10, 8, 8, 4), np.uint8)},
            "no-x": {"images": GREY},
            "extra": {"x": GREY, "names": np.array(["a"])},
            "y-length": {"x": GREY, "y": LABELS[:5]},
            "y-float": {"x": GREY, "y": LABELS.astype(np.float32)},
            "y-gap": {"x": GREY, "y": LABELS * 2},
            "y-one": {"x": GREY, "y": np.zeros(40, np.int64)},
            "y-pickle": {"x": GREY, "y": np.array([None] * 40, dtype=object)},
            "range": {"x": GREY.astype(np.float32)},
            "nan": {"x": np.full((4, 8, 8), np.nan, np.float32)},
            "empty": {"x": np.zeros((0, 8, 8), np.uint8)},
        }[case]
        np.savez(path, **arrays)


BAD = [
    ("missing", "", "no file at {root}/missing.npz; pass --data-root DIR"),
    ("text", "", "{root}/text.npz is not a readable .npz file (File is not a zip file)"),
    ("npy", "", "{root}/npy.npz is not a readable .npz file"),
    ("pickle", "", "{root}/pickle.npz: x holds Python objects, which only a pickle can hold"),
    ("y-pickle", "", "{root}/y-pickle.npz: y holds Python objects"),
    ("int64", "", "{root}/int64.npz: x is int64; give uint8 pixels (0..255) or floats in [low, high]"),
    ("vector", "", "{root}/vector.npz: x has shape (10, 64); give images (N, H, W)"),
    ("empty", "", "{root}/empty.npz: x holds no images (its shape is (0, 8, 8))"),
    ("rgba", "", "x has shape (10, 8, 8, 4); images have 1 (grey) or 3 (RGB) channels"),
    ("rgba", ",layout=nhwc", "x has shape (10, 8, 8, 4), whose nhwc channel axis holds 4"),
    ("no-x", "", "{root}/no-x.npz has no array 'x' (it has images)"),
    ("extra", "", "{root}/extra.npz holds arrays names besides x and y"),
    ("y-length", "", "y must hold one label per image, shape (40,), not (5,)"),
    ("y-float", "", "y must hold integer classes 0..K-1, not float32"),
    ("y-gap", "", "no image has class 1, but class 6 exists"),
    ("y-one", "", "every image has class 0; leave y out for unlabelled images"),
    ("range", "", "x holds values in [0, 255], outside [0, 1]; give low= and high="),
    ("nan", "", "x holds values that are not finite"),
    ("range", ",layout=sideways", "layout must be one of auto, nhwc, nchw"),
    ("range", ",low=1,high=0", "low must be below high"),
]


@pytest.mark.parametrize("case, options, message", BAD, ids=[f"{c}{o}" for c, o, _ in BAD])
def test_a_bad_npz_is_one_line_exit_2(cli, tmp_path, case, options, message):
    root = tmp_path / "data"
    root.mkdir()
    if case != "missing":
        _write(root / f"{case}.npz", case)
    code, _, err = cli("train", "--data-root", root, "--dataset", f"npz:file={case}.npz{options}",
                       "--steps", "1", "--quiet", "--out", tmp_path / "out")
    assert code == 2, err
    assert err.startswith("error: dataset 'npz': ") and len(err.strip().splitlines()) == 1, err
    assert message.format(root=root) in err, err
    assert not (tmp_path / "out").exists()


def test_a_path_outside_the_data_root_is_refused(cli, tmp_path):
    for name in ("/etc/passwd", "../x.npz", "~/x.npz"):
        code, _, err = cli("train", "--dataset", f"npz:file={name}", "--out", tmp_path / "out")
        assert code == 2 and "must be a path inside the data root" in err, err
    code, _, err = cli("train", "--dataset", "npz", "--out", tmp_path / "out")
    assert code == 2 and "give file=NAME.npz" in err, err


def test_the_conformance_kit_passes_on_a_file(data_root):
    from ganagerie.testing import check_component

    np.savez(data_root / "grey.npz", x=GREY, y=LABELS)
    report = check_component("dataset", "npz", options={"file": "grey.npz"})
    assert not report.skipped and "dataset" in report.passed
