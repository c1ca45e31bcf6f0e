"""Plugin loading: every plugin, built-in or installed, comes from the `ganagerie` entry points."""

from __future__ import annotations

import functools
import importlib.metadata
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from . import hookspecs
from .errors import did_you_mean
from .plugin_imports import (
    PluginError,
    PluginLoadWarning,
    leaves_global_state,
    plugin_warning,
    strict_plugins,
)
from .registry import KINDS, Provenance, Registry

ENTRY_POINT_GROUP = "ganagerie"
#: an entry point that takes longer than this to import is named by ``ganagerie list`` and
#: ``ganagerie plugins``: every command waits for it
SLOW_IMPORT_S = 0.5


@dataclass
class LoadedPlugins:
    """The plugin manager, what each plugin provides, and the registry built from them."""

    manager: pluggy.PluginManager
    provenance: dict[str, Provenance] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    #: the plugins that registered at least one component (under their name or, lazily, another)
    registrars: set[str] = field(default_factory=set)
    #: how long each entry point took to import, in seconds, by its description
    import_s: dict[str, float] = field(default_factory=dict)

    def slow_imports(self, threshold: float = SLOW_IMPORT_S) -> list[str]:
        """One line for each entry point that took over ``threshold`` seconds to import."""
        return [f"plugin {who} takes {seconds:.1f} s to import, which every ganagerie command "
                "waits for; register its factories as \"module:attr\" (docs/plugins.md, "
                "\"Registering lazily\")" for who, seconds in self.import_s.items() if seconds > threshold]

    def describe(self) -> list[dict[str, Any]]:
        """The loaded plugins, their versions and what each provides (``ganagerie plugins``).

        A component registered as ``"module:attr"`` is that module's: a registration module
        that only points elsewhere is not listed itself.
        """
        plugins = {name: prov for name, prov in self.provenance.items() if name not in self.registrars}
        for entries in self.registry.qualified.values():
            plugins.update((e.provenance.plugin, e.provenance) for e in entries.values())
        out = []
        for name, prov in sorted(plugins.items()):
            provides = {
                KINDS[kind]: sorted(
                    e.name for e in entries.values() if e.provenance.plugin == name
                )
                for kind, entries in self.registry.qualified.items()
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

    Order: ganagerie's own plugins, then installed distributions by name, then ``extra``;
    where two register one name, the first keeps it. A plugin that fails to import or to
    register, registers a taken name, or implements an unknown hook costs one warning
    naming it; with ``strict`` (or ``GANAGERIE_STRICT_PLUGINS=1``) a PluginError instead.
    """
    if strict is None:
        strict = strict_plugins()
    pm = pluggy.PluginManager("ganagerie")
    pm.add_hookspecs(hookspecs)
    loaded = LoadedPlugins(manager=pm)
    warn = functools.partial(_warn, strict=strict)
    candidates: list[tuple[str, Provenance, Any]] = []
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key):
        prov = Provenance(ep.value, ep.dist.name if ep.dist else None,
                          ep.dist.version if ep.dist else None)
        started = time.perf_counter()
        try:
            with leaves_global_state(prov.describe(), strict):
                module = ep.load()
        except PluginError:
            raise
        except Exception as exc:  # a broken third-party plugin must not break the rest
            warn(f"plugin {prov.describe()} failed to load and was skipped: "
                 f"{type(exc).__name__}: {exc}")
            continue
        finally:
            loaded.import_s[prov.describe()] = time.perf_counter() - started
        candidates.append((ep.value, prov, module))
    for plugin in extra:
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        candidates.append((name, Provenance(name), plugin))
    for name, prov, plugin in candidates:
        if pm.is_registered(plugin) or pm.has_plugin(name):
            continue
        for hook in _unknown_hooks(pm, plugin):
            hint = did_you_mean(hook, _HOOKS) or ""
            warn(f"plugin {prov.describe()} implements unknown hook '{hook}';{hint} it is ignored")
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # a hook with the wrong signature
            warn(f"plugin {prov.describe()} cannot be registered and was skipped: {exc}")
            continue
        loaded.provenance[name] = prov
    _collect(loaded, warn)
    return loaded


_HOOKS = [point.hook for point in hookspecs.EXTENSION_POINTS]


def _unknown_hooks(pm: pluggy.PluginManager, plugin: Any) -> list[str]:
    return [attr for attr in dir(plugin)
            if not attr.startswith("_") and attr not in _HOOKS
            and pm.parse_hookimpl_opts(plugin, attr) is not None]


def _warn(message: str, strict: bool) -> None:
    plugin_warning(message, strict, stacklevel=4)


def _ep_key(ep: importlib.metadata.EntryPoint) -> tuple[bool, str, str]:
    dist = ep.dist.name if ep.dist else ""
    return (dist != "ganagerie", dist, ep.value)


def _collect(loaded: LoadedPlugins, warn: Callable[[str], None]) -> None:
    """Call each registration hook once per plugin, in load order, recording who registered what."""
    pm = loaded.manager
    order = list(loaded.provenance)
    for point in hookspecs.EXTENSION_POINTS:
        kind, plural = point.kind, point.plural
        caller = getattr(pm.hook, point.hook)
        for impl in sorted(caller.get_hookimpls(), key=lambda i: order.index(i.plugin_name)):
            prov = loaded.provenance[impl.plugin_name]

            def register(name, factory, help=None, _kind=kind, _prov=prov):
                loaded.registrars.add(_prov.plugin)
                clash = loaded.registry.add(_kind, name, factory, _prov, help=help)
                if clash:
                    warn(clash)

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:  # what it registered before failing stays
                warn(f"plugin {prov.describe()} failed in register_{plural}: "
                     f"{type(exc).__name__}: {exc}")


_loaded: LoadedPlugins | None = None


def get_plugins() -> LoadedPlugins:
    """The process-wide plugins, loaded on first use."""
    global _loaded
    if _loaded is None:
        _loaded = load_plugins()
    return _loaded


def get_registry() -> Registry:
    return get_plugins().registry


__all__ = ["LoadedPlugins", "PluginError", "PluginLoadWarning", "get_plugins", "get_registry",
           "load_plugins"]
