"""Seeds planned from power: what a pilot study says each comparison with the baseline needs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..registry import Registry
from . import stats
from .results import load_results, summarize
from .suite import parse_suite


def plan_seeds(report_dir: str | Path, registry: Registry | None,
               baseline: str | None = None) -> list[str]:
    """One line per (dataset, metric, variant) against ``baseline`` (default: the suite's),
    then how many comparisons each seed count powers, the median plan and the largest."""
    results = load_results(report_dir)
    suite = parse_suite(results["suite"]["source"], results["suite"]["origin"])
    baseline = baseline or suite.baseline
    labels = [v.label for v in suite.variants]
    if baseline is None:
        raise UsageError(f"the suite of {report_dir} names no baseline; give --baseline, one of "
                         f"{', '.join(labels)}")
    if baseline not in labels:
        raise UsageError(f"--baseline '{baseline}' is not one of the suite's variants "
                         f"({', '.join(labels)})")
    suite = replace(suite, baseline=baseline)
    datasets = summarize(results["runs"], suite, registry, results.get("references") or None)
    lines, needed = [], []
    for label, ds in datasets.items():
        for metric, found in ds["baseline"]["comparisons"].items():
            for c in found:
                lines.append(_line(label, metric, c))
                if c["seeds_needed"]:
                    needed.append(c["seeds_needed"])
    if not lines:
        return [f"no comparison with {baseline}: no variant but it has completed runs, or no "
                "metric of the study has a known direction"]
    lines.append(f"({stats.POWER_METHOD})")
    if needed:
        lines.extend(_budget(needed, len([x for x in lines if " vs " in x])))
        best = _best_buy(needed)
        lines.append(f"the most comparisons per seed: {best} seeds (of the counts above; the "
                     "suite's seed count when seeds are what the budget limits)")
        lines.append(f"the median plan: {_median(needed)} seeds (powers half of the {len(needed)} "
                     "comparisons that have a plan; the pilot's effects are its estimates, often "
                     "larger than the truth when seeds are few)")
        lines.append(f"the largest of these plans: {max(needed)} seeds "
                     f"(`ganagerie bench run {suite.name} --seeds {max(needed)}`, on a new --out: "
                     "seeds added to this one were chosen after a look)")
    return lines


BUDGETS = (3, 5, 8, 10, 16, 24, 32, 50, 100)


def _budget(needed: list[int], total: int) -> list[str]:
    """How many of the ``total`` comparisons each seed count of ``BUDGETS`` powers at 80%."""
    return [f"at {n} seeds: {sum(1 for x in needed if x <= n)} of {total} comparisons have 80% "
            "power for the effect the pilot saw" for n in BUDGETS]


def _best_buy(needed: list[int]) -> int:
    """The count of ``BUDGETS`` that powers the most comparisons per seed (the smaller on ties)."""
    return max(BUDGETS, key=lambda n: (sum(1 for x in needed if x <= n) / n, -n))


def _median(needed: list[int]) -> int:
    """The smallest seed count that powers at least half of ``needed``'s comparisons."""
    ordered = sorted(needed)
    return ordered[(len(ordered) - 1) // 2]


def _line(dataset: str, metric: str, c: dict[str, Any]) -> str:
    head = (f"{dataset} {metric}: {c['variant']} vs {c['baseline']}, {c['n']} seeds, "
            f"d_z {_num(c['d_z'])}, p (Holm) {_num(c['p_holm'])}: {c['verdict']}")
    if c["verdict"] != "not decided":
        return head + (f"; these seeds detect d_z >= {_num(c['detectable_d_z'])}"
                       if c["detectable_d_z"] is not None else "")
    if c["seeds_needed"] is None:
        return head + f"; no plan: more than {stats.MOST_SEEDS} seeds, or no difference seen"
    return head + f"; {c['seeds_needed']} seeds for 80% power"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3g}"
