"""A suite's ``[search]`` section: the space each variant is tuned over, on an equal budget.

Lucic et al. (2018), "Are GANs Created Equal? A Large-Scale Study" (NeurIPS), compare GANs
only after giving each the same number of hyperparameter settings, drawn at random from
wide ranges, and then re-run the best setting of each with new seeds. A suite says the
same thing in TOML::

    [search]
    budget = 20            # settings tried per variant and dataset
    metric = "modes"       # the metric value each setting is scored by (its final evaluation)
    sampler = "random"     # random (the default, what the paper's budget curves assume), tpe, qmc
    rerun_seeds = 8        # the best setting of each variant is re-run with 8 new seeds
    seed = 3               # the sampler's seed (absent: derived from the suite's name)
    wave = 1               # tpe only: settings asked at once per variant and dataset

    [search.space]
    "*" = ["lr", "beta1"]  # every variant: Lucic et al.'s ranges
    wgan-gp = { n_critic = "default", reg.gradient-penalty.weight = { log = [0.1, 100] } }
    [search.space.lsgan]
    lr = { log = [1e-4, 1e-2] }

A field is any key ``[set]`` and ``--set`` accept (``lr_g``, ``n_critic``,
``arch.g_width``, ``reg.NAME.OPTION``), or ``lr`` / ``beta1``: one value for both
networks' learning rate / Adam beta1 (beta2 kept). A range is ``{ log = [low, high] }``
(log-uniform), ``{ uniform = [low, high] }``, ``{ int = [low, high] }`` (both ends
included) or ``{ choice = [a, b, ...] }``; float ranges are half-open, ``[low, high)``,
as uniform sampling draws them. ``"default"`` (or a plain list of fields) takes Lucic et
al.'s range where the field is theirs: learning rate log-uniform [1e-5, 1e-2], beta1
uniform [0, 1), discriminator steps ``n_critic`` 1..5; an option of a component takes the
range its component declares (a ``search_ranges`` attribute, ``{option: {log = [a, b]}}``,
as a metric declares ``higher_is_better``): Lucic et al.'s gradient-penalty weight
log-uniform [0.1, 100] and clipping bound log-uniform [1e-3, 1] belong there.

Trial ``n`` of a variant trains with seed ``n``; the re-runs use seeds ``budget`` to
``budget + rerun_seeds - 1``, which no trial used. This module parses and checks; it
imports neither torch nor Optuna (``ganagerie bench list`` reads it).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import UsageError, did_you_mean

SAMPLERS = ("random", "tpe", "qmc")
RANGE_KINDS = ("log", "uniform", "int", "choice")
LUCIC = "Lucic et al. 2018"
DEFAULT = "default"
#: every variant's space, in ``[search.space]``
EVERY = "*"
#: the most settings one variant may be given on one dataset (GANAGERIE_NO_LIMITS does not lift it:
#: a study of more is many studies)
MAX_BUDGET = 10_000

_KEYS = {"budget", "metric", "sampler", "rerun_seeds", "seed", "wave", "space"}
#: one sampled value for both networks: the fields each sets
TIED = {"lr": ("lr_g", "lr_d"), "beta1": ("betas_g", "betas_d")}
#: fields a search keeps equal for every setting: the budget is the number of settings only
#: where each trains as long, and is scored as, the others
FIXED = {"seed", "steps", "eval_every", "eval_samples", "eval_metrics", "device", "threads",
         "compile", "precision", "log_every", "diag_every", "checkpoint_every", "sample_every",
         "n_preview", "dataset", "variant"}
_TRIAL = re.compile(r"^(?P<variant>.+)\.trial-(?P<n>[0-9]+)$")


@dataclass(frozen=True)
class Range:
    """Where one field is searched: ``kind`` log, uniform, int or choice; ``source`` says who
    chose it (the suite, Lucic et al. 2018, or a component's declaration)."""

    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple[Any, ...] = ()
    source: str = "suite"

    def as_json(self) -> dict[str, Any]:
        bounds = list(self.choices) if self.kind == "choice" else [self.low, self.high]
        return {self.kind: bounds, "source": self.source}

    def describe(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(json.dumps(c) for c in self.choices)
        if self.kind == "int":
            return f"integer {self.low}..{self.high}"
        name = "log-uniform" if self.kind == "log" else "uniform"
        return f"{name} [{self.low:g}, {self.high:g})"

    def from_unit(self, u: float) -> Any:
        """The value at ``u`` in [0, 1) of the range's uniform measure (a QMC point's coordinate)."""
        if self.kind == "choice":
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.kind == "int":
            return min(int(self.low + math.floor(u * (self.high - self.low + 1))), int(self.high))
        if self.kind == "log":
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return self.applied(value)

    def applied(self, value: Any) -> Any:
        """The value a run trains with: a float range is half-open, so its high end (which a
        sampler can return only by rounding) is moved just below it."""
        if self.kind in ("log", "uniform"):
            return min(max(float(value), float(self.low)), math.nextafter(float(self.high), -math.inf))
        return value

    def probes(self) -> list[Any]:
        """The values a check resolves: both ends, or every choice."""
        if self.kind == "choice":
            return list(self.choices)
        return [self.applied(self.low), self.applied(self.high)]


@dataclass(frozen=True)
class Search:
    """A suite's parsed ``[search]``. ``spaces``: variant label -> field -> Range, or None
    where the field takes the range its component declares (known once plugins load)."""

    budget: int
    metric: str
    sampler: str
    rerun_seeds: int
    seed: int
    wave: int
    spaces: dict[str, dict[str, Range | None]] = field(default_factory=dict)

    @property
    def trial_seeds(self) -> tuple[int, ...]:
        """Trial n trains with seed n."""
        return tuple(range(self.budget))

    @property
    def new_seeds(self) -> tuple[int, ...]:
        """The re-runs' seeds: none of them trained a trial."""
        return tuple(range(self.budget, self.budget + self.rerun_seeds))

    def as_json(self, spaces: Mapping[str, Mapping[str, Range]] | None = None) -> dict[str, Any]:
        """The search as ``bench.json`` records it, with ``spaces`` resolved where given."""
        chosen = spaces if spaces is not None else self.spaces
        return {"budget": self.budget, "metric": self.metric, "sampler": self.sampler,
                "rerun_seeds": self.rerun_seeds, "seed": self.seed, "wave": self.wave,
                "spaces": {v: {f: (r.as_json() if r is not None else DEFAULT) for f, r in s.items()}
                           for v, s in chosen.items()}}


def trial_label(variant: str, number: int) -> str:
    """The label of trial ``number`` of ``variant``'s search: it names its run directory."""
    return f"{variant}.trial-{number}"


def trial_of(label: str) -> tuple[str, int] | None:
    """``(variant, number)`` of a trial's label, None for any other label."""
    found = _TRIAL.match(label)
    return (found["variant"], int(found["n"])) if found else None


def derived_seed(*parts: Any) -> int:
    """A 32-bit seed from ``parts`` (SHA-256 of their text): the same parts, the same seed."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


# -- parsing ---------------------------------------------------------------------------------


def parse_search(table: Any, origin: str, suite_name: str, variants: list[str]) -> Search:
    """The ``[search]`` table of a suite, checked; every error is one line naming its field."""
    where = f"{origin}: search"
    if not isinstance(table, dict):
        raise UsageError(f"{where} must be a table ([search]) with budget, metric and space")
    for key in table:
        if key not in _KEYS:
            hint = did_you_mean(key, _KEYS) or ""
            raise UsageError(f"{where}: unknown key '{key}';{hint} allowed: {', '.join(sorted(_KEYS))}")
    for key in ("budget", "metric", "space"):
        if key not in table:
            raise UsageError(f"{where} needs '{key}' (the settings per variant, the metric value "
                             "they are scored by, and the space to draw them from)")
    budget = _count(table["budget"], f"{where}.budget", 1, MAX_BUDGET)
    metric = table["metric"]
    if not isinstance(metric, str) or not metric.strip():
        raise UsageError(f"{where}.metric must be a metric value's name, e.g. \"modes\"")
    sampler = table.get("sampler", "random")
    if sampler not in SAMPLERS:
        raise UsageError(f"{where}.sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    if "wave" in table and sampler != "tpe":
        raise UsageError(f"{where}.wave applies to the tpe sampler only (random and qmc settings "
                         "never depend on earlier scores); drop it")
    seed = table.get("seed", derived_seed("ganagerie search", suite_name))
    return Search(
        budget=budget,
        metric=metric,
        sampler=sampler,
        rerun_seeds=_count(table.get("rerun_seeds", 5), f"{where}.rerun_seeds", 1, 10_000),
        seed=_count(seed, f"{where}.seed", 0, 2**32 - 1),
        wave=_count(table.get("wave", 1), f"{where}.wave", 1, MAX_BUDGET),
        spaces=_spaces(table["space"], where, variants),
    )


def _count(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{where} must be an integer from {low} to {high:,}, got {value!r}")
    return value


def _spaces(table: Any, where: str, variants: list[str]) -> dict[str, dict[str, Range | None]]:
    if not isinstance(table, dict):
        raise UsageError(f"{where}.space must be a table of variant labels, e.g. "
                         "[search.space] vanilla = [\"lr\", \"beta1\"]")
    for label in table:
        if label != EVERY and label not in variants:
            hint = did_you_mean(label, variants) or ""
            raise UsageError(f"{where}.space.{label}: no variant is labelled '{label}';{hint} the "
                             f"suite's are {', '.join(variants)} (\"*\": every variant)")
    shared = _space(table.get(EVERY, {}), f"{where}.space.\"*\"")
    spaces = {}
    for label in variants:
        own = _space(table.get(label, {}), f"{where}.space.{label}")
        space = {**shared, **own}
        if not space:
            raise UsageError(f"{where}.space.{label}: variant '{label}' has an empty space; give it "
                             "at least one field, e.g. [search.space] " f"{label} = [\"lr\"]")
        for tied, fields in TIED.items():
            both = [f for f in fields if f in space]
            if tied in space and both:
                raise UsageError(f"{where}.space.{label}: '{tied}' sets {' and '.join(fields)}; "
                                 f"search {tied} or {both[0]}, not both")
        spaces[label] = space
    return spaces


def _space(entry: Any, where: str) -> dict[str, Range | None]:
    """One variant's fields: a list of names (each its default range) or a table of ranges."""
    if isinstance(entry, list):
        if not entry:
            raise UsageError(f"{where} is an empty list; name at least one field, e.g. [\"lr\"]")
        if not all(isinstance(f, str) for f in entry):
            raise UsageError(f"{where} must list field names, e.g. [\"lr\", \"beta1\"], got {entry!r}")
        twice = sorted({f for f in entry if entry.count(f) > 1})
        if twice:
            raise UsageError(f"{where} lists '{twice[0]}' twice")
        return {f: _default(f, f"{where}.{f}") for f in entry}
    if not isinstance(entry, dict):
        raise UsageError(f"{where} must be a list of fields or a table of ranges, got {entry!r}")
    out: dict[str, Range | None] = {}
    for name, value in _flatten(entry, where):
        out[name] = _range(name, value, f"{where}.{name}")
    return out


def _flatten(table: dict[str, Any], where: str, prefix: str = "") -> list[tuple[str, Any]]:
    """``reg.NAME.OPTION = {...}`` as TOML nests it, back to the dotted field name."""
    out = []
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not (set(value) & set(RANGE_KINDS)):
            if not value:
                raise UsageError(f"{where}.{name} is an empty table; give a range, e.g. "
                                 "{ log = [1e-5, 1e-2] }")
            out += _flatten(value, where, f"{name}.")
        else:
            out.append((name, value))
    return out


def _check_free(name: str, where: str) -> None:
    if name.split(".")[0] in FIXED:
        raise UsageError(f"{where}: a search keeps {name.split('.')[0]} equal for every setting "
                         "(each trains as long and is scored the same way); search a training field")


def _range(name: str, value: Any, where: str) -> Range | None:
    _check_free(name, where)
    if value == DEFAULT:
        return _default(name, where)
    if not isinstance(value, dict):
        raise UsageError(f"{where} must be a range ({{ log = [LOW, HIGH] }}, {{ uniform = [LOW, HIGH] }}, "
                         f"{{ int = [LOW, HIGH] }}, {{ choice = [A, B] }}) or \"default\", got {value!r}")
    return parse_range(value, where, "suite")


def parse_range(value: Any, where: str, source: str) -> Range:
    """A range table (``{ log = [a, b] }`` and the like), checked."""
    kinds = [k for k in value if k in RANGE_KINDS] if isinstance(value, dict) else []
    if not isinstance(value, dict) or len(kinds) != 1 or len(value) != 1:
        raise UsageError(f"{where} must be one of {{ log = [LOW, HIGH] }}, {{ uniform = [LOW, HIGH] }}, "
                         f"{{ int = [LOW, HIGH] }} or {{ choice = [A, B, ...] }}, got {value!r}")
    (kind,) = kinds
    bounds = value[kind]
    if kind == "choice":
        if (not isinstance(bounds, list) or len(bounds) < 2
                or not all(isinstance(c, (str, int, float)) for c in bounds)):
            raise UsageError(f"{where}: choice must list two or more numbers, texts or booleans, "
                             f"got {bounds!r}")
        if len({json.dumps(c) for c in bounds}) != len(bounds):
            raise UsageError(f"{where}: choice lists a value twice: {bounds!r}")
        return Range("choice", choices=tuple(bounds), source=source)
    number = (int,) if kind == "int" else (int, float)
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, number) and not isinstance(b, bool) for b in bounds)
            or not all(math.isfinite(b) for b in bounds)):
        what = "two integers" if kind == "int" else "two finite numbers"
        raise UsageError(f"{where}: {kind} needs {what} [LOW, HIGH], got {bounds!r}")
    low, high = bounds
    if not low < high:
        raise UsageError(f"{where}: {kind} = [{low}, {high}] is not a range; LOW must be below HIGH")
    if kind == "log" and low <= 0:
        raise UsageError(f"{where}: log = [{low}, {high}] needs LOW > 0 (a log-uniform range of "
                         "positive numbers); use uniform for a range through 0")
    if kind != "int":
        low, high = float(low), float(high)
    return Range(kind, low, high, source=source)


#: Lucic et al.'s ranges of the run fields they search (sec. 5 and app. of the paper)
_LUCIC = {
    "lr": Range("log", 1e-5, 1e-2, source=LUCIC),
    "lr_g": Range("log", 1e-5, 1e-2, source=LUCIC),
    "lr_d": Range("log", 1e-5, 1e-2, source=LUCIC),
    "beta1": Range("uniform", 0.0, 1.0, source=LUCIC),
    "n_critic": Range("int", 1, 5, source=LUCIC),
}


def _default(name: str, where: str) -> Range | None:
    """Lucic et al.'s range of a run field; None for a component option (its component's
    declaration, read once plugins load); an error for any other field."""
    _check_free(name, where)
    if name in _LUCIC:
        return _LUCIC[name]
    if "." in name:
        return None
    raise UsageError(f"{where}: no default range for '{name}' (Lucic et al.'s are for "
                     f"{', '.join(_LUCIC)}); give one, e.g. {name} = {{ uniform = [LOW, HIGH] }}")


def declared_range(name: str, factory: Any, where: str) -> Range:
    """The range a component declares for option ``name`` (``search_ranges`` on its factory)."""
    declared = getattr(factory, "search_ranges", None)
    option = name.rsplit(".", 1)[1]
    if not isinstance(declared, Mapping) or option not in declared:
        raise UsageError(f"{where}: its component declares no search range for '{option}'; give "
                         f"one, e.g. {name} = {{ log = [LOW, HIGH] }}")
    owner = getattr(factory, "__name__", "its component")
    return parse_range(declared[option], where, f"declared by {owner}")


def range_from_json(data: Any) -> Range:
    """A range as ``Range.as_json`` wrote it (read back from bench.json or results.json)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("source"), str):
        raise UsageError(f"a search range must be a table with its source, got {str(data)[:80]}")
    return parse_range({k: v for k, v in data.items() if k != "source"}, "search range",
                       data["source"])


def trial_sets(params: Mapping[str, Any], space: Mapping[str, Range],
               base: Mapping[str, Any]) -> list[str]:
    """A setting as ``--set`` assignments, on ``base`` (the variant's resolved config without
    it, whose beta2s ``beta1`` keeps)."""
    out = []
    for name, value in params.items():
        value = space[name].applied(value)
        if name == "lr":
            out += [f"{f}={json.dumps(value)}" for f in TIED["lr"]]
        elif name == "beta1":
            out += [f"{f}={json.dumps([value, base[f][1]])}" for f in TIED["beta1"]]
        else:
            out.append(f"{name}={json.dumps(value)}")
    return out


def targets(name: str) -> tuple[str, ...]:
    """The ``--set`` keys a searched field writes."""
    return TIED.get(name, (name,))
