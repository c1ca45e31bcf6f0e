"""The CIFAR-10 suites under Mimicry's protocol: what they expand to, and a 2-step plumbing run
of each on a folder of 32x32 RGB PNGs standing in for CIFAR-10 (no download, no GPU)."""

import json

import numpy as np
import pytest
from PIL import Image

from ganagerie.bench.harness import run_suite
from ganagerie.bench.suite import expand, load_suite, parse_suite
from ganagerie.evaluation import backbones

SUITES = ("cifar10-sngan", "cifar10-conditional")
METRICS = ["fid:protocol=mimicry", "kid:protocol=mimicry", "is:protocol=mimicry",
           "fid-infinity:protocol=mimicry"]


@pytest.mark.parametrize("name", SUITES)
def test_the_suites_follow_mimicrys_cifar10_protocol(registry, name):
    suite = load_suite(name)
    assert [d.name for d in suite.datasets] == ["cifar10"] and len(suite.seeds) == 3
    assert "Mimicry" in suite.description and "FID" in suite.description  # the published figure
    (cfg, *_) = [s.config for s in expand(suite, registry)]
    assert cfg["steps"] == 100_000 and cfg["n_critic"] == 5 and cfg["batch_size"] == 64
    assert (cfg["lr_g"], cfg["lr_d"], cfg["betas_g"], cfg["betas_d"]) == (2e-4, 2e-4, [0.0, 0.9], [0.0, 0.9])
    for side in ("schedule_g", "schedule_d"):  # linear decay to 0 over the run
        assert cfg[side]["name"] == "linear" and cfg[side]["options"]["end"] == 0
    assert cfg["loss"]["name"] == "hinge" and [r["name"] for r in cfg["regularizers"]] == ["spectral-norm"]
    assert cfg["arch"]["name"] == "resnet" and cfg["arch"]["options"]["width"] == 64  # G 256 / D 128
    assert cfg["arch"]["options"]["conditional"] is (name == "cifar10-conditional")
    assert cfg["device"] == "cuda" and cfg["eval_samples"] == 50_000 and cfg["eval_metrics"] == METRICS


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """200 patterned 32x32 RGB PNGs in 10 class folders under a data root, and a domain
    classifier trained in a few steps into this test's own cache (no Inception weights here)."""
    root = tmp_path / "data" / "cifar10-standin"
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 32)
    for c in range(10):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(20):  # a class's colour and stripe direction, plus noise
            stripes = np.broadcast_to(ramp[None, :] if c % 2 else ramp[:, None], (32, 32))
            img = np.stack([stripes * (c + 1) / 10, np.full((32, 32), 25.0 * c), stripes], axis=2)
            img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(root / f"class{c}" / f"{i:02d}.png")
    monkeypatch.setenv("GANAGERIE_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(backbones, "cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(backbones, "_loaded", {})
    monkeypatch.setattr(backbones, "CLASSIFIER_MIN_STEPS", 5)
    return root


def test_a_two_step_plumbing_run_on_a_stand_in_folder(registry, stand_in, tmp_path):
    sngan, conditional = (load_suite(name) for name in SUITES)
    # the two suites differ in their variant only: one run of both variants plumbs both files
    same = ("seeds", "steps", "metrics", "eval_every", "eval_samples", "sets", "rank_by")
    assert all(getattr(sngan, k) == getattr(conditional, k) for k in same)
    assert [v.label for v in conditional.variants] == ["cgan-pd"]
    source = sngan.source.replace(
        'datasets = ["cifar10"]',
        'datasets = [{ name = "image-folder", label = "cifar10", options = { root = "cifar10-standin" } }]'
    ).replace('variants = ["sngan-resnet"]', 'variants = ["sngan-resnet", "cgan-pd"]')
    standin = parse_suite(source, "cifar10-sngan and cifar10-conditional on a stand-in folder")
    assert [v.label for v in standin.variants] == ["sngan-resnet", "cgan-pd"]
    # tiny networks and batches on the CPU, 64 samples: plumbing, not the protocol's numbers
    sets = ["device=cpu", "eval_samples=64", "arch.width=4", "batch_size=8"]
    outcomes = run_suite(standin, tmp_path / "bench", registry, seeds=1, steps=2, sets=sets, jobs=1,
                         threads=1, progress=False)
    assert [o.status for o in outcomes] == ["completed"] * 2, [o.error for o in outcomes]
    for outcome in outcomes:
        run = tmp_path / "bench" / "runs" / outcome.key
        cfg = json.loads((run / "config.json").read_text())
        assert cfg["steps"] == 2 and cfg["eval_samples"] == 64 and cfg["n_critic"] == 5
        assert cfg["arch"]["options"]["conditional"] is (outcome.key.split("/")[1] == "cgan-pd")
        result = json.loads((run / "eval.json").read_text())
        assert set(result["metrics"]) == {"fid", "kid", "is", "fid-infinity"}
        for metric, proto in result["protocol"]["metrics"].items():
            assert proto["fid_protocol"]["name"] == "mimicry", metric
            assert proto["backbone"]["name"] == "classifier"  # no Inception weights on this machine
            assert "n_generated: 64 drawn, the protocol calls for 50000" in proto["differs_from_protocol"]
        assert result["protocol"]["metrics"]["fid"]["real"] == "train split"
    assert (tmp_path / "bench" / "report.md").is_file()
