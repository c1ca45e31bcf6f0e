"""Plugins load through the `ganagerie` entry points, built-ins included."""

import importlib.metadata
import os
import sys
import types
import warnings

import pytest
import torch

from ganagerie import hookimpl
from ganagerie.components import Loss, Technique
from ganagerie.errors import UsageError
from ganagerie.plugin_loader import PluginError, PluginLoadWarning, load_plugins
from ganagerie.plugins.wasserstein import WassersteinLoss
from ganagerie.testing import check_component

TECHNIQUES = {
    ("loss", "non-saturating"): "ganagerie.plugins.minimax",
    ("loss", "wasserstein"): "ganagerie.plugins.wasserstein",
    ("regularizer", "gradient-penalty"): "ganagerie.plugins.gradient_penalty",
    ("regularizer", "feature-matching"): "ganagerie.plugins.feature_matching",
    ("regularizer", "spectral-norm"): "ganagerie.plugins.spectral_norm",
}


def test_built_ins_come_from_the_entry_point_group():
    eps = {ep.value for ep in importlib.metadata.entry_points(group="ganagerie")}
    loaded = load_plugins()
    assert "ganagerie.plugins.catalog" in loaded.registrars and loaded.registrars <= eps
    for (kind, name), plugin in TECHNIQUES.items():
        entry = loaded.registry.get(kind, name)
        assert entry.provenance.plugin == plugin  # the module its factory lives in
        assert entry.provenance.distribution == "ganagerie"


class Doubling(Loss):
    def d_loss(self, r, f):
        return 2 * (f.mean() - r.mean())

    def g_loss(self, f):
        return -2 * f.mean()


def _third_party():
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


def _lazy(monkeypatch, name="doubling", factory="ganagerie_lazy_losses:Doubling"):
    """A plugin whose registration module names its loss as "module:attr", in another module."""
    losses = types.ModuleType("ganagerie_lazy_losses")
    losses.Doubling = Doubling
    monkeypatch.setitem(sys.modules, losses.__name__, losses)
    mod = types.ModuleType("ganagerie_lazy")

    @hookimpl
    def register_losses(register):
        register(name, factory, help="Twice the Wasserstein loss.")

    mod.register_losses = register_losses
    return mod


def test_built_ins_register_lazily_and_build_on_first_use():
    registry = load_plugins().registry
    built_in = [e for entries in registry.qualified.values() for e in entries.values()
                if e.provenance.distribution == "ganagerie"]
    assert built_in and all(isinstance(e.target, str) for e in built_in)
    assert isinstance(registry.create("loss", "wasserstein"), WassersteinLoss)
    assert registry.get("loss", "wasserstein").factory is WassersteinLoss


def test_a_lazy_plugin_is_listed_under_its_factories_module_and_trains(monkeypatch):
    loaded = load_plugins(extra=[_lazy(monkeypatch)], strict=True)
    entry = loaded.registry.get("loss", "doubling")
    assert entry.provenance.plugin == "ganagerie_lazy_losses" and isinstance(entry.target, str)
    described = {p["name"]: p["provides"] for p in loaded.describe()}
    assert described["ganagerie_lazy_losses"] == {"losses": ["doubling"]}
    assert "ganagerie_lazy" not in described  # a module that only points elsewhere provides nothing
    assert "trains a few steps" in " ".join(
        check_component("loss", "doubling", registry=loaded.registry).passed)


def test_a_lazy_factory_that_does_not_import_is_one_usage_error_naming_the_plugin(monkeypatch):
    loaded = load_plugins(extra=[_lazy(monkeypatch, factory="ganagerie_lazy_losses:Dubling")], strict=True)
    with pytest.raises(UsageError) as exc:
        loaded.registry.create("loss", "doubling")
    assert str(exc.value).startswith("loss 'doubling' of ganagerie_lazy_losses cannot be imported "
                                     "from 'ganagerie_lazy_losses:Dubling': AttributeError: ")
    assert "\n" not in str(exc.value)


def test_a_lazy_factory_clashing_with_a_built_in_keeps_the_clash_rules(monkeypatch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = load_plugins(extra=[_lazy(monkeypatch, name="hinge")])
    msgs = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert len(msgs) == 1
    assert "ganagerie.plugins.hinge (ganagerie" in msgs[0] and "ganagerie_lazy_losses" in msgs[0]
    assert loaded.registry.get("loss", "hinge").provenance.plugin == "ganagerie.plugins.hinge"
    assert isinstance(loaded.registry.create("loss", "ganagerie_lazy_losses:hinge"), Doubling)
    with pytest.raises(PluginError, match="hinge.*GANAGERIE_STRICT_PLUGINS"):
        load_plugins(extra=[_lazy(monkeypatch, name="hinge")], strict=True)


RUDE = '''
import os
import time

import torch

from ganagerie import hookimpl
from ganagerie.components import Loss

torch.set_default_dtype(torch.float64)
torch.rand(3)
os.environ["OMP_NUM_THREADS"] = "64"
os.environ["GANAGERIE_NO_LIMITS"] = "1"
time.sleep(float(os.environ.get("RUDE_SLEEP", "0")))


class Rude(Loss):
    def d_loss(self, real_out, fake_out):
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()


@hookimpl
def register_losses(register):
    register("rude", Rude, "A loss whose module changes global state when imported.")
'''


@pytest.fixture
def rude(tmp_path, monkeypatch):
    """A plugin module, written here, that changes global state when imported."""
    (tmp_path / "ganagerie_rude.py").write_text(RUDE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "ganagerie_rude", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("GANAGERIE_NO_LIMITS", raising=False)
    yield "ganagerie_rude"
    sys.modules.pop("ganagerie_rude", None)
    torch.set_default_dtype(torch.float32)  # should the check have failed


def _state():
    return (torch.get_default_dtype(), torch.get_rng_state(), os.environ.get("OMP_NUM_THREADS"),
            os.environ.get("GANAGERIE_NO_LIMITS"))


def _same(a, b):
    return a[0] == b[0] and torch.equal(a[1], b[1]) and a[2:] == b[2:]


def test_global_state_a_lazy_factory_changes_at_import_is_put_back_with_a_warning(rude, monkeypatch):
    loaded = load_plugins(extra=[_lazy(monkeypatch, factory=f"{rude}:Rude")], strict=False)
    before = _state()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loss = loaded.registry.create("loss", "doubling")
    assert type(loss).__name__ == "Rude" and _same(_state(), before)
    (msg,) = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert msg.startswith(f"plugin {rude} changed ") and "\n" not in msg
    for what in ("GANAGERIE_NO_LIMITS (unset -> '1')", "OMP_NUM_THREADS (unset -> '64')",
                 "torch's default dtype (torch.float32 -> torch.float64)", "torch's global RNG state"):
        assert what in msg, msg


def test_under_strict_plugins_a_change_of_global_state_is_an_error(rude, monkeypatch):
    loaded = load_plugins(extra=[_lazy(monkeypatch, factory=f"{rude}:Rude")], strict=True)
    monkeypatch.setenv("GANAGERIE_STRICT_PLUGINS", "1")
    before = _state()
    with pytest.raises(PluginError, match=f"plugin {rude} changed .*default dtype"):
        loaded.registry.create("loss", "doubling")
    assert _same(_state(), before)


def _with_entry_point(monkeypatch, module):
    real = importlib.metadata.entry_points

    def with_rude(group=None):
        return [*real(group=group), importlib.metadata.EntryPoint("rude", module, group)]

    monkeypatch.setattr(importlib.metadata, "entry_points", with_rude)


def test_an_entry_point_that_changes_global_state_or_is_slow_is_named(rude, monkeypatch, cli):
    from ganagerie import plugin_loader

    _with_entry_point(monkeypatch, rude)
    monkeypatch.setenv("RUDE_SLEEP", "0.6")
    monkeypatch.setattr(plugin_loader, "_loaded", None)  # the CLI loads the plugins afresh
    before = _state()
    code, out, err = cli("list", "losses")
    assert code == 0 and "rude" in out and _same(_state(), before)
    lines = err.splitlines()
    assert any(line.startswith(f"warning: plugin {rude} changed ") and "default dtype" in line
               for line in lines), err
    assert any(line.startswith(f"note: plugin {rude} takes ") and "to import" in line for line in lines), err
    monkeypatch.setattr(plugin_loader, "_loaded", None)
    code, out, err = cli("plugins")  # imported now: fast, and nothing to put back
    assert code == 0 and "note:" not in err and "warning:" not in err
    monkeypatch.setattr(plugin_loader, "_loaded", None)
