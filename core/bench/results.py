"""A benchmark's results, read back from its run directories: per run, then over seeds.

``collect`` gives what ``results.json`` holds: every run (status, final losses, final
metric values, resolved config), and per dataset a table of variants x metrics with
the mean and 95% interval over seeds, the failure rate and the ranking. Only the
final evaluation of each run counts: no best-of-run numbers. Diverged and failed runs
are left out of the means and counted in the failure rate. In a search (a suite's
``[search]``) the summary over seeds is of the best settings' re-runs; the trials are
summarized in ``search`` (``ganagerie.bench.search_results``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import schemas
from ..components import implements
from ..errors import UsageError
from ..files import UnreadableFile
from ..registry import Registry
from ..train.checkpoint import checkpoint_step
from ..train.rundir import RunDir
from . import stats
from .layout import evaluation_planned, read_plan, run_dir
from .references import CEILING, FLOORS, read_references
from .search_results import summarize_search
from .search_space import trial_of
from .stats import range_bounds
from .suite import RunSpec, Suite, parse_suite

RESULTS_FORMAT = 1


def flatten(nested: dict[str, Any]) -> dict[str, tuple[str, str, float]]:
    """``{metric: {value: x}}`` as columns ``{value: (metric, value, x)}``.

    A value name two metrics share becomes ``metric.value``.
    """
    pairs = [(m, k, float(x)) for m, values in nested.items() if isinstance(values, dict)
             for k, x in values.items() if isinstance(x, (int, float)) and not isinstance(x, bool)]
    names = [k for _, k, _ in pairs]
    return {(k if names.count(k) == 1 else f"{m}.{k}"): (m, k, x) for m, k, x in pairs}


def read_eval(rd: RunDir) -> tuple[dict[str, tuple[str, str, float]], dict[str, Any]]:
    """A run's final metric values (see ``flatten``) and their protocol, from ``eval.json``."""
    try:
        data = schemas.read(rd.eval, schemas.Evaluation)
    except (FileNotFoundError, ValueError):
        return {}, {}
    return flatten(data["metrics"]), data["protocol"]


def _log_rows(rd: RunDir) -> list[dict[str, Any]]:
    """A run's metrics.jsonl (a damaged one: one line naming the file and the line)."""
    try:
        return schemas.read_metrics(rd.metrics)
    except UnreadableFile as exc:
        raise UsageError(str(exc)) from None


def eval_rows(rd: RunDir) -> list[tuple[int, dict[str, float]]]:
    """Metric values logged during training: ``(step, {column: value})`` in step order."""
    return [(int(row["step"]), {c: x for c, (_, _, x) in flatten(row["eval"]).items()})
            for row in _log_rows(rd) if isinstance(row.get("eval"), dict)]


def loss_rows(rd: RunDir) -> list[tuple[int, dict[str, float]]]:
    """Logged losses and penalties ``(step, {name: value})``, without timings, learning rates
    or evaluations; a non-finite value (written as null) is None."""
    skip = {"step", "eval", "steps_per_s", "time_s", "nonfinite", "lr_g", "lr_d"}
    return [(int(r["step"]), {k: v for k, v in r.items() if k not in skip})
            for r in _log_rows(rd) if "d_loss" in r]


def run_record(out: Path, spec: RunSpec, registry: Registry | None = None) -> dict[str, Any]:
    """One run as results.json records it (``registry``: to tell which of its techniques
    transform what D sees; without it, none is assumed to)."""
    rd = run_dir(out, spec.key)
    status = rd.read_status()
    losses = loss_rows(rd)
    columns, protocol = read_eval(rd)
    state = status.get("status", "missing")
    if state == "running":  # a killed run that was never rerun
        state = "unfinished"
    if state == "completed" and not columns and evaluation_planned(spec):
        state = "unfinished"
    if state == "completed" and checkpoint_step(rd.checkpoint) != spec.config["steps"]:
        state = "unfinished"  # status.json claims what its checkpoint does not hold
    health = training_health(losses, transforming_techniques(spec, registry))
    if state == "completed" and health["not_trained"]:
        state = "not trained"
    return {
        **spec.as_json(),
        "status": state,
        "step": status.get("step", 0),
        "steps": spec.config["steps"],
        "error": status.get("error"),
        # null, not NaN, for a diverged run's last losses: results.json stays strict JSON
        "final_losses": {k: v if isinstance(v, (int, float)) and math.isfinite(v) else None
                         for k, v in (losses[-1][1] if losses else {}).items()},
        "metrics": {c: x for c, (_, _, x) in columns.items()},
        "metric_of": {c: m for c, (m, _, _) in columns.items()},
        "protocol": protocol,
        "health": health,
        "trained_with": _seed_group(status.get("trained_with"), spec.seed),
    }


def records_seed_groups(runs: list[dict[str, Any]]) -> bool:
    """Whether every run of a results.json records the seeds it trained with (``trained_with``);
    reports from before that record do not."""
    return all("trained_with" in r for r in runs)


def _seed_group(value: Any, seed: int) -> list[int] | None:
    """status.json's ``trained_with`` where it is a list of distinct seeds holding the run's
    own; None otherwise (trained alone, or a file that says something else)."""
    if (isinstance(value, list) and all(type(s) is int for s in value)
            and len(set(value)) == len(value) > 1 and seed in value):
        return value
    return None


#: a run whose discriminator never told real from generated better than this, in any log
#: window, or whose generator never got a gradient above GRAD_FLOOR, did not train
SEPARATION_FLOOR = 0.6
GRAD_FLOOR = 1e-8


def transforming_techniques(spec: RunSpec, registry: Registry | None) -> list[str]:
    """The run's techniques whose class implements ``transform`` (DiffAugment, ADA, instance
    noise, PacGAN's packing): D sees their output, and its logged separation is measured on it."""
    if registry is None:
        return []
    found = []
    for item in spec.config.get("regularizers") or []:
        if not (isinstance(item, dict) and isinstance(item.get("name"), str)):
            continue
        try:  # built as the trainer builds it, so a factory that is not a class counts too
            tech = registry.create("regularizer", item["name"], item.get("options") or {})
        except UsageError:  # a plugin not installed here, or options it no longer takes
            continue
        if implements(tech, "transform"):
            found.append(item["name"])
    return found


def training_health(losses: list[tuple[int, dict[str, Any]]],
                    transformed_by: Sequence[str] = ()) -> dict[str, Any]:
    """Whether a run trained, from its logged diagnostics: D's best separation accuracy and
    logit gap, and G's largest gradient norm over the log windows (None where not logged).

    Where techniques transform D's inputs (``transformed_by``), D's separation was logged
    on transformed samples, not on the data (augmentation and noise make them harder to
    tell apart by design: DiffAugment at 8x8 keeps it near 60% in runs whose FID is far
    from the floors); it is recorded but not used to call the run not trained."""
    def best(name: str, key=abs) -> float | None:
        values = [v[name] for _, v in losses if isinstance(v.get(name), (int, float))]
        return max(values, key=key) if values else None

    accuracy, gap, g_grad = best("diag/d_accuracy"), best("diag/d_gap"), best("diag/g_grad_norm")
    reasons = []
    if accuracy is not None and accuracy < SEPARATION_FLOOR and not transformed_by:
        reasons.append(f"D never separated real from generated (best accuracy {accuracy:.3f} < "
                       f"{SEPARATION_FLOOR})")
    if g_grad is not None and g_grad < GRAD_FLOOR:
        reasons.append(f"G never got a gradient (largest norm {g_grad:.2g})")
    return {"d_accuracy_max": accuracy, "d_gap_max": gap, "g_grad_norm_max": g_grad,
            "separation_on": (f"inputs transformed by {', '.join(transformed_by)}"
                              if transformed_by else "training batches"),
            "not_trained": "; ".join(reasons) or None}


def collect(out: str | Path, registry: Registry | None = None) -> dict[str, Any]:
    """Everything ``results.json`` holds, from ``OUT/bench.json`` and the run directories."""
    out = Path(out)
    plan = read_plan(out)
    specs = [RunSpec.from_json(r) for r in plan["runs"]]
    runs = [run_record(out, s, registry) for s in specs]
    references = {label: {name: {str(seed): {c: x for c, (_, _, x) in flatten(metrics).items()}
                                 for seed, metrics in by_seed.items()}
                          for name, by_seed in read_references(out, label).items()}
                  for label in dict.fromkeys(s.dataset for s in specs)}
    return assemble(plan, runs, references, registry)


#: what must match, run by run
COMPARED = ("status", "step", "final_losses", "metrics")


def load_results(report_dir: str | Path) -> dict[str, Any]:
    """results.json, checked to have the shape ``bench report`` writes (nothing in it is trusted)."""
    path = Path(report_dir) / "results.json"
    try:
        results = schemas.read(path, schemas.Results)
    except FileNotFoundError:
        raise UsageError(f"no results.json in {report_dir}; give the --out of a "
                         "`ganagerie bench run` or a committed report directory") from None
    except ValueError as exc:  # not JSON, or not of the results' schema
        raise UsageError(f"{str(exc)[:600]}; restore it or rerun `ganagerie bench report`") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror})") from None
    problem = _shape_problem(results)
    if problem:
        raise UsageError(f"{path} is not a ganagerie results file ({problem}); restore it or rerun "
                         "`ganagerie bench report`")
    return results


def _shape_problem(results: dict[str, Any]) -> str | None:
    """What ``schemas.Results`` cannot check: each run's spec."""
    for i, run in enumerate(results["runs"]):
        try:
            RunSpec.from_json(run)
        except UsageError as exc:
            return f"runs[{i}]: {exc}"
    return None


def assemble(plan: dict[str, Any], runs: list[dict[str, Any]], references: dict[str, Any],
             registry: Registry | None) -> dict[str, Any]:
    """results.json from the plan's suite, options, threads and environment, the run records
    and the reference values: the summary over seeds, the statistics' protocol, the hash.
    A committed report (its runs not kept) is restated from its own results.json this way."""
    suite = parse_suite(plan["suite"]["source"], plan["suite"]["origin"])
    datasets = summarize(runs, suite, registry, references)
    results = {
        "format": RESULTS_FORMAT,
        "suite": plan["suite"],
        "options": plan["options"],
        "threads": plan["threads"],
        "statistics": {"interval": stats.INTERVAL_METHOD, "test": stats.TEST_METHOD,
                       "confidence": stats.CONFIDENCE, "alpha": stats.ALPHA,
                       "values": "final evaluation of each run; diverged and failed runs are "
                                 "excluded from means and counted in the failure rate"},
        "datasets": datasets,
        "references": references,
        "runs": runs,
        "environment": plan["environment"],
        **({"seeds_added": plan["seeds_added"]} if plan.get("seeds_added") else {}),
    }
    if (over := across(datasets)) is not None:
        results["across_datasets"] = over
    if suite.search is not None:
        results["search"] = search_summary(runs, suite, plan["options"], registry)
    results["content_hash"] = content_hash(results)
    return results


def search_summary(runs: list[dict[str, Any]], suite: Suite, options: dict[str, Any],
                   registry: Registry | None) -> dict[str, Any]:
    """results.json's ``search`` from the run records, with the metrics' directions as the
    summary over seeds finds them."""
    directions = {label: metric_directions([r for r in runs if r["dataset"] == label],
                                           suite.higher_is_better, registry)
                  for label in dict.fromkeys(r["dataset"] for r in runs)}
    return summarize_search(runs, suite.search, options, directions)


def summarize(runs: list[dict[str, Any]], suite: Suite, registry: Registry | None,
              references: dict[str, Any] | None = None) -> dict[str, Any]:
    """Per dataset, in the order the runs name them: the summary over seeds (results.json's
    ``datasets``), computed from the run records and the reference values alone; in a search,
    of its re-runs only."""
    if suite.search is not None:
        runs = [r for r in runs if trial_of(r["variant"]) is None]
    datasets = {}
    for label in dict.fromkeys(r["dataset"] for r in runs):
        mine = [r for r in runs if r["dataset"] == label]
        directions = metric_directions(mine, suite.higher_is_better, registry)
        datasets[label] = summarize_dataset(mine, directions, suite.rank_by,
                                            (references or {}).get(label) or {}, suite.baseline)
        context = [row.as_json() for row in suite.context if row.dataset == label]
        if context:  # published figures, shown beside the rows: never tested against them
            datasets[label]["context"] = context
    return datasets


def across(datasets: dict[str, Any]) -> dict[str, Any] | None:
    """Variants ranked over the datasets (``stats.across_datasets``) on the metric every
    dataset ranks by, where a suite has several datasets ranked by the same metric."""
    rankings = [ds.get("ranking") for ds in datasets.values()]
    if len(datasets) < 2 or not all(rankings):
        return None
    metrics = {(r["metric"], r["higher_is_better"]) for r in rankings}
    if len(metrics) != 1:
        return None
    (metric, higher), = metrics
    means = {label: {v: cells["metrics"][metric]["mean"] for v, cells in ds["variants"].items()}
             for label, ds in datasets.items()}
    return {"metric": metric, "higher_is_better": higher,
            **stats.across_datasets(means, higher)}


def _short_of(cell: dict[str, Any], ceiling: dict[str, Any] | None, higher_is_better: bool) -> bool:
    if not ceiling or ceiling["mean"] is None or cell["mean"] is None:
        return True
    low = ceiling["ci_low"] if ceiling["ci_low"] is not None else ceiling["mean"]
    high = ceiling["ci_high"] if ceiling["ci_high"] is not None else ceiling["mean"]
    return cell["mean"] < low if higher_is_better else cell["mean"] > high


def content_hash(results: dict[str, Any]) -> str:
    """SHA-256 of what the runs produced (statuses, losses, metrics, configs), not of when/where."""
    keep = ("key", "status", "step", "final_losses", "metrics", "config")
    payload: Any = [{k: r[k] for k in keep} for r in results["runs"]]
    if results.get("references"):  # reports before reference rows hash their runs alone
        payload = {"runs": payload, "references": results["references"]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def metric_directions(
    runs: list[dict[str, Any]], declared: dict[str, bool], registry: Registry | None
) -> dict[str, bool | None]:
    """Whether higher is better for each metric column: as the suite declares it, else as
    the metric's ``higher_is_better`` attribute (a bool, or a dict by value) says, else None."""
    out: dict[str, bool | None] = {}
    for r in runs:
        for column, metric in r["metric_of"].items():
            if column in out:
                continue
            value = column.removeprefix(f"{metric}.")
            better = declared.get(column, declared.get(value))
            if better is None and registry is not None and (
                    metric in registry.entries["metric"] or metric in registry.qualified["metric"]):
                attr = getattr(registry.get("metric", metric).factory, "higher_is_better", None)
                better = attr.get(value) if isinstance(attr, dict) else attr
            out[column] = better if isinstance(better, bool) else None
    return out


def metric_ranges(runs: list[dict[str, Any]]) -> dict[str, tuple[float | None, float | None]]:
    """Each metric column's range, as the runs' evaluations recorded it (``protocol.metrics.M.
    range``; the widest where runs differ, open where any run records none or a damaged one)."""
    out: dict[str, tuple[float | None, float | None]] = {}
    seen: set[str] = set()
    for r in runs:
        if r.get("status") != "completed":
            continue
        protocols = (r.get("protocol") or {}).get("metrics") if isinstance(r.get("protocol"), dict) else None
        for column, metric in r["metric_of"].items():
            value = column.removeprefix(f"{metric}.")
            recorded = protocols.get(metric) if isinstance(protocols, dict) else None
            raw = recorded.get("range") if isinstance(recorded, dict) else None
            bounds = range_bounds(raw.get(value)) if isinstance(raw, dict) else None
            bounds = bounds or (None, None)
            if column not in seen:
                seen.add(column)
                out[column] = bounds
                continue
            low, high = out[column]
            out[column] = (None if low is None or bounds[0] is None else min(low, bounds[0]),
                           None if high is None or bounds[1] is None else max(high, bounds[1]))
    return out


def summarize_dataset(
    runs: list[dict[str, Any]], directions: dict[str, bool | None], rank_by: str | None,
    references: dict[str, dict[str, dict[str, float]]] | None = None,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Variants x metrics over seeds for one dataset, the failure rates, the reference rows,
    each variant's paired tests against the floors, the ranking, and (with a ``baseline``)
    every other variant against it on each metric whose direction is known."""
    metric_names = list(directions)
    ranges = metric_ranges(runs)
    owner = {c: m for r in runs for c, m in (r.get("metric_of") or {}).items()}
    variants: dict[str, Any] = {}
    per_seed: dict[str, dict[str, dict[int, float]]] = {}
    for label in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == label]
        ok = [r for r in mine if r["status"] == "completed"]
        counts = {s: sum(r["status"] == s for r in mine)
                  for s in ("completed", "diverged", "failed", "unfinished", "missing", "not trained")}
        per_seed[label] = {m: {r["seed"]: r["metrics"][m] for r in ok
                               if m in r["metrics"] and math.isfinite(r["metrics"][m])}
                           for m in metric_names}
        variants[label] = {
            "runs": len(mine),
            **counts,
            "failure_rate": (counts["diverged"] + counts["failed"]) / len(mine),
            "metrics": {m: {**stats.mean_ci(list(per_seed[label][m].values()),
                                            bounds=ranges.get(m, (None, None))).as_json(),
                            "values": {str(s): v for s, v in per_seed[label][m].items()}}
                        for m in metric_names},
        }
        # a conditional metric the suite left out for an unconditional generator: "n/a"
        unscored = {spec.split(":", 1)[0] for spec in (mine[0].get("not_scored") or [])}
        for m in metric_names:
            if owner.get(m) in unscored and not per_seed[label][m]:
                variants[label]["metrics"][m]["not_scored"] = True
    primary = rank_by if rank_by in directions else next(
        (m for m in metric_names if directions[m] is not None), None)
    ranking = None
    if primary is not None and directions.get(primary) is not None:
        # a variant with no completed run has nothing to compare: it is left unranked
        scored = {v: per_seed[v][primary] for v in variants if per_seed[v][primary]}
        result = stats.rank(scored, directions[primary])
        ranking = {"metric": primary, "higher_is_better": directions[primary],
                   "ranks": result.ranks, "ties": result.ties,
                   "unranked": [v for v in variants if v not in scored],
                   "pairs": [p.as_json() for p in result.pairs]}
    refs = {name: {m: {int(s): vals[m] for s, vals in by_seed.items()
                       if isinstance(vals.get(m), (int, float)) and math.isfinite(vals[m])}
                   for m in metric_names}
            for name, by_seed in (references or {}).items()}
    reference_rows = {name: {m: {**stats.mean_ci(list(per[m].values()),
                                                 bounds=ranges.get(m, (None, None))).as_json(),
                                 "values": {str(s): v for s, v in per[m].items()}}
                             for m in metric_names} for name, per in refs.items()}
    for m in metric_names:
        if directions[m] is None:
            continue
        # a reference is a floor for a metric only where it falls short of the ceiling's
        # interval (one mode has the real data's sample quality, but not its coverage)
        ceiling = reference_rows.get(CEILING, {}).get(m)
        floors = {f: refs[f][m] for f in FLOORS if f in refs and refs[f][m]
                  and _short_of(reference_rows[f][m], ceiling, directions[m])}
        tests = stats.against_floors({v: per_seed[v][m] for v in variants if per_seed[v][m]},
                                     floors, directions[m])
        for v, found in tests.items():
            variants[v]["metrics"][m]["floors"] = found
    if ranking is not None:
        ranking["not_above_floor"] = [
            v for v in variants
            if any(not t["beats"] for t in variants[v]["metrics"][primary].get("floors", []))]
    summary = {"metrics": metric_names, "directions": directions, "variants": variants,
               "references": reference_rows, "ranking": ranking}
    if baseline is not None:
        summary["baseline"] = {
            "variant": baseline, "test": stats.BASELINE_METHOD, "power": stats.POWER_METHOD,
            "comparisons": {m: [c.as_json() for c in stats.against_baseline(
                {v: per_seed[v][m] for v in variants if per_seed[v][m]}, baseline, directions[m])]
                for m in metric_names if directions[m] is not None}}
    return summary
