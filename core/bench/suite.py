"""Benchmark suites: TOML files naming datasets, variants, seeds and the evaluation plan.

A suite expands into one fully resolved run config per (dataset, variant, seed),
through the same ``resolve_config`` as ``ganagerie train``::

    name = "my-suite"
    description = "one line for `ganagerie bench list`"
    seeds = 5                  # seeds 0..4, or a list such as [0, 3, 7] (at most 10,000 seeds,
                               # 10,000 datasets x variants and 100,000 runs, GANAGERIE_NO_LIMITS=1
                               # lifts them; over 1,000 runs, `bench run` asks for --yes)
    steps = 3000               # generator updates of every run
    metrics = ["..."]          # metric names; absent: the evaluator's defaults per dataset
    eval_every = 500           # also evaluate during training (0: only at the end)
    eval_samples = 2500        # generated samples per evaluation (absent: the metric's default)
    rank_by = "..."            # the metric value that orders the ranking (absent: the first
                               # one whose direction is known)
    higher_is_better = { fid = false }   # directions the metrics do not declare themselves
    baseline = "vanilla"       # a variant label: every other variant is compared with it on
                               # each metric (paired, Holm over those k - 1 comparisons)
    arch = "mlp"               # architecture of every run (absent: chosen by the data)
    datasets = ["ring8", { name = "grid25", label = "grid", options = { n = 20000 } }]

    [set]                      # any `train --set` key, for every run
    batch_size = 100
    arch.g_width = 400         # dotted keys: component options, reg.NAME.OPTION

    [[variants]]               # a registered variant...
    variant = "vanilla"
    [[variants]]               # ...or an inline combination, on a preset or on none
    label = "my-combination"
    loss = "NAME"
    regularizers = ["NAME:key=value"]
    set = { n_critic = 2 }

Datasets and variants may be plain names or tables; a table takes ``label``,
``arch``, ``set`` (and ``name``, ``options``, ``metrics`` for a dataset; ``variant``,
``loss``, ``regularizers`` for a variant). Later ``set`` tables win: suite, dataset,
variant, then the command line.

A ``[search]`` section tunes every variant on an equal budget before comparing them
(Lucic et al. 2018; ``ganagerie.bench.search_space`` gives its format); the suite's seeds
are then the trials' and the re-runs' (``seeds`` is not given).

Built-in suites are ``*.toml`` files in packages named by the ``ganagerie.suites``
entry-point group, so a plugin distribution can ship suites the same way.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import LIFT, limits_lifted, resolve_config
from ..errors import UsageError, did_you_mean
from ..evaluation.select import conditional_metrics
from ..files import UnreadableFile, read_text
from ..registry import Registry
from .search_space import Search, parse_search, trial_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SUITE_ENTRY_POINT_GROUP = "ganagerie.suites"
#: a dataset or variant label; it names a directory, so it cannot be "..", absolute or nested
LABEL = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
_LABEL = re.compile(rf"^{LABEL}$")

_TOP_KEYS = {"name", "description", "seeds", "steps", "metrics", "eval_every", "eval_samples",
             "rank_by", "higher_is_better", "baseline", "arch", "set", "datasets", "variants",
             "search", "context"}
_CONTEXT_KEYS = {"label", "dataset", "source", "values"}
_DATASET_KEYS = {"name", "label", "options", "arch", "set", "metrics"}
_VARIANT_KEYS = {"variant", "label", "loss", "regularizers", "arch", "set"}


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of the suite: registered name, options, and what it changes in its runs."""

    label: str
    name: str
    options: dict[str, Any] = field(default_factory=dict)
    arch: str | None = None
    sets: tuple[str, ...] = ()
    metrics: tuple[str, ...] | None = None


@dataclass(frozen=True)
class VariantEntry:
    """A variant of the suite: a registered preset and/or an inline combination."""

    label: str
    variant: str | None = None
    loss: str | None = None
    regularizers: tuple[str, ...] = ()
    arch: str | None = None
    sets: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContextRow:
    """A published figure to read a dataset's table against (``[[context]]``): shown beside
    the measured rows, never tested against them (another machine, code and protocol)."""

    label: str
    dataset: str
    source: str
    values: dict[str, float]

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "source": self.source, "values": self.values}


@dataclass(frozen=True)
class Suite:
    """A parsed suite file; ``source`` is its text, recorded verbatim in reports."""

    name: str
    description: str
    source: str
    origin: str
    datasets: tuple[DatasetEntry, ...]
    variants: tuple[VariantEntry, ...]
    seeds: tuple[int, ...]
    steps: int | None = None
    metrics: tuple[str, ...] | None = None
    eval_every: int = 0
    eval_samples: int | None = None
    rank_by: str | None = None
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    arch: str | None = None
    sets: tuple[str, ...] = ()
    baseline: str | None = None
    #: the distribution that ships the suite (None for a file): its plain names mean that
    #: distribution's own components first, as in its presets
    distribution: str | None = None
    #: the equal-budget search of every variant's settings, where the suite has one
    search: Search | None = None
    #: published figures shown beside the measured rows (``[[context]]``)
    context: tuple[ContextRow, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Name, description, origin and size, for ``ganagerie bench list`` (a search's runs
        are its trials and re-runs: one seed each)."""
        return {"name": self.name, "description": self.description, "origin": self.origin,
                "datasets": [d.label for d in self.datasets],
                "variants": [v.label for v in self.variants], "seeds": list(self.seeds),
                "steps": self.steps,
                "runs": len(self.datasets) * len(self.variants) * len(self.seeds)}


@dataclass(frozen=True)
class RunSpec:
    """One run of a suite: everything a worker needs, JSON-able. ``key`` names its run dir."""

    key: str
    dataset: str
    variant: str
    seed: int
    config: dict[str, Any]
    #: a search's runs: ``{"trial": n, "params": {field: value}}``, the setting the run trains
    #: (a trial's own, or the best one that a re-run repeats)
    search: dict[str, Any] | None = None
    #: the suite's conditional metrics left out of this run's evaluation: its generator is
    #: unconditional (reported as not scored)
    not_scored: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return self.key

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "dataset": self.dataset, "variant": self.variant,
                "seed": self.seed, "config": self.config,
                **({"search": self.search} if self.search is not None else {}),
                **({"not_scored": self.not_scored} if self.not_scored else {})}

    @classmethod
    def from_json(cls, data: Any) -> RunSpec:
        """Read back ``as_json`` (extra keys, such as a run's results, are ignored).

        Read from files, so checked: the key must be ``DATASET/VARIANT/seed-N`` made of
        labels, matching the other fields, so that it can never name a path outside a
        benchmark's ``runs/``.
        """
        if not isinstance(data, Mapping):
            raise UsageError("a run must be a JSON object")
        key, dataset, variant, seed = (data.get(k) for k in ("key", "dataset", "variant", "seed"))
        config = data.get("config")
        if not (isinstance(dataset, str) and _LABEL.match(dataset) and isinstance(variant, str)
                and _LABEL.match(variant) and isinstance(seed, int) and not isinstance(seed, bool)
                and 0 <= seed < 2**63 and key == f"{dataset}/{variant}/seed-{seed}"
                and isinstance(config, Mapping)):
            raise UsageError(f"bad run {str(key)[:80]!r}: a run needs key DATASET/VARIANT/seed-N "
                             "(letters, digits and . _ + -), matching fields and a config")
        search = data.get("search")
        if search is not None and not _setting_ok(search):
            raise UsageError(f"bad run {key[:80]!r}: its search must be {{trial: N, params: "
                             "{field: number, text or boolean}}")
        not_scored = data.get("not_scored", [])
        if not (isinstance(not_scored, list) and len(not_scored) <= 100
                and all(isinstance(m, str) and len(m) <= 200 for m in not_scored)):
            raise UsageError(f"bad run {key[:80]!r}: its not_scored must be a list of metric names")
        return cls(key, dataset, variant, seed, dict(config), search, list(not_scored))


def _setting_ok(search: Any) -> bool:
    params = search.get("params") if isinstance(search, Mapping) else None
    trial = search.get("trial") if isinstance(search, Mapping) else None
    return (set(search) == {"trial", "params"} and type(trial) is int and 0 <= trial < 2**31
            and isinstance(params, Mapping) and len(params) <= 1000
            and all(isinstance(k, str) and len(k) <= 200 and isinstance(v, (str, int, float))
                    for k, v in params.items()))


# -- finding suites ------------------------------------------------------------------------


def builtin_suites() -> dict[str, tuple[str, str, str | None]]:
    """Suites shipped by installed packages: ``{name: (origin, toml text, distribution)}``."""
    found: dict[str, tuple[str, str, str | None]] = {}
    for ep in sorted(importlib.metadata.entry_points(group=SUITE_ENTRY_POINT_GROUP),
                     key=lambda e: e.value):
        module = ep.load()
        for item in sorted(importlib.resources.files(module).iterdir(), key=lambda p: p.name):
            if not item.name.endswith(".toml"):
                continue
            name = item.name[: -len(".toml")]
            origin = f"{ep.value}/{item.name}"
            if name in found:
                raise UsageError(f"suite '{name}' is shipped twice: by {found[name][0]} and by "
                                 f"{origin}; uninstall one of them")
            found[name] = (origin, item.read_text(encoding="utf-8"), ep.dist.name if ep.dist else None)
    return found


def load_suite(name_or_path: str | Path) -> Suite:
    """A built-in suite by name, or a suite file by path."""
    text = str(name_or_path)
    path = Path(text)
    # a directory named like a built-in suite (a benchmark's --out, say) does not hide it
    if path.suffix == ".toml" or path.is_file() or (path.exists() and text not in builtin_suites()):
        try:
            source = read_text(path, MAX_SUITE_BYTES)
        except UnreadableFile as exc:  # not UTF-8, too large, a FIFO or a device
            raise UsageError(f"suite file {exc}; give a UTF-8 TOML file of at most "
                             f"{MAX_SUITE_BYTES:,} bytes") from None
        except OSError as exc:
            raise UsageError(f"cannot read suite file {path} ({exc.strerror}); "
                             "give a .toml path or a built-in name (ganagerie bench list)") from None
        return parse_suite(source, str(path))
    suites = builtin_suites()
    if text not in suites:
        hint = did_you_mean(text, suites) or ""
        raise UsageError(f"unknown suite '{text}';{hint} give a built-in name "
                         f"({', '.join(sorted(suites))}) or a path to a .toml file")
    origin, source, distribution = suites[text]
    return parse_suite(source, origin, distribution)


# -- parsing ---------------------------------------------------------------------------------


def parse_suite(source: str, origin: str, distribution: str | None = None) -> Suite:
    """Parse and check a suite's TOML text; ``origin`` names it in errors."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{origin}: not valid TOML ({exc}); fix the file") from None
    except RecursionError:  # tomllib recurses into nested arrays and inline tables
        raise UsageError(f"{origin}: nested too deeply to be a suite (at most {MAX_DEPTH} levels); "
                         "fix the file") from None
    _check_size(data, origin)
    _check_keys(data, _TOP_KEYS, origin, "the suite")
    default_name = Path(origin).name.removesuffix(".toml")
    name = _label(data.get("name", default_name), origin, "name")  # it names runs/bench/NAME
    datasets = tuple(_dataset(d, origin, i) for i, d in enumerate(_list(data, "datasets", origin)))
    variants = tuple(_variant(v, origin, i) for i, v in enumerate(_list(data, "variants", origin)))
    for what, entries in (("datasets", datasets), ("variants", variants)):
        labels = [e.label for e in entries]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise UsageError(f"{origin}: two {what} are labelled '{twice[0]}'; give one a "
                             "different label")
    steps = data.get("steps")
    search = None
    if "search" in data:
        if "seeds" in data:
            raise UsageError(f"{origin}: a suite with [search] sets no 'seeds': trial n trains with "
                             "seed n and the best settings re-run with search.rerun_seeds new ones")
        trial = next((v.label for v in variants if trial_of(v.label)), None)
        if trial is not None:
            raise UsageError(f"{origin}: variant label '{trial}' looks like a search trial's "
                             "(LABEL.trial-N); give it another label")
        search = parse_search(data["search"], origin, name, [v.label for v in variants])
    baseline = _optional_text(data.get("baseline"), origin, "baseline")
    if baseline is not None and baseline not in [v.label for v in variants]:
        raise UsageError(f"{origin}: baseline '{baseline}' is not one of the suite's variants "
                         f"({', '.join(v.label for v in variants)}); name one of their labels")
    return Suite(
        name=name,
        description=_text(data.get("description", ""), origin, "description"),
        source=source,
        origin=origin,
        datasets=datasets,
        variants=variants,
        seeds=(tuple(range(search.budget + search.rerun_seeds)) if search
               else _seeds(data.get("seeds", 1), origin)),
        steps=None if steps is None else _int(steps, origin, "steps", 1),
        metrics=_names(data.get("metrics"), origin, "metrics"),
        eval_every=_int(data.get("eval_every", 0), origin, "eval_every", 0),
        eval_samples=_optional_int(data.get("eval_samples"), origin, "eval_samples"),
        rank_by=_optional_text(data.get("rank_by"), origin, "rank_by"),
        higher_is_better=_directions(data.get("higher_is_better", {}), origin),
        arch=_optional_text(data.get("arch"), origin, "arch"),
        sets=_sets(data.get("set", {}), origin, "set"),
        baseline=baseline,
        distribution=distribution,
        search=search,
        context=_contexts(data.get("context", []), origin, [d.label for d in datasets]),
    )


def _contexts(value: Any, origin: str, datasets: Sequence[str]) -> tuple[ContextRow, ...]:
    if not isinstance(value, list) or len(value) > 100:
        raise UsageError(f"{origin}: 'context' must be a list of at most 100 tables ([[context]])")
    return tuple(_context(item, origin, i, datasets) for i, item in enumerate(value))


def _context(item: Any, origin: str, index: int, datasets: Sequence[str]) -> ContextRow:
    """One ``[[context]]`` table: label, dataset (a dataset label of the suite), source (where
    the figures were published, and under which protocol) and values (metric column: number)."""
    where = f"context[{index}]"
    if not isinstance(item, Mapping):
        raise UsageError(f"{origin}: {where} must be a table with label, dataset, source and values")
    _check_keys(item, _CONTEXT_KEYS, origin, where)
    missing = sorted(_CONTEXT_KEYS - set(item))
    if missing:
        raise UsageError(f"{origin}: {where} needs {missing[0]} (label, dataset, source, values)")
    label = _text(item["label"], origin, f"{where}.label")
    source = _text(item["source"], origin, f"{where}.source")
    if not 0 < len(label) <= 100 or not 0 < len(source) <= 500:
        raise UsageError(f"{origin}: {where}: label must be 1-100 characters and source 1-500")
    dataset = _text(item["dataset"], origin, f"{where}.dataset")
    if dataset not in datasets:
        raise UsageError(f"{origin}: {where}.dataset '{dataset[:100]}' is not one of the suite's "
                         f"datasets ({', '.join(datasets)}); name one of their labels")
    values = item["values"]
    if not (isinstance(values, Mapping) and 0 < len(values) <= 50 and all(
            isinstance(k, str) and len(k) <= 100 and type(v) in (int, float) and math.isfinite(v)
            for k, v in values.items())):
        raise UsageError(f"{origin}: {where}.values must be a table of metric columns and finite "
                         "numbers, e.g. { fid = 10.84, is = 8.25 }")
    return ContextRow(label, dataset, source, {k: float(v) for k, v in values.items()})


def _entry(item: Any, allowed: set[str], origin: str, where: str) -> dict[str, Any] | None:
    """None for a plain name, else the entry's table with its keys checked."""
    if isinstance(item, str):
        return None
    if not isinstance(item, dict):
        raise UsageError(f"{origin}: {where} must be a name or a table, got {item!r}")
    _check_keys(item, allowed, origin, where)
    return item


def _dataset(item: Any, origin: str, i: int) -> DatasetEntry:
    where = f"datasets[{i}]"
    if _entry(item, _DATASET_KEYS, origin, where) is None:
        return DatasetEntry(label=_label(item, origin, where), name=item)
    if "name" not in item:
        raise UsageError(f"{origin}: {where} needs name = \"DATASET\" (ganagerie list datasets)")
    name = _text(item["name"], origin, f"{where}.name")
    options = item.get("options", {})
    if not isinstance(options, dict):
        raise UsageError(f"{origin}: {where}.options must be a table, e.g. {{ n = 20000 }}")
    return DatasetEntry(
        label=_label(item.get("label", name), origin, f"{where}.label"),
        name=name,
        options=dict(options),
        arch=_optional_text(item.get("arch"), origin, f"{where}.arch"),
        sets=_sets(item.get("set", {}), origin, f"{where}.set"),
        metrics=_names(item.get("metrics"), origin, f"{where}.metrics"),
    )


def _variant(item: Any, origin: str, i: int) -> VariantEntry:
    where = f"variants[{i}]"
    if _entry(item, _VARIANT_KEYS, origin, where) is None:
        # a qualified name, DIST:NAME, is labelled NAME (a label names a directory)
        label = item.rpartition(":")[2] if isinstance(item, str) else item
        return VariantEntry(label=_label(label, origin, where), variant=item)
    variant = _optional_text(item.get("variant"), origin, f"{where}.variant")
    if "label" not in item and variant is None:
        raise UsageError(f"{origin}: {where} needs label = \"NAME\" (or variant = \"PRESET\")")
    regs = item.get("regularizers", [])
    if not isinstance(regs, list) or not all(isinstance(r, str) for r in regs):
        raise UsageError(f"{origin}: {where}.regularizers must be a list of \"NAME[:key=value,...]\"")
    return VariantEntry(
        label=_label(item["label"] if "label" in item else variant.rpartition(":")[2], origin,
                     f"{where}.label"),
        variant=variant,
        loss=_optional_text(item.get("loss"), origin, f"{where}.loss"),
        regularizers=tuple(regs),
        arch=_optional_text(item.get("arch"), origin, f"{where}.arch"),
        sets=_sets(item.get("set", {}), origin, f"{where}.set"),
    )


def _check_keys(table: Mapping[str, Any], allowed: set[str], origin: str, where: str) -> None:
    for key in table:
        if key not in allowed:
            hint = did_you_mean(key, allowed) or ""
            raise UsageError(f"{origin}: unknown key '{key}' in {where};{hint} allowed: "
                             f"{', '.join(sorted(allowed))}")


def _list(data: Mapping[str, Any], key: str, origin: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise UsageError(f"{origin}: '{key}' must be a non-empty list (see ganagerie bench list)")
    return value


def _text(value: Any, origin: str, key: str) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{origin}: '{key}' must be text, got {value!r}")
    return value


def _optional_text(value: Any, origin: str, key: str) -> str | None:
    return None if value is None else _text(value, origin, key)


def _label(value: Any, origin: str, key: str) -> str:
    value = _text(value, origin, key)
    if not _LABEL.match(value):
        raise UsageError(f"{origin}: {key} '{value}' must be letters, digits and . _ + - "
                         "(it names run directories)")
    return value


def _int(value: Any, origin: str, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise UsageError(f"{origin}: '{key}' must be an integer >= {minimum}, got {value!r}")
    return value


def _optional_int(value: Any, origin: str, key: str) -> int | None:
    return None if value is None else _int(value, origin, key, 1)


#: the most seeds a suite (or ``--seeds``) asks for, and the most runs one benchmark plans,
#: unless the limits are lifted (``GANAGERIE_NO_LIMITS=1``): a typo must not plan 10^9 runs
MAX_SEEDS = 10_000
MAX_RUNS = 100_000
#: the most (dataset, variant) cells a suite has, unless the limits are lifted
MAX_CELLS = 10_000
#: the deepest a suite's tables and lists nest, and the largest suite file read
MAX_DEPTH = 16
MAX_SUITE_BYTES = 2**20


def _check_size(data: Mapping[str, Any], origin: str) -> None:
    """Refuse, before anything is expanded or even parsed further, a suite nested deeper than
    ``MAX_DEPTH`` or asking for more than the limits: ``MAX_SEEDS`` seeds (as ``--seeds``),
    ``MAX_CELLS`` datasets x variants, ``MAX_RUNS`` runs; ``GANAGERIE_NO_LIMITS=1`` lifts the
    last three."""
    stack = [(data, 1)]
    while stack:  # no recursion: the depth itself is what is checked
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise UsageError(f"{origin}: nested more than {MAX_DEPTH} levels deep; a suite's "
                             "tables and lists are a few levels deep (fix the file)")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    if limits_lifted():
        return
    seeds = data.get("seeds", 1)
    listed = isinstance(seeds, list)
    count = (len(seeds) if listed else seeds
             if isinstance(seeds, int) and not isinstance(seeds, bool) and "search" not in data else 1)
    if count > MAX_SEEDS:
        said = f"lists {count:,} seeds" if listed else f"is {count:,}"
        raise UsageError(f"{origin}: 'seeds' {said}, more than {MAX_SEEDS:,} (the limit of --seeds "
                         f"too); set {LIFT} if you mean it")
    sizes = [len(data.get(k)) if isinstance(data.get(k), list) else 1 for k in ("datasets", "variants")]
    cells = sizes[0] * sizes[1]
    if cells > MAX_CELLS:
        raise UsageError(f"{origin}: {sizes[0]:,} datasets x {sizes[1]:,} variants is {cells:,} "
                         f"(dataset, variant) cells, more than {MAX_CELLS:,}; set {LIFT} if you mean it")
    if cells * max(count, 1) > MAX_RUNS:
        raise UsageError(f"{origin}: {sizes[0]:,} datasets x {sizes[1]:,} variants x {count:,} seeds is "
                         f"{cells * count:,} runs, more than {MAX_RUNS:,}; set {LIFT} if you mean it")


def _seeds(value: Any, origin: str) -> tuple[int, ...]:
    # its size was checked against MAX_SEEDS before (``_check_size``)
    if isinstance(value, int) and not isinstance(value, bool):
        return tuple(range(_int(value, origin, "seeds", 1)))
    if isinstance(value, list) and value:
        seeds = tuple(_int(s, origin, "seeds[]", 0) for s in value)
        if len(set(seeds)) != len(seeds):
            raise UsageError(f"{origin}: 'seeds' lists a seed twice: {list(seeds)}")
        return seeds
    raise UsageError(f"{origin}: 'seeds' must be a count (5) or a list of seeds ([0, 1, 2]), "
                     f"got {value!r}")


def _names(value: Any, origin: str, key: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{origin}: '{key}' must be a list of names, got {value!r}")
    return tuple(value)


def _directions(table: Any, origin: str) -> dict[str, bool]:
    if not isinstance(table, dict) or not all(isinstance(v, bool) for v in table.values()):
        raise UsageError(f"{origin}: 'higher_is_better' must be a table of true/false by metric "
                         "value, e.g. { fid = false }")
    return dict(table)


def _sets(table: Any, origin: str, key: str) -> tuple[str, ...]:
    """A TOML table of overrides as ``--set`` assignments; nested tables are dotted keys."""
    if not isinstance(table, dict):
        raise UsageError(f"{origin}: '{key}' must be a table of overrides, e.g. {{ lr_d = 1e-4 }}")
    out = []
    for name, value in table.items():
        if isinstance(value, dict):
            out += [f"{name}.{s}" for s in _sets(value, origin, f"{key}.{name}")]
            continue
        try:
            out.append(f"{name}={json.dumps(value)}")
        except TypeError:
            raise UsageError(f"{origin}: {key}.{name}: {value!r} is not a number, text, "
                             "boolean or list") from None
    return tuple(out)


# -- expansion -----------------------------------------------------------------------------


def expand(
    suite: Suite,
    registry: Registry,
    *,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    sets: Iterable[str] = (),
    conditional: Callable[[Any], bool | None] | None = None,
) -> list[RunSpec]:
    """One resolved run per (dataset, variant, seed); command-line values win (``conditional``:
    as ``resolve_run`` takes it)."""
    seeds = tuple(suite.seeds if seeds is None else seeds)
    steps = steps if steps is not None else suite.steps
    runs = len(suite.datasets) * len(suite.variants) * len(seeds)
    if runs > MAX_RUNS and not limits_lifted():
        raise UsageError(f"{suite.origin}: {len(suite.datasets)} datasets x {len(suite.variants)} "
                         f"variants x {len(seeds)} seeds is {runs:,} runs, more than {MAX_RUNS:,}; "
                         f"set {LIFT} if you mean it")
    return [resolve_run(suite, registry, ds, var, seed, steps=steps, sets=sets, conditional=conditional)
            for ds in suite.datasets for var in suite.variants for seed in seeds]


def resolve_run(suite: Suite, registry: Registry, ds: DatasetEntry, var: VariantEntry, seed: int,
                *, steps: int | None = None, sets: Iterable[str] = (), setting: Sequence[str] = (),
                label: str | None = None, search: dict[str, Any] | None = None,
                conditional: Callable[[Any], bool | None] | None = None) -> RunSpec:
    """One run of ``var`` on ``ds`` with ``seed``: the suite's, dataset's and variant's ``set``
    tables, then the command line's ``sets``, then a searched ``setting`` (assignments), under
    the variant label ``label`` (default: the variant's).

    ``conditional(cfg)`` tells whether a run's generator is conditional (the harness passes
    ``generates_by_class``, which builds the networks; None: cannot tell). A run it calls
    unconditional is not scored by the suite's conditional metrics (intra-FID, CAS, class
    agreement): they leave its ``eval_metrics`` and are listed in ``not_scored``, which the
    report shows as n/a; without it every run is scored by every metric, and a conditional
    metric on an unconditional generator is refused before it trains."""
    steps = steps if steps is not None else suite.steps
    # the evaluation plan is made of run fields, so that config.json holds it too
    plan = {"steps": steps, "eval_every": suite.eval_every or None,
            "eval_samples": suite.eval_samples,
            "eval_metrics": list(ds.metrics if ds.metrics is not None else suite.metrics or [])
            or None}
    tail = [f"{k}={json.dumps(v)}" for k, v in plan.items() if v is not None]
    where = f"{suite.origin}: dataset '{ds.label}', variant '{var.label}'"
    try:
        cfg = resolve_config(
            registry,
            dataset=ds.name,
            variant=var.variant,
            loss=var.loss,
            arch=var.arch or ds.arch or suite.arch,
            regularizers=var.regularizers,
            # the plan beats the suite's, dataset's and variant's set tables (every variant is
            # scored alike); the command line's sets beat the plan (a plumbing run's few samples)
            sets=[*suite.sets, *ds.sets, *var.sets, *tail, *sets, *setting, f"seed={seed}"],
            dataset_options=ds.options,
            within=suite.distribution,
        )
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    label = label or var.label
    config = json.loads(json.dumps(cfg.to_dict()))
    unscorable = conditional_metrics(registry, cfg.eval_metrics)
    if not unscorable or conditional is None or conditional(cfg) is not False:
        unscorable = []
    else:  # a suite that mixes conditional and unconditional variants: n/a for this one
        config["eval_metrics"] = [m for m in config["eval_metrics"] if m not in unscorable]
    return RunSpec(f"{ds.label}/{label}/seed-{seed}", ds.label, label, seed, config, search,
                   not_scored=unscorable)


def list_suites() -> list[Suite]:
    """Every built-in suite, parsed."""
    return [parse_suite(source, origin, dist) for origin, source, dist in builtin_suites().values()]
