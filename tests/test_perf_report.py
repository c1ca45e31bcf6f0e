"""``benchmarks/perf.py``'s comparison of two suites' results (what its "statistics agree"
column says)."""

import importlib.util
import json
from pathlib import Path

spec = importlib.util.spec_from_file_location(
    "perf", Path(__file__).parents[1] / "benchmarks" / "perf.py")
perf = importlib.util.module_from_spec(spec)
spec.loader.exec_module(perf)


def results(means, ranks):
    return {"datasets": {"ring8": {
        "variants": {v: {"metrics": {"modes": {"mean": m, "ci_low": m - 1, "ci_high": m + 1}}}
                     for v, m in means.items()},
        "ranking": {"ranks": ranks}}}}


def test_compare_counts_means_inside_and_names_each_changed_rank(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(results({"vanilla": 5.0, "ragan": 7.0}, {"vanilla": 1, "ragan": 1})))
    b.write_text(json.dumps(results({"vanilla": 5.5, "ragan": 3.0}, {"vanilla": 1, "ragan": 2})))
    assert perf.compare(a, b) == ("1/2 means inside the other's interval (largest difference 4); "
                                  "ranks differ in 1 of 2: ring8 ragan 1 -> 2")
    assert perf.compare(a, a).endswith("ranks identical")


def test_rank_changes_names_a_cell_ranked_in_one_run_only():
    assert perf.rank_changes({"ring8": {"a": 1}}, {"ring8": {"a": 1, "b": 2}}) == \
        "ranks differ in 1 of 2: ring8 b none -> 2"
    assert perf.rank_changes({"ring8": None}, {"ring8": None}) == "ranks identical"
