"""The one step: every built-in preset trains its seeds together exactly as one by one (float64),
labels reach conditional networks, the step orders are one mechanism, and the diagnostics
are measured on the documented steps."""

from __future__ import annotations

import json

import helpers
import pytest
import torch
from torch import nn

from ganagerie.components import Architecture, Discriminator, Generator
from ganagerie.config import RunConfig, resolve_config
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.plugin_loader import get_registry
from ganagerie.registry import Provenance
from ganagerie.train.batched import SeedBatch, why_not
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.rundir import RunDir
from ganagerie.train.step import DIAG_EVERY, STEP_ORDERS, measures_diagnostics
from ganagerie.train.trainer import Trainer, _classes_for, prepare

SKIPPED = ("steps_per_s", "time_s")
#: image presets train on digits with their own network made narrow (conditional presets keep
#: their class inputs), else with a narrow DCGAN; the others on ring8 with a tiny MLP
OWN_IMAGE = ["arch.width=8", "batch_size=16", "log_every=5"]
IMAGE = ["arch=dcgan", *OWN_IMAGE]
TWO_D = [*helpers.tiny(width=16, n=1000, log_every=5), "batch_size=40"]


def preset_config(registry, variant, seed, steps=20):
    for dataset, sets in (("ring8", TWO_D), ("digits", OWN_IMAGE), ("digits", IMAGE)):
        try:
            cfg = resolve_config(registry, dataset=dataset, variant=variant,
                                 overrides={"steps": steps, "seed": seed}, sets=sets)
            Trainer(cfg, registry, "/nonexistent")  # builds (and refuses data it cannot take)
            return cfg
        except UsageError:
            continue
    raise AssertionError(f"preset {variant} trains on neither ring8 nor digits")


def rows(run):
    return [{k: v for k, v in r.items() if k not in SKIPPED} for r in read_jsonl(RunDir(run).metrics)
            if "d_loss" in r]


def flat(tree, prefix=""):
    """Every tensor and number of a checkpoint, by path."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flat(sub, f"{prefix}/{key}").items()}
    if isinstance(tree, (list, tuple)):
        return {k: v for i, sub in enumerate(tree) for k, v in flat(sub, f"{prefix}/{i}").items()}
    return {prefix: tree}


@pytest.mark.parametrize("variant", sorted(get_registry().entries["variant"]))
def test_every_preset_trains_its_seeds_together_as_one_by_one_in_float64(registry, tmp_path, float64,
                                                                         variant):
    cfgs = [preset_config(registry, variant, s) for s in range(3)]
    assert why_not(cfgs[0], registry, "on", seeds=3) is None
    for s, cfg in enumerate(cfgs):
        prepare(cfg, registry, tmp_path / f"one-{s}").fit(progress=False)
    SeedBatch([prepare(cfg, registry, tmp_path / f"batch-{s}") for s, cfg in enumerate(cfgs)]).fit()
    for s in range(3):
        a, b = rows(tmp_path / f"one-{s}"), rows(tmp_path / f"batch-{s}")
        assert len(a) == 4 and [r.keys() for r in a] == [r.keys() for r in b]
        for ra, rb in zip(a, b):
            for k, v in ra.items():
                assert rb[k] == pytest.approx(v, rel=1e-9, abs=1e-9), (variant, s, ra["step"], k)
        ca = flat(read_checkpoint(RunDir(tmp_path / f"one-{s}").checkpoint, "cpu"))
        cb = flat(read_checkpoint(RunDir(tmp_path / f"batch-{s}").checkpoint, "cpu"))
        assert ca.keys() == cb.keys()
        for k, v in ca.items():
            if isinstance(v, torch.Tensor):
                assert v.dtype == cb[k].dtype, k
                if v.is_floating_point():
                    torch.testing.assert_close(cb[k], v, rtol=1e-9, atol=1e-9, msg=f"{variant} {k}")
                else:
                    assert torch.equal(cb[k], v), (variant, k)  # RNG states, counters, data order
            else:
                assert cb[k] == v, (variant, k)
    assert rows(tmp_path / "batch-0")[-1]["d_loss"] != rows(tmp_path / "batch-1")[-1]["d_loss"]


def test_diagnostics_are_measured_on_every_tenth_step_and_at_each_window_end(registry):
    cfg = resolve_config(registry, dataset="ring8", overrides={"steps": 45, "log_every": 25})
    assert cfg.diag_every == DIAG_EVERY == 10
    assert [s + 1 for s in range(45) if measures_diagnostics(s, cfg)] == [10, 20, 25, 30, 40, 45]
    cfg.diag_every = 1
    assert all(measures_diagnostics(s, cfg) for s in range(45))


def test_a_config_of_0_2_measures_the_diagnostics_on_every_step_as_it_did(registry):
    written = resolve_config(registry, dataset="ring8").to_dict()
    del written["diag_every"]
    assert RunConfig.from_dict(written).diag_every == 1
    # a preset's partial fields are not a whole config: they get the default
    assert resolve_config(registry, dataset="ring8", overrides={"steps": 5}).diag_every == 10


def test_a_row_says_over_how_many_steps_its_diagnostics_are(registry, tmp_path):
    cfg = resolve_config(registry, dataset="ring8", variant="vanilla", overrides={"steps": 30},
                         sets=helpers.tiny(log_every=15))
    prepare(cfg, registry, tmp_path / "r").fit(progress=False)
    logged = rows(tmp_path / "r")
    assert [(r["step"], r["diag/steps"]) for r in logged] == [(15, 2), (30, 2)]  # 10, 15 and 20, 30
    assert all(0 <= r["diag/d_accuracy"] <= 1 and r["diag/g_grad_norm"] > 0 for r in logged)
    cfg.diag_every = 1  # every step, and rows as 0.2 wrote them
    prepare(cfg, registry, tmp_path / "every").fit(progress=False)
    assert all("diag/steps" not in r for r in rows(tmp_path / "every"))


def test_the_step_orders_are_one_mechanism_chosen_by_update():
    assert set(STEP_ORDERS) == {"alternating", "simultaneous"}


# -- labels through the batch ---------------------------------------------------------------


class _CondG(Generator):
    conditional = True

    def __init__(self, classes: int):
        super().__init__()
        self.latent_dim, self.classes = 2, classes
        self.embed = nn.Embedding(classes, 8)
        self.net = nn.Sequential(nn.Linear(2 + 8, 16), nn.ReLU(), nn.Linear(16, 2))

    def forward(self, z, y=None):
        if y is None:  # previews and evaluation: every class equally
            y = torch.arange(z.shape[0], device=z.device) % self.classes
        return self.net(torch.cat([z, self.embed(y)], dim=-1))


class _ProjectionD(Discriminator):
    """A small projection discriminator (Miyato & Koyama 2018): psi(h) + <embed(y), h>."""

    conditional = True

    def __init__(self, classes: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2))
        self.out = nn.Linear(16, 1)
        self.embed = nn.Embedding(classes, 16)

    def features(self, x, y=None):
        return self.body(x)

    def classify(self, h, y=None):
        logit = self.out(h).squeeze(-1)
        return logit if y is None else logit + (self.embed(y) * h).sum(-1)


class _Conditional(Architecture):
    def build(self, shape):
        return _CondG(8), _ProjectionD(8)


@pytest.fixture
def conditional(registry):
    registry.add("architecture", "cond-test", _Conditional, Provenance("tests.test_step"),
                 help="a conditional test network")
    yield registry
    entry = registry.entries["architecture"].pop("cond-test")
    registry.qualified["architecture"].pop(entry.qualified_name)


def cond_cfg(registry, seed, steps, extra=()):
    return resolve_config(registry, dataset="ring8", variant="vanilla", arch="cond-test",
                          overrides={"steps": steps, "seed": seed},
                          sets=["batch_size=32", "dataset.n=2000", "log_every=5", "checkpoint_every=10",
                                *extra])


def test_labels_reach_a_conditional_network_and_match_the_batch(conditional, tmp_path):
    trainer = Trainer(cond_cfg(conditional, 0, 10), conditional, tmp_path / "c")
    seen = {}
    original = trainer.D.classify

    def spy(h, y=None):
        seen.setdefault("labels", []).append(y)
        return original(h, y)

    trainer.D.classify = spy
    d = trainer.stepper.d_update()
    real_y = d.real_labels
    assert real_y is not None and real_y.dtype == torch.long and real_y.shape == (32,)
    # the real batch's labels are the mode each point was drawn from
    centers = trainer.dataset.centers
    nearest = torch.cdist(d.real, centers).argmin(1)
    assert torch.equal(nearest, real_y)
    assert d.fake_labels is not None and int(d.fake_labels.max()) < 8
    assert all(y is not None for y in seen["labels"])


def test_a_conditional_run_trains_resumes_bit_identically_and_batches_its_seeds(conditional, tmp_path):
    reg = conditional
    prepare(cond_cfg(reg, 0, 20), reg, tmp_path / "whole").fit(progress=False)
    prepare(cond_cfg(reg, 0, 10), reg, tmp_path / "part").fit(progress=False)
    prepare(cond_cfg(reg, 0, 20), reg, tmp_path / "part", resume=True).fit(progress=False)
    assert rows(tmp_path / "part") == rows(tmp_path / "whole")
    assert json.loads(RunDir(tmp_path / "whole").status.read_text())["status"] == "completed"
    assert why_not(cond_cfg(reg, 0, 20), reg, "on", seeds=2) is None
    SeedBatch([prepare(cond_cfg(reg, s, 20), reg, tmp_path / f"b-{s}") for s in (0, 1)]).fit()
    for a, b in zip(rows(tmp_path / "whole"), rows(tmp_path / "b-0")):
        for k, v in a.items():
            assert b[k] == pytest.approx(v, rel=1e-4, abs=1e-6), k


def test_a_conditional_architecture_on_unlabelled_data_is_one_line(conditional, tmp_path):
    cfg = resolve_config(conditional, dataset="ring8", variant="vanilla", arch="cond-test",
                         overrides={"steps": 2})
    trainer = Trainer(cfg, conditional, tmp_path / "ok")  # ring8's labels are its modes
    assert trainer.num_classes == 8
    trainer.dataset.num_classes = None
    with pytest.raises(UsageError, match="is conditional and dataset 'ring8' has no labels"):
        _classes_for(cfg, trainer.G, trainer.D, trainer.dataset)
