"""Statistics over seeds: Student-t intervals, and paired tests that say when variants tie.

Every number is a mean over seeds with its interval; nothing is a best-of-run. Two
variants are compared on the seeds where both completed (a paired t-test, because
the seed fixes the data order and the initial noise of both), with Holm's
correction over all pairs, so that "A ranks above B" holds at the stated level for
the whole table at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

CONFIDENCE = 0.95
ALPHA = 0.05
INTERVAL_METHOD = "Student-t 95% confidence interval of the mean over seeds"
TEST_METHOD = (
    "two-sided paired t-test across seeds (scipy.stats.ttest_rel) on the seeds where both "
    "variants completed, Holm-corrected over all pairs of variants, alpha = 0.05"
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


def mean_ci(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean of ``values`` with its Student-t interval at ``confidence``."""
    from scipy.stats import t

    n = len(values)
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = math.fsum(values) / n
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


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


def _paired(a: Mapping[int, float], b: Mapping[int, float]) -> tuple[int, float, float]:
    """Over the seeds both have: their number, the mean of a - b, the paired p-value."""
    seeds = sorted(set(a) & set(b))
    xa, xb = [a[s] for s in seeds], [b[s] for s in seeds]
    diff = math.fsum(x - y for x, y in zip(xa, xb)) / len(seeds) if seeds else math.nan
    return len(seeds), diff, paired_p_value(xa, xb)


def _finite(x: float) -> float | None:
    """JSON has no nan or inf: missing statistics are written as null."""
    return x if math.isfinite(x) else None
