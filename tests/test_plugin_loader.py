"""Plugins load through the `ganagerie` entry points, built-ins included."""

import importlib.metadata
import types
import warnings

import pytest

from ganagerie import hookimpl
from ganagerie.components import Loss, Technique
from ganagerie.plugin_loader import PluginError, PluginLoadWarning, load_plugins
from ganagerie.plugins.wasserstein import WassersteinLoss

TECHNIQUES = {
    ("loss", "non-saturating"): "ganagerie.plugins.minimax",
    ("loss", "wasserstein"): "ganagerie.plugins.wasserstein",
    ("regularizer", "gradient-penalty"): "ganagerie.plugins.gradient_penalty",
    ("regularizer", "feature-matching"): "ganagerie.plugins.feature_matching",
    ("regularizer", "spectral-norm"): "ganagerie.plugins.spectral_norm",
}


def test_built_ins_come_from_the_entry_point_group(registry):
    eps = {ep.value for ep in importlib.metadata.entry_points(group="ganagerie")}
    for (kind, name), plugin in TECHNIQUES.items():
        entry = registry.get(kind, name)
        assert entry.provenance.plugin == plugin
        assert plugin in eps
        assert entry.provenance.distribution == "ganagerie"


def _third_party():
    class Doubling(Loss):
        def d_loss(self, r, f):
            return 2 * (f.mean() - r.mean())

        def g_loss(self, f):
            return -2 * f.mean()

    mod = types.ModuleType("ganagerie_doubling")

    @hookimpl
    def register_losses(register):
        register("doubling", Doubling, help="Twice the Wasserstein loss.")

    mod.register_losses = register_losses
    return mod


def test_extra_plugin_registers_beside_built_ins():
    loaded = load_plugins(extra=[_third_party()])
    entry = loaded.registry.get("loss", "doubling")
    assert entry.provenance.plugin == "ganagerie_doubling"
    assert entry.help == "Twice the Wasserstein loss."
    names = [p["name"] for p in loaded.describe()]
    assert "ganagerie_doubling" in names and "ganagerie.plugins.hinge" in names


def _clash():
    mod = types.ModuleType("ganagerie_clash")

    @hookimpl
    def register_losses(register):
        register("hinge", WassersteinLoss, help="Not the hinge loss.")

    mod.register_losses = register_losses
    return mod


def test_duplicate_from_a_plugin_warns_once_and_both_stay_reachable():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_plugins(extra=[_clash()])
    msgs = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(msgs) == 1
    assert "ganagerie.plugins.hinge (ganagerie" in msgs[0] and "ganagerie_clash" in msgs[0]
    assert loaded.registry.get("loss", "hinge").provenance.plugin == "ganagerie.plugins.hinge"
    assert isinstance(loaded.registry.create("loss", "ganagerie_clash:hinge"), WassersteinLoss)
    assert loaded.registry.get("loss", "ganagerie:hinge").provenance.plugin == "ganagerie.plugins.hinge"
    with pytest.raises(PluginError, match="hinge.*GANAGERIE_STRICT_PLUGINS"):
        load_plugins(extra=[_clash()], strict=True)


def test_strict_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("GANAGERIE_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError):
        load_plugins(extra=[_clash()])


def test_unknown_hook_and_failing_hook_warn_and_the_rest_loads():
    mod = types.ModuleType("ganagerie_typo")

    @hookimpl
    def register_lossess(register):
        register("never", Loss)

    @hookimpl
    def register_regularizers(register):
        register("early", Technique)
        raise RuntimeError("boom")

    mod.register_lossess = register_lossess
    mod.register_regularizers = register_regularizers
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_plugins(extra=[mod])
    msgs = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert any("unknown hook 'register_lossess'; did you mean 'register_losses'" in m for m in msgs)
    assert any("failed in register_regularizers: RuntimeError: boom" in m for m in msgs)
    assert "early" in loaded.registry.names("regularizer")
    assert "never" not in loaded.registry.names("loss")
    with pytest.raises(PluginError, match="register_lossess"):
        load_plugins(extra=[mod], strict=True)


def test_broken_plugin_warns_and_the_rest_loads(monkeypatch):
    real = importlib.metadata.entry_points

    def with_broken(group=None):
        broken = importlib.metadata.EntryPoint("broken", "ganagerie_missing_module", group)
        return [*real(group=group), broken]

    monkeypatch.setattr(importlib.metadata, "entry_points", with_broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_plugins()
    msgs = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(msgs) == 1 and "ganagerie_missing_module" in msgs[0]
    assert "hinge" in loaded.registry.names("loss")
    with pytest.raises(PluginError, match="ganagerie_missing_module"):
        load_plugins(strict=True)
