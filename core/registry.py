"""Named component factories, each with the plugin (and distribution) that provided it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError, did_you_mean
from .values import coerce_like

KINDS = {
    "loss": "losses",
    "regularizer": "regularizers",
    "architecture": "architectures",
    "dataset": "datasets",
    "variant": "variants",
    "metric": "metrics",
}


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


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    factory: Callable[..., Any]
    help: str
    provenance: Provenance

    def options(self) -> dict[str, Any]:
        """The factory's keyword options and their defaults (``inspect.Parameter.empty`` if none)."""
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
            "help": self.help,
            "plugin": self.provenance.plugin,
            "distribution": self.provenance.distribution,
            "version": self.provenance.version,
            "options": {
                k: (None if v is inspect.Parameter.empty else v) for k, v in self.options().items()
            },
        }


@dataclass
class Registry:
    """All registered components, by kind and name."""

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(
        self,
        kind: str,
        name: str,
        factory: Callable[..., Any],
        provenance: Provenance,
        help: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or ":" in name or "," in name:
            raise ValueError(f"{provenance.plugin} registered a {kind} with a bad name {name!r}")
        if not callable(factory):
            raise ValueError(f"{provenance.plugin} registered {kind} '{name}' with a non-callable")
        existing = self.entries[kind].get(name)
        if existing is not None:
            raise UsageError(
                f"{kind} '{name}' is registered twice: by {existing.provenance.describe()} "
                f"and by {provenance.describe()}; uninstall one of them"
            )
        if help is None:
            doc = inspect.getdoc(factory) or ""
            help = doc.splitlines()[0] if doc else ""
        self.entries[kind][name] = Entry(kind, name, factory, help, provenance)

    def names(self, kind: str) -> list[str]:
        return sorted(self.entries[kind])

    def get(self, kind: str, name: str) -> Entry:
        try:
            return self.entries[kind][name]
        except KeyError:
            hint = did_you_mean(name, self.entries[kind])
            hint = f";{hint}" if hint else ""
            raise UsageError(f"unknown {kind} '{name}'{hint} (ganagerie list {KINDS[kind]})") from None

    def create(self, kind: str, name: str, options: Mapping[str, Any] | None = None) -> Any:
        """Build a component, checking and converting the options against its factory."""
        entry = self.get(kind, name)
        options = self.check_options(entry, options or {})
        try:
            return entry.factory(**options)
        except ValueError as exc:  # components reject bad option values with ValueError
            raise UsageError(f"{kind} '{name}': {exc}") from None

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
