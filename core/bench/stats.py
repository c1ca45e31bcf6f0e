"""Statistics over seeds: Student-t intervals, and paired tests that say when variants tie.

Every number is a mean over seeds with its interval; nothing is a best-of-run. Two
variants are compared on the seeds where both completed (a paired t-test, because
the seed fixes the data order and the initial noise of both), with Holm's
correction over all pairs, so that "A ranks above B" holds at the stated level for
the whole table at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

CONFIDENCE = 0.95
ALPHA = 0.05
INTERVAL_METHOD = ("Student-t 95% confidence interval of the mean over seeds, cut to the metric's "
                   "range where its evaluations recorded one")
TEST_METHOD = (
    "two-sided paired t-test across seeds (scipy.stats.ttest_rel) on the seeds where both "
    "variants completed, Holm-corrected over all pairs of variants, alpha = 0.05"
)

BASELINE_METHOD = (
    "each variant against the baseline on every metric with a known direction: two-sided paired "
    "t-test across the seeds both completed (scipy.stats.ttest_rel), Holm-corrected over the "
    "k - 1 comparisons of that metric, alpha = 0.05; the effect is the mean paired difference "
    "(variant - baseline) with its Student-t 95% interval, d_z its mean over its standard deviation"
)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its confidence interval (nan bounds with fewer than 2 values)."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    def as_json(self) -> dict[str, float | int | None]:
        return {"mean": _finite(self.mean), "ci_low": _finite(self.low),
                "ci_high": _finite(self.high), "n": self.n}


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE,
            bounds: tuple[float | None, float | None] = (None, None)) -> Interval:
    """The mean of ``values`` with its Student-t interval at ``confidence``, cut to ``bounds``
    (the metric's range, None for an open side).

    Cutting keeps the t-interval's coverage exactly (the true mean lies in the range), where
    bootstrap intervals (percentile, BCa) of 3 to 8 seeds cover 65-85% of the time on skewed
    metrics: ``coverage`` measures both, ``benchmarks/coverage.py`` writes the table.
    """
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    low, high = mean - half, mean + half
    if bounds[0] is not None:
        low = max(low, float(bounds[0]))
    if bounds[1] is not None:
        high = min(high, float(bounds[1]))
    return Interval(mean, low, high, n)


#: the intervals ``coverage`` can measure: the one the reports use, and the candidates
INTERVALS = ("t", "t-in-range", "percentile", "BCa")


def coverage(draw: Callable[[Any, int], Any], true_mean: float, n: int, method: str,
             bounds: tuple[float | None, float | None] = (None, None), reps: int = 1000,
             seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """How often the 95% interval of ``n`` seeds drawn by ``draw(rng, n)`` (a numpy Generator)
    contains ``true_mean``, and how often it leaves ``bounds``, over ``reps`` simulated studies.

    ``method``: ``t`` (the t-interval), ``t-in-range`` (``mean_ci``: cut to the range), or a
    bootstrap of ``scipy.stats.bootstrap`` (``percentile``, ``BCa``; 999 resamples; a sample
    with one value gives the point).
    """
    import warnings

    import numpy as np
    from scipy.stats import bootstrap

    if method not in INTERVALS:
        raise ValueError(f"method must be one of {', '.join(INTERVALS)}")
    rng = np.random.default_rng(seed)
    covered = outside = 0
    for _ in range(reps):
        x = np.asarray(draw(rng, n), dtype=float)
        if method in ("t", "t-in-range"):
            ci = mean_ci(x.tolist(), confidence, bounds if method == "t-in-range" else (None, None))
            low, high = ci.low, ci.high
        elif np.all(x == x[0]):
            low = high = float(x[0])
        else:
            with warnings.catch_warnings():  # BCa warns on degenerate resamples
                warnings.simplefilter("ignore")
                res = bootstrap((x,), np.mean, method=method, n_resamples=999, vectorized=True,
                                confidence_level=confidence, random_state=rng)
            low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
            if not (math.isfinite(low) and math.isfinite(high)):
                low = high = float(x.mean())
        covered += low <= true_mean <= high
        outside += ((bounds[0] is not None and low < bounds[0])
                    or (bounds[1] is not None and high > bounds[1]))
    return covered / reps, outside / reps


def paired_p_value(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided paired t-test p-value; nan with fewer than 2 pairs.

    Identical pairs give 1 and a constant non-zero difference gives 0: the limits
    of the statistic, where scipy would return nan with a warning.
    """
    from scipy.stats import ttest_rel

    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if len(a) < 2:
        return math.nan
    diffs = [x - y for x, y in zip(a, b)]
    if all(d == diffs[0] for d in diffs):
        return 1.0 if diffs[0] == 0 else 0.0
    return float(ttest_rel(a, b).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (nan stays nan and does not count as a test)."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class PairTest:
    """One paired comparison: ``better`` is the variant with the better mean, if significant."""

    a: str
    b: str
    n: int
    mean_diff: float  # mean of a - b over the common seeds
    p: float
    p_holm: float
    better: str | None

    def as_json(self) -> dict:
        return {"a": self.a, "b": self.b, "n": self.n, "mean_diff": _finite(self.mean_diff),
                "p": _finite(self.p), "p_holm": _finite(self.p_holm), "better": self.better}


@dataclass
class Ranking:
    """Rank = 1 + the number of variants significantly better; ties share a rank."""

    ranks: dict[str, int]
    ties: dict[str, list[str]] = field(default_factory=dict)
    pairs: list[PairTest] = field(default_factory=list)


def rank(
    values: Mapping[str, Mapping[int, float]], higher_is_better: bool, alpha: float = ALPHA
) -> Ranking:
    """Rank variants from ``{variant: {seed: value}}`` (completed seeds only)."""
    names = list(values)
    raw = []
    for a, b in combinations(names, 2):
        raw.append((a, b, *_paired(values[a], values[b])))
    adjusted = holm([r[4] for r in raw])
    pairs = []
    for (a, b, n, diff, p), p_adj in zip(raw, adjusted):
        better = None
        if p_adj < alpha and diff != 0:
            better = a if (diff > 0) == higher_is_better else b
        pairs.append(PairTest(a, b, n, diff, p, p_adj, better))
    beaten_by = {name: 0 for name in names}
    ties: dict[str, list[str]] = {name: [] for name in names}
    for pt in pairs:
        if pt.better is None:
            ties[pt.a].append(pt.b)
            ties[pt.b].append(pt.a)
        else:
            beaten_by[pt.b if pt.better == pt.a else pt.a] += 1
    return Ranking({name: 1 + beaten_by[name] for name in names}, ties, pairs)


@dataclass(frozen=True)
class Comparison:
    """A variant against the suite's baseline on one metric, over their common seeds: the
    effect (mean of variant - baseline, with the t-interval of the paired differences), its
    standardized size d_z (mean / sd of the differences), the paired p-value, Holm's over the
    k - 1 comparisons, and the verdict: "better", "worse" or "not decided"."""

    variant: str
    baseline: str
    n: int
    effect: Interval
    d_z: float
    p: float
    p_holm: float
    verdict: str
    seeds_needed: int | None = None  # not decided: seeds for POWER at the observed d_z
    detectable_d_z: float | None = None  # decided: the smallest d_z these seeds detect

    def as_json(self) -> dict:
        return {"variant": self.variant, "baseline": self.baseline, "n": self.n,
                "effect": _finite(self.effect.mean), "effect_low": _finite(self.effect.low),
                "effect_high": _finite(self.effect.high), "d_z": _finite(self.d_z),
                "p": _finite(self.p), "p_holm": _finite(self.p_holm), "verdict": self.verdict,
                "seeds_needed": self.seeds_needed,
                "detectable_d_z": None if self.detectable_d_z is None else _finite(self.detectable_d_z)}


def against_baseline(values: Mapping[str, Mapping[int, float]], baseline: str,
                     higher_is_better: bool, alpha: float = ALPHA) -> list[Comparison]:
    """Every variant of ``{variant: {seed: value}}`` but ``baseline`` against it: k - 1 paired
    t-tests, Holm-corrected over those (the question papers ask: is X better than the
    baseline?), each with its effect and verdict. Without the baseline's values: none."""
    if baseline not in values:
        return []
    others = [v for v in values if v != baseline]
    raw = []
    for v in others:
        seeds = sorted(set(values[v]) & set(values[baseline]))
        diffs = [values[v][s] - values[baseline][s] for s in seeds]
        effect = mean_ci(diffs)
        p = paired_p_value([values[v][s] for s in seeds], [values[baseline][s] for s in seeds])
        raw.append((v, len(seeds), effect, _d_z(diffs), p))
    adjusted = holm([r[4] for r in raw])
    level = alpha / max(1, sum(not math.isnan(r[4]) for r in raw))  # Holm's strictest step
    out = []
    for (v, n, effect, d_z, p), p_adj in zip(raw, adjusted):
        verdict = "not decided"
        if p_adj < alpha and effect.mean != 0:
            verdict = "better" if (effect.mean > 0) == higher_is_better else "worse"
        needed = detectable = None
        if verdict == "not decided":
            needed = seeds_needed(d_z, level)
        elif n >= 2:
            detectable = detectable_d_z(n, level)
        out.append(Comparison(v, baseline, n, effect, d_z, p, p_adj, verdict, needed, detectable))
    return out


#: the power that ``seeds_needed`` plans for
POWER = 0.8
#: the most seeds ``seeds_needed`` proposes; beyond it: None (not worth deciding by seeds)
MOST_SEEDS = 1000
POWER_METHOD = (
    f"seeds for {POWER:.0%} power: the smallest n at which a two-sided paired t-test at "
    "alpha / (k - 1) (Holm's strictest step) detects the observed d_z (noncentral t); "
    f"none above {MOST_SEEDS}")


def paired_power(n: int, d_z: float, alpha: float) -> float:
    """Power of the two-sided paired t-test with ``n`` pairs at level ``alpha`` against a true
    standardized difference ``d_z`` (the noncentral t with n - 1 df, noncentrality d_z sqrt n)."""
    from scipy.stats import nct, t

    if n < 2:
        return 0.0
    df, shift = n - 1, abs(d_z) * math.sqrt(n)
    critical = float(t.ppf(1 - alpha / 2, df))
    power = float(nct.sf(critical, df, shift) + nct.cdf(-critical, df, shift))
    if math.isnan(power):  # scipy's noncentral t gives up far in the tail, where power is ~1
        return 1.0 if shift > critical else 0.0
    return power


def seeds_needed(d_z: float, alpha: float, power: float = POWER, most: int = MOST_SEEDS) -> int | None:
    """The fewest seeds whose paired t-test at ``alpha`` has ``power`` against ``d_z``; None
    for no difference, or one that needs more than ``most`` seeds."""
    if not math.isfinite(d_z) or d_z == 0:
        return 2 if d_z in (math.inf, -math.inf) else None
    if paired_power(most, d_z, alpha) < power:
        return None
    low, high = 2, most  # power grows with n: bisect
    while low < high:
        mid = (low + high) // 2
        if paired_power(mid, d_z, alpha) >= power:
            high = mid
        else:
            low = mid + 1
    return low


def detectable_d_z(n: int, alpha: float, power: float = POWER) -> float:
    """The smallest |d_z| that ``n`` seeds detect with ``power`` at ``alpha``."""
    from scipy.optimize import brentq

    high = 1.0
    while paired_power(n, high, alpha) < power and high < 1e6:
        high *= 2
    return float(brentq(lambda d: paired_power(n, d, alpha) - power, 1e-9, high))


ACROSS_METHOD = (
    "ranks within each dataset by the mean over seeds (1 = best, ties share the average rank), "
    "averaged over datasets; Friedman's test with Iman and Davenport's F (Demšar 2006, JMLR 7) "
    "on the variants with a mean on every dataset, and the Nemenyi critical difference "
    "CD = q_0.05 sqrt(k (k + 1) / (6 N)) (q from the studentized range): two variants whose "
    "average ranks differ by less than CD are not told apart")


def across_datasets(means: Mapping[str, Mapping[str, float | None]], higher_is_better: bool,
                    alpha: float = ALPHA) -> dict[str, Any]:
    """Variants ranked over datasets from ``{dataset: {variant: mean}}``, as Demšar (2006)
    recommends for comparing methods over several data sets: average ranks, Friedman's test
    (Iman-Davenport F), the Nemenyi critical difference, and the groups it cannot separate
    (the bars of a critical-difference diagram). Variants without a mean on some dataset are
    left out (``left_out``); the test needs at least 2 datasets and 3 variants."""
    import numpy as np
    from scipy.stats import f as f_dist
    from scipy.stats import friedmanchisquare, rankdata, studentized_range

    datasets = list(means)
    names = list(dict.fromkeys(v for d in datasets for v in means[d]))
    kept = [v for v in names if all(means[d].get(v) is not None for d in datasets)]
    out: dict[str, Any] = {"datasets": datasets, "left_out": [v for v in names if v not in kept],
                           "average_ranks": {}, "friedman_f": None, "p": None, "cd": None,
                           "groups": [], "method": ACROSS_METHOD}
    n, k = len(datasets), len(kept)
    if n < 2 or k < 2:
        return out
    sign = -1.0 if higher_is_better else 1.0
    ranks = np.array([rankdata([sign * means[d][v] for v in kept]) for d in datasets])
    average = ranks.mean(axis=0)
    out["average_ranks"] = {v: float(r) for v, r in zip(kept, average)}
    cd = float(studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
               * math.sqrt(k * (k + 1) / (6 * n)))
    out["cd"] = cd
    if k >= 3:
        if np.all(ranks == ranks[0]) and np.unique(ranks[0]).size == k:  # the same order everywhere
            chi2 = n * (k - 1)
        else:
            with np.errstate(all="ignore"):
                chi2 = float(friedmanchisquare(*[[means[d][v] for d in datasets] for v in kept]).statistic)
        if not math.isfinite(chi2):  # every dataset ties every variant
            chi2 = 0.0
        denominator = n * (k - 1) - chi2
        f_value = math.inf if denominator <= 0 else (n - 1) * chi2 / denominator
        out["friedman_f"] = _finite(f_value)
        out["p"] = 0.0 if f_value == math.inf else float(f_dist.sf(f_value, k - 1, (k - 1) * (n - 1)))
    order = sorted(kept, key=lambda v: out["average_ranks"][v])
    groups: list[list[str]] = []
    for i, v in enumerate(order):  # maximal runs of variants within CD of each other
        group = [w for w in order[i:] if out["average_ranks"][w] - out["average_ranks"][v] < cd]
        if len(group) > 1 and not any(set(group) <= set(g) for g in groups):
            groups.append(group)
    out["groups"] = groups
    return out


def _d_z(diffs: Sequence[float]) -> float:
    """Cohen's d_z of paired differences: their mean over their standard deviation (nan with
    fewer than 2; +-inf for a constant non-zero difference, 0 for none)."""
    if len(diffs) < 2:
        return math.nan
    mean = math.fsum(diffs) / len(diffs)
    sd = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    if sd == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / sd


def against_floors(
    values: Mapping[str, Mapping[int, float]], floors: Mapping[str, Mapping[int, float]],
    higher_is_better: bool, alpha: float = ALPHA,
) -> dict[str, list[dict]]:
    """Each variant against each floor reference, by the paired test of the ranking, Holm-
    corrected over the floors of that variant (one cell, one claim: "it beats the floors"):
    ``{variant: [{floor, n, mean_diff, p, p_holm, beats}]}``."""
    out: dict[str, list[dict]] = {}
    for v, mine in values.items():
        raw = []
        for f, floor in floors.items():
            raw.append((f, *_paired(mine, floor)))
        adjusted = holm([r[3] for r in raw])
        out[v] = [{"floor": f, "n": n, "mean_diff": _finite(diff), "p": _finite(p),
                   "p_holm": _finite(p_adj),
                   "beats": bool(p_adj < alpha and diff != 0 and (diff > 0) == higher_is_better)}
                  for (f, n, diff, p), p_adj in zip(raw, adjusted)]
    return out


def range_bounds(bounds: Any) -> tuple[float | None, float | None] | None:
    """``(low, high)`` from a declared or recorded range (numbers or None, low <= high), else
    None: the one check of a range, at the evaluation and where results read it back."""
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2:
        return None
    if not all(b is None or (isinstance(b, (int, float)) and not isinstance(b, bool)
                             and math.isfinite(b)) for b in bounds):
        return None
    low, high = bounds
    if low is not None and high is not None and low > high:
        return None
    return (None if low is None else float(low), None if high is None else float(high))


def _paired(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[int, float, float]:
    """Over the seeds both have: their number, the mean of a - b, the paired p-value."""
    seeds = sorted(set(a) & set(b))
    xa, xb = [a[s] for s in seeds], [b[s] for s in seeds]
    diff = math.fsum(x - y for x, y in zip(xa, xb)) / len(seeds) if seeds else math.nan
    return len(seeds), diff, paired_p_value(xa, xb)


def _finite(x: float) -> float | None:
    """JSON has no nan or inf: missing statistics are written as null."""
    return x if math.isfinite(x) else None
