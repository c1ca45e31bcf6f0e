"""Which metrics score a dataset, built with their options and checked against it.

Which metrics apply is decided by the metrics themselves (``Metric.applies_to``), never
by dataset names here.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..registry import ComponentSpec, Entry, Registry

if TYPE_CHECKING:  # the contracts import torch; reading a config or a suite does not need it
    from ..components import Dataset, Metric


def default_metrics(registry: Registry, dataset: Dataset, every: bool = False) -> list[str]:
    """The registered metrics that apply to ``dataset``, by name: those scored ``by_default``,
    or ``every`` one."""
    out = []
    for name in registry.names("metric"):
        metric = registry.create("metric", name)
        if (every or getattr(metric, "by_default", True)) and metric.applies_to(dataset):
            out.append(name)
    return out


def resolve_eval(
    registry: Registry,
    dataset: Dataset,
    metrics: Iterable[str] | None = None,
    n_samples: int | None = None,
    shared: Mapping[str, Any] | None = None,
) -> tuple[list[str], int]:
    """The metric specs (given, else those that apply) and the number of generated samples.

    The sample count defaults to the largest any chosen metric's protocol calls for (with
    the evaluation's ``shared`` options, e.g. a named FID protocol); with no metric that
    applies, it is ``([], 0)``. Unknown or inapplicable metrics are a UsageError.
    """
    specs = [canonical_spec(registry, s) for s in metrics] if metrics else default_metrics(
        registry, dataset)
    built = build_metrics(registry, dataset, specs, shared or {})
    if n_samples is not None and n_samples < 2:
        raise UsageError(f"the number of samples to evaluate must be at least 2, got {n_samples}")
    n = n_samples or max((metric.n_samples for _, metric, _ in built), default=0)
    return specs, n


def build_metrics(
    registry: Registry, dataset: Dataset, specs: Iterable[str], shared: Mapping[str, Any]
) -> list[tuple[str, Metric, dict[str, Any]]]:
    """(name, metric, options) for each spec, checked against the dataset."""
    out = []
    for spec in specs:
        comp = ComponentSpec.parse(spec, "metric")
        entry = registry.get("metric", comp.name)
        comp.name = registry.canonical("metric", comp.name)  # one key, one seed, for each spelling
        options = {k: v for k, v in shared.items() if k in entry.options() and v is not None}
        options.update(registry.check_options(entry, comp.options))
        metric = registry.create("metric", comp.name, options)
        if not metric.applies_to(dataset):
            fits = ", ".join(default_metrics(registry, dataset, every=True)) or "none"
            needs = f": it needs {metric.needs}" if metric.needs else ""
            raise UsageError(f"metric '{comp.name}' does not apply to this dataset{needs} "
                             f"(metrics that apply: {fits})")
        if any(name == comp.name for name, _, _ in out):
            raise UsageError(f"metric '{comp.name}' is asked for twice; name each metric once")
        out.append((comp.name, metric, {**_defaults(entry), **options}))
    return out


def conditional_metrics(registry: Registry, specs: Iterable[str]) -> list[str]:
    """The metric specs that name a ``conditional`` metric (one that scores samples by the
    classes they were asked for: intra-FID, CAS, class agreement)."""
    return [s for s in specs if getattr(registry.create("metric", ComponentSpec.parse(s, "metric").name),
                                        "conditional", False)]


def scores_classes(registry: Registry, specs: Iterable[str]) -> bool:
    """Whether any of the metric specs names a ``conditional`` metric."""
    return bool(conditional_metrics(registry, specs))


def refuse_unconditional(specs: Sequence[str]) -> None:
    """Refuse conditional metrics (``specs``) for an unconditional generator, in one line."""
    if specs:
        name = ComponentSpec.parse(specs[0], "metric").name
        raise UsageError(f"metric '{name}' scores a conditional generator by the classes it asks "
                         "for, and this generator is unconditional; evaluate a conditional "
                         "architecture (e.g. --arch resnet:conditional=true) or leave it out")


def canonical_spec(registry: Registry, spec: str) -> str:
    """A metric spec (``NAME[:key=value,...]``) with its name in its canonical spelling."""
    comp = ComponentSpec.parse(spec, "metric")
    return registry.canonical("metric", comp.name) + spec.strip()[len(comp.name):]


def _defaults(entry: Entry) -> dict[str, Any]:
    return {k: v for k, v in entry.options().items() if v is not inspect.Parameter.empty}
