"""What a search found, from its runs alone: each setting's score, the best one, the budget curve.

Lucic et al. (2018) show a search as the best score reached as a function of the budget,
over random orderings of the settings tried (their Figure 4 and sec. 5): a variant that
needs many settings to reach a score pays for it in every study that cannot afford them.
Here the curve at budget b is the distribution, over ``ORDERINGS`` random orderings of a
variant's finished settings (a fixed seed), of the best score among the first b of them; the
report draws its median and its 2.5% and 97.5% quantiles. A setting that produced no score
(it diverged, failed, or did not train) spends budget and scores nothing: in an ordering
that has seen only such settings the best is the worst possible, and a quantile there is
shown as missing.

A setting's score is its run's final evaluation (no best-of-run), counted only where the
run completed, as in the harness's means; the best setting is the one with the best score
(the lowest trial number among equal scores), the one the search re-runs with new seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .search_space import Search, trial_of

ORDERINGS = 1000
QUANTILES = (0.025, 0.5, 0.975)
BOOTSTRAP_SEED = 0
#: a finished setting that produced no score
NO_SCORE = ("diverged", "failed", "not trained")
CURVE_METHOD = (f"best score among the first b settings, over {ORDERINGS} random orderings of "
                f"the finished settings (numpy default_rng({BOOTSTRAP_SEED})): the median and the "
                f"{QUANTILES[0]:.1%} and {QUANTILES[2]:.1%} quantiles (inverted CDF); a setting "
                "without a score counts as the worst")


def trial_score(record: Mapping[str, Any], column: str) -> float | None:
    """A run's score: its final value of ``column`` where it completed, else None."""
    if record.get("status") != "completed":
        return None
    value = (record.get("metrics") or {}).get(column)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def best_trial(scores: Sequence[tuple[int, float | None]], higher_is_better: bool) -> int | None:
    """The number of the best-scored trial of ``(number, score)`` pairs; the lowest number among
    equal scores; None when none has a score."""
    scored = [(n, s) for n, s in scores if s is not None]
    if not scored:
        return None
    return min(scored, key=lambda p: (-p[1] if higher_is_better else p[1], p[0]))[0]


def budget_curve(scores: Sequence[float | None], higher_is_better: bool, orderings: int = ORDERINGS,
                 seed: int = BOOTSTRAP_SEED) -> dict[str, list[float | None]]:
    """At each budget b = 1..len(scores): the median and the outer ``QUANTILES``, over
    ``orderings`` random orderings, of the best of the first b scores (None: no score), and
    their mean where every ordering has a score by then."""
    import numpy as np

    if not scores:
        return {"low": [], "median": [], "high": [], "mean": []}
    worst = -math.inf if higher_is_better else math.inf
    x = np.array([worst if s is None else float(s) for s in scores])
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((orderings, len(x))), axis=1)  # a random permutation per row
    running = (np.maximum if higher_is_better else np.minimum).accumulate(x[order], axis=1)
    low, median, high = np.quantile(running, QUANTILES, axis=0, method="inverted_cdf")
    with np.errstate(invalid="ignore"):
        mean = running.mean(axis=0)

    def clean(row: Any) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None for v in row]

    return {"low": clean(low), "median": clean(median), "high": clean(high), "mean": clean(mean)}


def summarize_search(runs: Sequence[Mapping[str, Any]], search: Search, options: Mapping[str, Any],
                     directions: Mapping[str, Mapping[str, bool | None]]) -> dict[str, Any]:
    """results.json's ``search``: the protocol, and per dataset and variant every setting tried
    (trial, seed, status, score, parameters), the counts of settings without a score, the best
    setting, the budget curve and which setting the re-runs repeat. ``directions``: per
    dataset, whether higher is better for each metric column."""
    recorded = options.get("search") if isinstance(options, Mapping) else None
    spaces = (recorded.get("spaces") if isinstance(recorded, Mapping) else None) or search.as_json()["spaces"]
    column = search.metric
    datasets: dict[str, Any] = {}
    for label in dict.fromkeys(r["dataset"] for r in runs):
        higher = (directions.get(label) or {}).get(column)
        variants: dict[str, Any] = {}
        mine = [r for r in runs if r["dataset"] == label]
        names = list(dict.fromkeys((trial_of(r["variant"]) or (r["variant"], 0))[0] for r in mine))
        for variant in names:
            trials = sorted(((trial_of(r["variant"])[1], r) for r in mine
                             if (trial_of(r["variant"]) or ("", 0))[0] == variant), key=lambda p: p[0])
            rows = [{"trial": n, "key": r["key"], "seed": r["seed"], "status": r["status"],
                     "score": trial_score(r, column),
                     "params": dict((r.get("search") or {}).get("params") or {})} for n, r in trials]
            finished = [t for t in rows if t["status"] in ("completed", *NO_SCORE)]
            counts = {s: sum(t["status"] == s for t in rows)
                      for s in ("completed", "diverged", "failed", "not trained", "unfinished", "missing")}
            best = (None if higher is None
                    else best_trial([(t["trial"], t["score"]) for t in finished], higher))
            reruns = [r for r in mine if r["variant"] == variant]
            rerun_of = sorted({(r.get("search") or {}).get("trial") for r in reruns} - {None})
            variants[variant] = {
                "settings": len(rows),
                "finished": len(finished),
                **counts,
                "no_score_fraction": (sum(t["status"] in NO_SCORE for t in finished) / len(finished)
                                      if finished else None),
                "best": next(({"trial": t["trial"], "key": t["key"], "score": t["score"],
                               "params": t["params"]} for t in rows if t["trial"] == best), None),
                "curve": (budget_curve([t["score"] for t in finished], higher)
                          if finished and higher is not None else None),
                "trials": rows,
                "rerun": {"seeds": sorted(r["seed"] for r in reruns), "of_trial": rerun_of},
            }
        datasets[label] = {"higher_is_better": higher, "variants": variants}
    return {"metric": column, "sampler": search.sampler, "seed": search.seed, "wave": search.wave,
            "budget": search.budget, "trial_seeds": list(search.trial_seeds),
            "rerun_seeds": list(search.new_seeds), "spaces": spaces,
            "curve": {"orderings": ORDERINGS, "quantiles": list(QUANTILES), "seed": BOOTSTRAP_SEED,
                      "method": CURVE_METHOD},
            "datasets": datasets}
