"""Names inside a plugin: its presets and suites mean its own components, and every spelling of
one component (plain or qualified) gives one config, one log key and one metric key."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
import torch
from helpers import Env, installed

from ganagerie import hookimpl
from ganagerie.bench.suite import expand, parse_suite
from ganagerie.components import Loss, Metric, Technique
from ganagerie.config import resolve_config
from ganagerie.evaluation.select import resolve_eval
from ganagerie.plugin_loader import load_plugins

PLUGIN = "extra_plugin"


class ScaledHinge(Loss):
    """A hinge loss with a scale: clashes by name with the built-in hinge."""

    def __init__(self, scale: float = 3.0):
        self.scale = scale

    def d_loss(self, real, fake):
        return self.scale * (torch.relu(1 - real).mean() + torch.relu(1 + fake).mean())

    def g_loss(self, fake):
        return -self.scale * fake.mean()


class Penalty(Technique):
    """A penalty of the plugin's own."""

    def __init__(self, weight: float = 1.0):
        self.weight = weight


class Mean(Metric):
    """The generated samples' mean norm."""

    def applies_to(self, dataset):
        return len(dataset.shape) == 1

    def update(self, fake):
        self.value = float(fake.mean(0).norm())

    def compute(self):
        return {"mean_norm": self.value}


def _plugin() -> types.ModuleType:
    mod = types.ModuleType(PLUGIN)

    @hookimpl
    def register_losses(register):
        register("hinge", ScaledHinge)

    @hookimpl
    def register_regularizers(register):
        register("xpen", Penalty)

    @hookimpl
    def register_variants(register):
        register("xpreset", lambda: {"loss": "hinge", "regularizers": ["xpen"]})

    @hookimpl
    def register_metrics(register):
        register("mean-norm", Mean)

    mod.register_losses, mod.register_regularizers = register_losses, register_regularizers
    mod.register_variants, mod.register_metrics = register_variants, register_metrics
    return mod


@pytest.fixture(scope="module")
def registry():
    with pytest.warns(UserWarning, match="loss 'hinge' is registered by"):
        return load_plugins(extra=[_plugin()]).registry


def _config(registry, **kw):
    return resolve_config(registry, dataset="ring8", **kw).to_dict()


def test_a_plugins_preset_trains_its_own_component_not_the_built_in_of_that_name(registry):
    cfg = _config(registry, variant="xpreset")
    assert cfg["loss"] == {"name": f"{PLUGIN}:hinge", "options": {"scale": 3.0}}
    assert cfg["variant"] == "xpreset"
    # the user's plain name is the first registration's: the built-in
    assert _config(registry, variant="vanilla", loss="hinge")["loss"]["name"] == "hinge"


def test_every_spelling_of_a_variant_or_an_override_gives_one_config(registry):
    base = _config(registry, variant="xpreset", regularizers=["xpen:weight=5"])
    assert base["regularizers"] == [{"name": "xpen", "options": {"weight": 5.0}}]
    spellings = [
        dict(variant=f"{PLUGIN}:xpreset", regularizers=["xpen:weight=5"]),
        dict(variant="xpreset", regularizers=[f"{PLUGIN}:xpen:weight=5"]),
        dict(variant="xpreset", sets=["reg.xpen.weight=5"]),
        dict(variant="xpreset", sets=[f"reg.{PLUGIN}:xpen.weight=5"]),
        dict(variant=f"{PLUGIN}:xpreset", loss=f"{PLUGIN}:hinge", regularizers=["xpen:weight=5"]),
    ]
    for kw in spellings:
        assert _config(registry, **kw) == base, kw


def test_a_metric_has_one_key_whichever_spelling(registry):
    dataset = registry.create("dataset", "ring8", {"n": 100})
    plain = resolve_eval(registry, dataset, ["mean-norm"])
    assert resolve_eval(registry, dataset, [f"{PLUGIN}:mean-norm"]) == plain
    assert plain[0] == ["mean-norm"]
    assert _config(registry, variant="vanilla", sets=[f'eval_metrics=["{PLUGIN}:mean-norm"]'])[
        "eval_metrics"] == ["mean-norm"]


SUITE = f"""
name = "own"
seeds = 1
steps = 2
datasets = [{{ name = "ring8", options = {{ n = 100 }} }}]
variants = [
    "{PLUGIN}:xpreset",
    {{ label = "inline", variant = "vanilla", loss = "hinge", regularizers = ["xpen"] }},
]
"""


def test_a_plugins_suite_means_its_own_components_and_takes_qualified_variants(registry):
    suite = parse_suite(SUITE, f"{PLUGIN}.suites/own.toml", distribution=PLUGIN)
    assert [v.label for v in suite.variants] == ["xpreset", "inline"]
    runs = {r.variant: r.config for r in expand(suite, registry)}
    assert runs["xpreset"]["loss"]["name"] == f"{PLUGIN}:hinge"
    assert runs["inline"]["loss"]["name"] == f"{PLUGIN}:hinge"
    assert runs["inline"]["regularizers"][0]["name"] == "xpen"
    # the same text read from a file of the user's is the user's: plain names are the first's
    mine = {r.variant: r.config for r in expand(parse_suite(SUITE, "own.toml"), registry)}
    assert mine["inline"]["loss"]["name"] == "hinge"
    assert mine["xpreset"]["loss"]["name"] == f"{PLUGIN}:hinge"  # the preset's own, still


# -- the same, installed: a distribution as its author ships it ----------------------------

EXTRA = Path(__file__).resolve().parent / "plugins" / "ganagerie-extra"
QUALIFIER = "ganagerie-extra"
#: metrics.jsonl's wall-clock columns, the only ones that differ between identical runs
TIMING = {"steps_per_s", "time_s"}
TINY = ["--dataset", "ring8", "--steps", "20", "--quiet", "--set", "log_every=10",
        "--set", "dataset.n=2000", "--set", "arch.g_width=16", "--set", "arch.d_width=16"]


@pytest.fixture(scope="module")
def extra(tmp_path_factory) -> Env:
    # not strict: the distribution's loss clashes with a built-in on purpose (one warning)
    return installed(tmp_path_factory.mktemp("extra-plugin"), EXTRA, strict=False)


def test_an_installed_plugins_preset_trains_its_own_loss_under_every_spelling(extra):
    spellings = {
        "plain": ["--variant", "extra", "--reg", "extra-penalty:weight=5"],
        "qualified": ["--variant", f"{QUALIFIER}:extra", "--reg",
                      f"{QUALIFIER}:extra-penalty:weight=5"],
        "preset-qualifies": ["--variant", "extra-q", "--set", "reg.extra-penalty.weight=5"],
    }
    configs, logs, evals = {}, {}, {}
    for label, args in spellings.items():
        run = extra.root / label
        extra.ganagerie("train", *TINY, *args, "--out", run)
        configs[label] = {k: v for k, v in json.loads((run / "config.json").read_text()).items()
                          if k != "variant"}
        logs[label] = [{k: v for k, v in json.loads(line).items() if k not in TIMING}
                       for line in (run / "metrics.jsonl").read_text().splitlines()]
        for metric in ("mean-norm", f"{QUALIFIER}:mean-norm"):
            extra.ganagerie("eval", run, "--metrics", metric)
            evals[label, metric] = json.loads((run / "eval.json").read_text())["metrics"]
    plain = configs["plain"]
    assert plain["loss"] == {"name": f"{QUALIFIER}:relativistic-average", "options": {"scale": 2.0}}
    assert plain["regularizers"] == [{"name": "extra-penalty", "options": {"weight": 5.0}}]
    assert all(c == plain for c in configs.values()), configs
    assert all(rows == logs["plain"] for rows in logs.values())
    assert "d/extra-penalty" in logs["plain"][0]
    values = list(evals.values())
    assert all(v == values[0] for v in values) and set(values[0]) == {"mean-norm"}


def test_an_installed_plugins_suite_trains_its_own_loss(extra):
    out = extra.root / "bench"
    extra.ganagerie("bench", "run", "extra-2d", "--out", out, "--quiet")
    results = json.loads((out / "results.json").read_text())
    losses = {r["variant"]: r["config"]["loss"] for r in results["runs"]}
    assert set(losses) == {"extra", "inline"}
    assert all(loss == {"name": f"{QUALIFIER}:relativistic-average", "options": {"scale": 2.0}}
               for loss in losses.values()), losses
    assert {r["status"] for r in results["runs"]} == {"completed"}
