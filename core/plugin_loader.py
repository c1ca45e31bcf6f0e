"""Plugin loading: every plugin, built-in or installed, comes from the `ganagerie` entry points."""

from __future__ import annotations

import importlib.metadata
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .registry import KINDS, Provenance, Registry

ENTRY_POINT_GROUP = "ganagerie"


class PluginLoadWarning(UserWarning):
    """A plugin failed to load; the rest of ganagerie goes on without it."""


@dataclass
class LoadedPlugins:
    """The plugin manager, what each plugin provides, and the registry built from them."""

    manager: pluggy.PluginManager
    provenance: dict[str, Provenance] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    failed: dict[str, str] = field(default_factory=dict)

    def describe(self) -> list[dict[str, Any]]:
        """The loaded plugins, their versions and what each provides (``ganagerie plugins``)."""
        out = []
        for name, prov in sorted(self.provenance.items()):
            provides = {
                KINDS[kind]: sorted(
                    e.name for e in entries.values() if e.provenance.plugin == name
                )
                for kind, entries in self.registry.entries.items()
            }
            out.append(
                {
                    "name": name,
                    "distribution": prov.distribution,
                    "version": prov.version,
                    "provides": {k: v for k, v in provides.items() if v},
                }
            )
        return out


def load_plugins(extra: Iterable[Any] = (), strict: bool | None = None) -> LoadedPlugins:
    """Load every entry-point plugin plus ``extra`` plugin objects, and build the registry.

    A plugin that fails to import gives one warning naming it and its version and is
    skipped; with ``strict`` (or ``GANAGERIE_STRICT_PLUGINS=1``) it raises instead.
    """
    if strict is None:
        strict = os.environ.get("GANAGERIE_STRICT_PLUGINS", "") not in ("", "0")
    pm = pluggy.PluginManager("ganagerie")
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(manager=pm)
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key):
        dist = ep.dist.name if ep.dist else None
        version = ep.dist.version if ep.dist else None
        try:
            module = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break the rest
            if strict:
                raise
            loaded.failed[ep.value] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"plugin {ep.value} from {dist} {version} failed to load and was skipped: "
                f"{type(exc).__name__}: {exc}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        if pm.is_registered(module):
            continue
        pm.register(module, name=ep.value)
        loaded.provenance[ep.value] = Provenance(ep.value, dist, version)
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        pm.register(plugin, name=name)
        loaded.provenance[name] = Provenance(name)
    _collect(loaded)
    return loaded


def _ep_key(ep: importlib.metadata.EntryPoint) -> tuple[str, str]:
    return (ep.dist.name if ep.dist else "", ep.value)


def _collect(loaded: LoadedPlugins) -> None:
    """Call each registration hook once per plugin, recording who registered what."""
    pm = loaded.manager
    for kind, plural in KINDS.items():
        caller = getattr(pm.hook, f"register_{plural}")
        for impl in caller.get_hookimpls():
            prov = loaded.provenance[impl.plugin_name]

            def register(name, factory, help=None, _kind=kind, _prov=prov):
                loaded.registry.add(_kind, name, factory, _prov, help=help)

            impl.function(register=register)


_loaded: LoadedPlugins | None = None


def get_plugins() -> LoadedPlugins:
    """The process-wide plugins, loaded on first use."""
    global _loaded
    if _loaded is None:
        _loaded = load_plugins()
    return _loaded


def get_registry() -> Registry:
    return get_plugins().registry


__all__ = ["LoadedPlugins", "PluginLoadWarning", "get_plugins", "get_registry", "load_plugins"]
