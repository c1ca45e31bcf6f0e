"""Named component factories, each with the plugin (and distribution) that provided it."""

from __future__ import annotations

import importlib
import inspect
import re
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import FaultError, PluginFault, UsageError, did_you_mean
from .hookspecs import EXTENSION_POINTS
from .plugin_imports import declared_options, leaves_global_state
from .values import coerce_like, parse_assignments

#: every kind and its plural, as ``ganagerie.hookspecs.EXTENSION_POINTS`` lists them
KINDS = {point.kind: point.plural for point in EXTENSION_POINTS}


@dataclass(frozen=True)
class Provenance:
    """Which plugin code provided a component."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        if self.distribution:
            return f"{self.plugin} ({self.distribution} {self.version})"
        return self.plugin

    @property
    def qualifier(self) -> str:
        """What goes before ``:`` in a qualified name: the distribution, else the plugin."""
        return self.distribution or self.plugin


#: a factory registered lazily: ``"package.module:attr"``, imported on first use
LAZY_FACTORY = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass(frozen=True)
class Entry:
    """A registered component. ``target`` is its factory, or ``"module:attr"`` that ``factory``
    imports on first use, so that listing components imports none of them."""

    kind: str
    name: str
    target: Callable[..., Any] | str
    help: str
    provenance: Provenance

    @property
    def qualified_name(self) -> str:
        return f"{self.provenance.qualifier}:{self.name}"

    @property
    def factory(self) -> Callable[..., Any]:
        """The factory, imported now where it was registered as ``"module:attr"``."""
        if isinstance(self.target, str):
            object.__setattr__(self, "target", _import_factory(self.target, self))
        return self.target

    def options(self) -> dict[str, Any]:
        """The factory's keyword options and their defaults (``inspect.Parameter.empty`` if none).

        A factory not imported yet is read from its source where its signature holds only
        literals (``ganagerie list --json`` then imports no torch); else it is imported.
        """
        if isinstance(self.target, str):
            declared = declared_options(self.target)
            if declared is not None:
                return dict(declared)
        params = inspect.signature(self.factory).parameters.values()
        return {
            p.name: p.default
            for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "qualified_name": self.qualified_name,
            "help": self.help,
            "plugin": self.provenance.plugin,
            "distribution": self.provenance.distribution,
            "version": self.provenance.version,
            "options": {
                k: (None if v is inspect.Parameter.empty else v) for k, v in self.options().items()
            },
        }


def _is_core(module: str) -> bool:
    """Whether ``module`` is ganagerie's own code, which is never a plugin's fault."""
    return (module == "ganagerie" or module.startswith("ganagerie.")) and not (
        module.startswith("ganagerie.plugins.") or module == "ganagerie.plugins")


def _import_factory(target: str, entry: Entry) -> Callable[..., Any]:
    """Import ``"module:attr"``; a UsageError naming the component and its plugin otherwise."""
    module, _, attr = target.partition(":")
    try:
        with leaves_global_state(entry.provenance.describe()):
            found: Any = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except UsageError:  # the global state it changed, under GANAGERIE_STRICT_PLUGINS
        raise
    except Exception as exc:  # any failure of a plugin's import is that plugin's, said in one line
        raise UsageError(f"{entry.kind} '{entry.name}' of {entry.provenance.describe()} cannot be "
                         f"imported from '{target}': {type(exc).__name__}: {exc}") from None
    if not callable(found):
        raise UsageError(f"{entry.kind} '{entry.name}' of {entry.provenance.describe()}: "
                         f"'{target}' is not callable")
    return found


@dataclass
class Registry:
    """All registered components, by kind and name.

    The first registration of a name keeps the plain name; every entry is also reachable
    by its qualified name ``QUALIFIER:NAME`` (distribution, else plugin), so a clash
    between two plugins costs a warning (``add`` returns it), never a component.
    """

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    qualified: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        provenance: Provenance,
        help: str | None = None,
    ) -> str | None:
        """Record a component; returns a warning when the plain name was already taken.

        ``factory`` may be ``"module:attr"``, imported on first use: the entry is then listed
        under that module, the plugin whose code it is. Without ``help`` it is imported now, for
        its docstring. A bad name or factory is a ValueError naming the plugin.
        """
        if not isinstance(name, str) or not name or any(c in name for c in ":,= "):
            raise ValueError(f"{provenance.plugin} registered a {kind} with a bad name {name!r}")
        if isinstance(factory, str):
            if not LAZY_FACTORY.fullmatch(factory):
                raise ValueError(f"{provenance.plugin} registered {kind} '{name}' as {factory!r}; "
                                 "write 'package.module:attr' or pass the factory itself")
            provenance = replace(provenance, plugin=factory.partition(":")[0])
            if help is None:
                factory = _import_factory(factory, Entry(kind, name, factory, "", provenance))
        elif not callable(factory):
            raise ValueError(f"{provenance.plugin} registered {kind} '{name}' with a non-callable")
        if help is None:
            doc = inspect.getdoc(factory) or ""
            help = doc.splitlines()[0] if doc else ""
        entry = Entry(kind, name, factory, str(help), provenance)
        if entry.qualified_name in self.qualified[kind]:
            raise ValueError(f"{provenance.describe()} registered {kind} '{name}' twice")
        self.qualified[kind][entry.qualified_name] = entry
        existing = self.entries[kind].get(name)
        if existing is None:
            self.entries[kind][name] = entry
            return None
        return (f"{kind} '{name}' is registered by {existing.provenance.describe()} and by "
                f"{provenance.describe()}; '{name}' means the first, "
                f"'{entry.qualified_name}' the second")

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str, within: str | None = None) -> Entry:
        """The entry by plain or qualified name.

        ``within`` is the qualifier of the distribution (or plugin) whose preset or suite names
        the component: there a plain name means that distribution's own component first, then
        the global one, so a plugin's preset trains what its author wrote beside it.
        """
        found = None
        if within and ":" not in name:
            found = self.qualified[kind].get(f"{within}:{name}")
        found = found or self.entries[kind].get(name) or self.qualified[kind].get(name)
        if found is None:
            hint = did_you_mean(name, self.entries[kind]) or did_you_mean(name, self.qualified[kind])
            hint = f";{hint}" if hint else ""
            raise UsageError(f"unknown {kind} '{name}'{hint} (ganagerie list {KINDS[kind]})")
        return found

    def canonical(self, kind: str, name: str, within: str | None = None) -> str:
        """The one spelling of a component that configs, log keys and result keys use: its plain
        name where that name means it, else its qualified name. Every spelling of one component
        (``dragan``, ``ganagerie-extra:dragan``) gives the same string."""
        entry = self.get(kind, name, within)
        return entry.name if self.entries[kind].get(entry.name) is entry else entry.qualified_name

    def create(self, kind: str, name: str, options: Mapping[str, Any] | None = None) -> Any:
        """Build a component, checking and converting the options against its factory."""
        entry = self.get(kind, name)
        options = self.check_options(entry, options or {})
        try:
            return entry.factory(**options)
        except ValueError as exc:  # components reject bad option values with ValueError
            raise UsageError(f"{kind} '{name}': {exc}") from None
        except Exception as exc:  # anything else the factory raised is its plugin's fault
            fault = self.blame(exc, [(kind, name)])
            if fault is None:
                raise
            raise fault from exc

    def fault(self, kind: str, name: str, what: str) -> PluginFault:
        """A PluginFault of component ``name`` that names the plugin providing it."""
        try:
            provider = self.get(kind, name).provenance.describe()
        except UsageError:
            provider = "an unknown plugin"
        return PluginFault(kind, name, what, plugin=provider)

    def blame(self, exc: BaseException, parts: Iterable[tuple[str, str]]) -> PluginFault | None:
        """The plugin fault ``exc`` is, naming the component and the plugin that provides it:
        a PluginFault raised where a returned value was checked, or an exception raised in the
        code of one of ``parts`` (a run's components by kind and name: the innermost frame of
        the traceback that is theirs). None for everything else: the user's input, the
        machine's faults (disk, memory) and ganagerie's own code."""
        if isinstance(exc, PluginFault):
            return exc if exc.plugin else self.fault(exc.kind, exc.name, exc.what)
        if (not isinstance(exc, Exception) or isinstance(exc, (UsageError, FaultError, OSError, MemoryError))
                or type(exc).__name__ == "OutOfMemoryError"):  # torch's, a RuntimeError
            return None
        owners: dict[str, tuple[str, str]] = {}
        for kind, name in parts:
            try:
                entry = self.get(kind, name)
            except UsageError:
                continue
            target = entry.target
            for module in (target.partition(":")[0] if isinstance(target, str)
                           else getattr(target, "__module__", None), entry.provenance.plugin):
                if module and not _is_core(module):
                    owners.setdefault(module, (kind, name))
        frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
        for frame in reversed(frames):  # the innermost first
            module = frame.f_globals.get("__name__") or ""
            owner = next((o for m, o in owners.items() if module == m or module.startswith(m + ".")), None)
            if owner is not None:
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                return self.fault(*owner, f"raised {type(exc).__name__}: {first} (in "
                                          f"{frame.f_code.co_name}, {module})")
        return None

    def check_options(self, entry: Entry, options: Mapping[str, Any]) -> dict[str, Any]:
        known = entry.options()
        out = {}
        for key, value in options.items():
            if key not in known:
                hint = did_you_mean(key, known)
                hint = f";{hint}" if hint else ""
                listed = ", ".join(known) or "none"
                raise UsageError(
                    f"unknown option '{key}' for {entry.kind} '{entry.name}'{hint} "
                    f"(its options: {listed})"
                )
            default = known[key]
            try:
                out[key] = coerce_like(value, default)
            except ValueError as exc:
                raise UsageError(f"{entry.kind} '{entry.name}' option {key}: {exc}") from None
        return out


#: a component's name, plain or qualified (``DISTRIBUTION:NAME``): names become parts of
#: run-directory names, so no path separator, NUL or leading dot gets through
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*(:[A-Za-z0-9][A-Za-z0-9._+-]*)?$")
MAX_NAME = 200


def check_name(name: str, what: str) -> str:
    """``name`` if it can name a component; else one line saying what a name may hold."""
    if not (isinstance(name, str) and len(name) <= MAX_NAME and NAME.match(name)):
        shown = repr(name)[:80] + ("..." if len(repr(name)) > 80 else "")
        raise UsageError(f"bad {what} name {shown}: a name is letters, digits and . _ + - "
                         f"(DISTRIBUTION:NAME when qualified), at most {MAX_NAME} characters")
    return name


@dataclass
class ComponentSpec:
    """A component by registered name (plain or qualified), with its options.

    Written as ``NAME``, ``NAME:key=value,...``, ``QUALIFIER:NAME[:key=value,...]`` or
    ``{"name": ..., "options": {...}}``.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | ComponentSpec, what: str) -> ComponentSpec:
        if isinstance(spec, ComponentSpec):
            return cls(spec.name, dict(spec.options))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "options"}
            options = spec.get("options") or {}
            if ("name" not in spec or unknown or not isinstance(spec["name"], str)
                    or not isinstance(options, Mapping)):
                raise UsageError(f"bad {what} {dict(spec)!r}; write {{'name': ..., 'options': {{}}}}")
            return cls(check_name(spec["name"], what), dict(options))
        if not isinstance(spec, str) or not spec.strip():
            raise UsageError(f"bad {what} {spec!r}; write NAME or NAME:key=value,...")
        name, opts = spec, ""
        head, sep, tail = spec.rpartition(":")
        if sep and ("=" in tail or not tail.strip()):
            name, opts = head, tail
        return cls(check_name(name.strip(), what), parse_assignments(opts, f"{what} '{spec}'"))
