"""A run's experiment trackers (``--track NAME``): fed what the run writes, never able to stop it."""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..components import Tracker
from ..registry import ComponentSpec, Registry
from ..values import parse_assignments


class TrackerWarning(UserWarning):
    """A tracker failed to start or to write and was dropped; the run went on without it."""


class Tracking:
    """The trackers of one run. Each call goes to every tracker still live; one that raises
    costs one ``TrackerWarning`` naming it and is dropped, and the run goes on unchanged."""

    def __init__(self, trackers: Sequence[tuple[str, Tracker]] = ()):
        self.live = list(trackers)
        self.started = False

    @classmethod
    def build(cls, specs: Sequence[str | Mapping[str, Any]], registry: Registry) -> Tracking:
        """Trackers from ``--track`` specs (``NAME[:key=value,...]``); a bad name or option is a
        UsageError, before anything runs."""
        trackers = []
        for spec in specs:
            parsed = _parse(spec)
            name = registry.canonical("tracker", parsed.name)
            trackers.append((name, registry.create("tracker", parsed.name, parsed.options)))
        return cls(trackers)

    def start(self, run_dir: Path, config: Mapping[str, Any], resume_step: int | None) -> None:
        self.started = True
        self._each("start", Path(run_dir).resolve(), config, resume_step)

    def log_row(self, row: Mapping[str, Any]) -> None:
        """A metrics.jsonl row (a log window's or an evaluation's), at its ``step``."""
        if self.live:
            values = dict(_numbers(row))
            values.pop("step", None)
            self._each("log_scalars", int(row["step"]), values)

    def log_image(self, step: int, name: str, path: Path) -> None:
        self._each("log_image", step, name, Path(path))

    def finish(self, status: str) -> None:
        """How the run ended; the trackers are done after it (a second call does nothing)."""
        if self.started:
            self._each("finish", status)
        self.live = []

    def _each(self, method: str, *args: Any) -> None:
        for entry in list(self.live):
            name, tracker = entry
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker never stops the run
                self.live.remove(entry)
                first = (str(exc).strip().splitlines() or [""])[0][:300]
                # warn_explicit with no source line: one line wherever it is shown
                warnings.warn_explicit(
                    f"tracker '{name}' failed in {method} and is dropped; the run goes on "
                    f"without it ({type(exc).__name__}: {first})", TrackerWarning, "ganagerie", 0)


def _parse(spec: str | Mapping[str, Any]) -> ComponentSpec:
    """``NAME[:key=value,...]`` where a value may hold ``:`` (``tracking_uri=http://host:5000``):
    the options start at the first ``:`` followed by ``key=``."""
    found = re.search(r":(?=\s*[A-Za-z_]\w*\s*=)", spec) if isinstance(spec, str) else None
    if found is None:
        return ComponentSpec.parse(spec, "tracker")
    name, options = spec[:found.start()], spec[found.end():]
    return ComponentSpec(ComponentSpec.parse(name, "tracker").name,
                         parse_assignments(options, f"tracker '{spec}'"))


def _numbers(row: Mapping[str, Any], prefix: str = ""):
    """``(key, float)`` for every finite number of ``row``, nested keys joined by ``/``."""
    for key, value in row.items():
        if isinstance(value, Mapping):
            yield from _numbers(value, f"{prefix}{key}/")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            yield f"{prefix}{key}", float(value)
