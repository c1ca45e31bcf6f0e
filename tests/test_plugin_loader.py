"""Plugins load through the `ganagerie` entry points, built-ins included."""

import importlib.metadata
import types
import warnings

import pytest

from ganagerie import hookimpl
from ganagerie.components import Loss
from ganagerie.errors import UsageError
from ganagerie.plugin_loader import PluginLoadWarning, load_plugins

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


def test_duplicate_from_a_plugin_is_an_error():
    mod = types.ModuleType("ganagerie_clash")

    @hookimpl
    def register_losses(register):
        register("hinge", Loss)

    mod.register_losses = register_losses
    with pytest.raises(UsageError, match="ganagerie.plugins.hinge.*ganagerie_clash"):
        load_plugins(extra=[mod])


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
    with pytest.raises(ModuleNotFoundError):
        load_plugins(strict=True)
