"""Statistics over seeds: intervals and paired tests against scipy and hand computation."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sp

from ganagerie.bench.stats import holm, mean_ci, paired_p_value, rank


def test_mean_ci_is_the_student_t_interval():
    values = [7.0, 8.0, 8.0, 6.0, 8.0]
    ci = mean_ci(values)
    low, high = sp.t.interval(0.95, len(values) - 1, loc=sp.tmean(values), scale=sp.sem(values))
    assert ci.n == 5 and ci.mean == pytest.approx(7.4)
    assert (ci.low, ci.high) == pytest.approx((low, high))
    # by hand: t(0.975, 4) = 2.776, sd = 0.894
    assert ci.half_width == pytest.approx(2.776 * 0.8944 / math.sqrt(5), rel=1e-3)


def test_mean_ci_with_too_few_values_has_no_interval():
    one = mean_ci([3.0])
    assert one.mean == 3.0 and math.isnan(one.low) and math.isnan(one.high)
    assert one.as_json() == {"mean": 3.0, "ci_low": None, "ci_high": None, "n": 1}
    assert mean_ci([]).n == 0 and math.isnan(mean_ci([]).mean)


def test_equal_values_give_a_zero_width_interval():
    ci = mean_ci([8.0, 8.0, 8.0])
    assert (ci.low, ci.mean, ci.high) == (8.0, 8.0, 8.0)


def test_paired_p_value_is_scipys_paired_t_test():
    a, b = [0.9, 0.7, 0.8, 0.95, 0.6], [0.5, 0.6, 0.7, 0.65, 0.55]
    assert paired_p_value(a, b) == pytest.approx(sp.ttest_rel(a, b).pvalue)
    # by hand: t = mean(d) / (sd(d) / sqrt(n)), two-sided
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 4)
    assert paired_p_value(a, b) == pytest.approx(2 * sp.t.sf(mean / (sd / math.sqrt(5)), 4))


def test_paired_p_value_limits():
    assert paired_p_value([8, 8, 8], [8, 8, 8]) == 1.0  # nothing to tell apart
    assert paired_p_value([8, 7, 6], [7, 6, 5]) == 0.0  # the same difference on every seed
    assert math.isnan(paired_p_value([1.0], [2.0]))  # one pair: no test
    with pytest.raises(ValueError):
        paired_p_value([1, 2], [1])


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1, each at least the previous
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.5, math.nan, 0.01])
    assert adjusted[0] == pytest.approx(0.5) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.02)


def test_rank_separates_clear_winners_and_ties_the_rest():
    values = {
        "a": {0: 8.0, 1: 8.0, 2: 8.0, 3: 8.0, 4: 8.0},
        "b": {0: 8.0, 1: 7.0, 2: 8.0, 3: 8.0, 4: 7.0},
        "c": {0: 2.0, 1: 1.0, 2: 3.0, 3: 1.0, 4: 2.0},
    }
    r = rank(values, higher_is_better=True)
    assert r.ranks == {"a": 1, "b": 1, "c": 3}
    assert r.ties["a"] == ["b"] and r.ties["c"] == []
    by_pair = {(p.a, p.b): p for p in r.pairs}
    assert by_pair[("a", "c")].better == "a" and by_pair[("a", "b")].better is None
    assert by_pair[("a", "c")].p_holm == pytest.approx(
        min(1.0, 3 * sp.ttest_rel([8.0] * 5, [2.0, 1.0, 3.0, 1.0, 2.0]).pvalue))


def test_rank_lower_is_better_and_pairs_only_common_seeds():
    values = {"x": {0: 0.1, 1: 0.2, 2: 0.1, 3: 0.15}, "y": {0: 1.0, 1: 1.2, 2: 0.9}}
    r = rank(values, higher_is_better=False)
    assert r.ranks == {"x": 1, "y": 2}
    assert r.pairs[0].n == 3  # seed 3 of x has no partner


def test_rank_with_one_seed_cannot_separate_anything():
    r = rank({"a": {0: 8.0}, "b": {0: 1.0}}, higher_is_better=True)
    assert r.ranks == {"a": 1, "b": 1} and math.isnan(r.pairs[0].p)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=12))
def test_interval_contains_the_mean(values):
    ci = mean_ci(values)
    assert ci.low <= ci.mean + 1e-9 * (1 + abs(ci.mean))
    assert ci.mean <= ci.high + 1e-9 * (1 + abs(ci.mean))


def test_the_interval_never_leaves_the_metrics_range():
    # quick's wgan-gp cell: one seed found 8 modes, two found 1; the t-interval is 3.3 +- 10
    assert mean_ci([8.0, 1.0, 1.0]).low < 0 and mean_ci([8.0, 1.0, 1.0]).high > 8
    ci = mean_ci([8.0, 1.0, 1.0], bounds=(0, 8))
    assert (ci.low, ci.high) == (0.0, 8.0) and ci.mean == pytest.approx(10 / 3)
    fid = mean_ci([30.0, 40.0, 400.0], bounds=(0, None))
    assert fid.low == 0.0 and fid.high == mean_ci([30.0, 40.0, 400.0]).high
    inside = mean_ci([7.0, 8.0, 8.0, 6.0, 8.0], bounds=(0, 100))
    assert (inside.low, inside.high) == (mean_ci([7.0, 8.0, 8.0, 6.0, 8.0]).low,
                                         mean_ci([7.0, 8.0, 8.0, 6.0, 8.0]).high)


def _coverage_cases():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("coverage_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DISTRIBUTIONS


@pytest.mark.parametrize("n", [3, 5, 8, 16])
def test_coverage_of_the_reports_interval_against_the_t_interval_and_the_bootstrap(n):
    """The simulation behind the choice (benchmarks/results/coverage.md has the full table):
    cutting to the range keeps the t-interval's coverage and never leaves the range; the
    bootstrap intervals cover less where seeds are few and the spread is skewed."""
    from ganagerie.bench.stats import coverage

    for name, (draw, mean, bounds) in _coverage_cases().items():
        t_cov, t_out = coverage(draw, mean, n, "t", bounds, reps=300, seed=n)
        cut_cov, cut_out = coverage(draw, mean, n, "t-in-range", bounds, reps=300, seed=n)
        assert cut_cov == t_cov and cut_out == 0.0, name
        if n == 3:
            assert t_out > 0.5, name  # the old interval left the range in most studies
            boot, boot_out = coverage(draw, mean, n, "percentile", bounds, reps=300, seed=n)
            assert boot_out == 0.0
            if "lognormal" in name or "Beta" in name:
                assert boot < cut_cov - 0.1, (name, boot, cut_cov)
        if n == 16 and "mode count" not in name:
            assert cut_cov > 0.8, name


def test_coverage_rejects_an_unknown_interval():
    from ganagerie.bench.stats import coverage

    with pytest.raises(ValueError, match="method must be one of"):
        coverage(lambda rng, n: rng.random(n), 0.5, 3, "wald")


def test_against_the_baseline_is_k_minus_1_paired_tests_with_effects():
    from ganagerie.bench.stats import against_baseline

    values = {"vanilla": {0: 8.0, 1: 7.0, 2: 8.0, 3: 8.0, 4: 7.0},
              "wgan": {0: 1.0, 1: 2.0, 2: 1.0, 3: 1.0, 4: 2.0},
              "sn": {0: 8.0, 1: 8.0, 2: 8.0, 3: 8.0, 4: 7.0},
              "top-k": {0: 8.0, 1: 7.5, 2: 8.0, 3: 8.0}}  # seed 4 did not complete
    got = {c.variant: c for c in against_baseline(values, "vanilla", higher_is_better=True)}
    assert sorted(got) == ["sn", "top-k", "wgan"]  # k - 1 comparisons, not all pairs
    wgan = got["wgan"]
    diffs = [-7.0, -5.0, -7.0, -7.0, -5.0]
    assert wgan.n == 5 and wgan.effect.mean == pytest.approx(-6.2)
    assert (wgan.effect.low, wgan.effect.high) == pytest.approx(
        sp.t.interval(0.95, 4, loc=-6.2, scale=sp.sem(diffs)))
    assert wgan.d_z == pytest.approx(-6.2 / sp.tstd(diffs))
    raw = {v: sp.ttest_rel([values[v][s] for s in sorted(values[v])],
                           [values["vanilla"][s] for s in sorted(values[v])]).pvalue
           for v in ("wgan", "sn", "top-k")}
    assert wgan.p == pytest.approx(raw["wgan"])
    # Holm over the 3 comparisons: the smallest p times 3, the next times 2, ...
    order = sorted(raw, key=raw.get)
    assert wgan.p_holm == pytest.approx(min(1, 3 * raw[order[0]])) and order[0] == "wgan"
    assert wgan.verdict == "worse" and got["sn"].verdict == "not decided"
    assert got["top-k"].n == 4
    # lower is better: the same difference is "better"
    flipped = {c.variant: c.verdict for c in against_baseline(values, "vanilla", False)}
    assert flipped["wgan"] == "better"
    assert against_baseline({"a": {0: 1.0}}, "vanilla", True) == []


def test_seeds_planned_from_power_match_the_paired_t_tests_known_values():
    from ganagerie.bench.stats import detectable_d_z, paired_power, seeds_needed

    # G*Power, paired t-test, two-sided, alpha 0.05: d_z = 1 needs 10 pairs (power 0.803)
    assert paired_power(10, 1.0, 0.05) == pytest.approx(0.8031, abs=1e-4)
    assert seeds_needed(1.0, 0.05) == 10 and paired_power(9, 1.0, 0.05) < 0.8
    assert seeds_needed(-1.0, 0.05) == 10  # the sign of the difference does not matter
    assert seeds_needed(0.5, 0.05) == 34  # d_z = 0.5: 34 pairs (power 0.808)
    assert seeds_needed(0.0, 0.05) is None and seeds_needed(0.001, 0.05) is None
    d = detectable_d_z(10, 0.05)
    assert d == pytest.approx(1.0, abs=0.01) and paired_power(10, d, 0.05) == pytest.approx(0.8)
    # the stricter Holm step of 3 comparisons needs more seeds for the same difference
    assert seeds_needed(1.0, 0.05 / 3) > 10


def test_bench_plan_lines_from_a_pilot(tmp_path, registry):
    """Three variants against vanilla: one decided (with the d_z its seeds detect), one with a
    seed plan, one that no number of seeds can decide (no difference)."""
    import json

    from ganagerie.bench.plan import plan_seeds

    suite = ('variants = ["vanilla", "a", "b", "c"]\nbaseline = "vanilla"\ndatasets = ["ring8"]\n'
             'higher_is_better = { modes = true }\n')
    modes = {"vanilla": [8, 7, 8, 8, 7], "a": [1, 1, 2, 1, 1], "b": [8, 8, 7, 8, 8], "c": [8, 7, 8, 8, 7]}
    runs = [{"key": f"ring8/{v}/seed-{s}", "dataset": "ring8", "variant": v, "seed": s,
             "config": {}, "status": "completed", "step": 1, "final_losses": {},
             "metrics": {"modes": float(m)}, "metric_of": {"modes": "mixture-modes"}, "protocol": {}}
            for v, ms in modes.items() for s, m in enumerate(ms)]
    (tmp_path / "results.json").write_text(json.dumps({
        "suite": {"name": "pilot", "origin": "pilot.toml", "source": suite}, "options": {},
        "threads": 1, "environment": {}, "runs": runs, "datasets": {}, "content_hash": "x"}))
    lines = plan_seeds(tmp_path, registry)
    assert lines[0].startswith("ring8 modes: a vs vanilla, 5 seeds")
    assert "worse; these seeds detect d_z >= " in lines[0]
    assert lines[1].startswith("ring8 modes: b vs vanilla") and lines[1].endswith("seeds for 80% power")
    assert lines[2].endswith("no plan: more than 1000 seeds, or no difference seen")
    assert lines[-1].startswith("the largest of these plans: ")
    assert any(x.startswith("at 100 seeds: ") for x in lines)


def test_bench_plan_budget_table_median_and_best_buy_by_hand():
    """Plans of 4, 6, 9, 9 and 40 seeds: 3 seeds power none, 5 one, 8 two, 10 four (0.4 a
    seed, the most), 50 all five; the median plan is the third smallest, 9."""
    from ganagerie.bench.plan import _best_buy, _budget, _median

    needed = [9, 4, 40, 6, 9]
    table = _budget(needed, 7)
    assert table[0] == "at 3 seeds: 0 of 7 comparisons have 80% power for the effect the pilot saw"
    assert [int(x.split(": ")[1].split(" ")[0]) for x in table] == [0, 1, 2, 4, 4, 4, 4, 5, 5]
    assert _best_buy(needed) == 10
    assert _median(needed) == 9
    assert _median([5, 7]) == 5


def test_ranks_across_datasets_are_demsars_friedman_and_nemenyi_by_hand():
    from ganagerie.bench.stats import across_datasets

    means = {"d1": {"a": 1, "b": 2, "c": 3, "d": 4}, "d2": {"a": 1.5, "b": 2.5, "c": 2, "d": 5},
             "d3": {"a": 1, "b": 3, "c": 2, "d": 4}, "d4": {"a": 0.5, "b": 1, "c": 3, "d": 2},
             "d5": {"a": 1, "b": 1, "c": 1, "d": None}}
    got = across_datasets({k: v for k, v in means.items() if k != "d5"}, higher_is_better=True)
    # ranks (1 = highest): d 1,1,1,2; c 2,3,3,1; b 3,2,2,3; a 4,4,4,4
    assert got["average_ranks"] == {"a": 4.0, "b": 2.5, "c": 2.25, "d": 1.25}
    # chi2_F = 12 N / (k (k + 1)) (sum R^2 - k (k + 1)^2 / 4) = 2.4 * 3.875 = 9.3
    # Iman-Davenport F = (N - 1) chi2 / (N (k - 1) - chi2) = 27.9 / 2.7
    assert got["friedman_f"] == pytest.approx(27.9 / 2.7)
    assert got["p"] == pytest.approx(sp.f.sf(27.9 / 2.7, 3, 9))
    # Nemenyi: q_0.05 = 2.569 for k = 4 (Demsar 2006, table 5); CD = 2.569 sqrt(20 / 24)
    assert got["cd"] == pytest.approx(2.569 * math.sqrt(20 / 24), rel=1e-3)
    assert got["groups"] == [["d", "c", "b"], ["c", "b", "a"]]  # only d and a are told apart
    lower = across_datasets({k: v for k, v in means.items() if k != "d5"}, higher_is_better=False)
    assert lower["average_ranks"]["a"] == 1.0
    partial = across_datasets(means, True)  # d has no mean on d5: left out
    assert partial["left_out"] == ["d"] and sorted(partial["average_ranks"]) == ["a", "b", "c"]
    assert across_datasets({"d1": means["d1"]}, True)["p"] is None  # one dataset: no test
