"""Re-run the runs recorded in a report and say what differs from the recorded results."""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from ..files import write_json
from ..registry import Registry
from .environment import cpu_name
from .harness import BATCH_MODES, MAX_JOBS, default_jobs, execute, make_executor
from .layout import PLAN_FILE, PLAN_FORMAT
from .lock import bench_lock
from .references import evaluate_references, read_references
from .report import build, text_of_html, text_of_markdown, to_html, to_markdown
from .results import (
    COMPARED,
    across,
    content_hash,
    flatten,
    load_results,
    records_seed_groups,
    run_record,
    search_summary,
    summarize,
)
from .search_space import trial_of
from .suite import RunSpec, parse_suite


def select_runs(recorded: list[dict[str, Any]], patterns: Sequence[str]) -> list[dict[str, Any]]:
    """The recorded runs whose key matches any pattern (``ring8/*/seed-0``); all without any."""
    if not patterns:
        return recorded
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(r["key"], pattern) for r in recorded):
            keys = ", ".join(r["key"] for r in recorded[:4])
            raise UsageError(f"--runs '{pattern}' matches no recorded run (keys look like {keys}, "
                             "...; patterns take * and ?)")
    return [r for r in recorded if any(fnmatch.fnmatchcase(r["key"], p) for p in patterns)]


def with_their_groups(chosen: list[dict[str, Any]], recorded: list[dict[str, Any]],
                      batch_seeds: str) -> tuple[list[dict[str, Any]], dict[str, tuple[Any, ...]]]:
    """The chosen runs and every run that trained seed-batched together with one of them, in
    recorded order; and for each, the group it re-trains in. Seeds trained together agree with
    training alone only up to the order of floating-point sums, so a run re-trains bit-identically
    only in its own group: the seeds its status.json recorded (``trained_with``), or, in a
    report from before that was recorded, every seed of its cell (its suite trained those together
    where it could)."""
    def group(run: dict[str, Any]) -> tuple[Any, ...]:
        cell = (run["dataset"], run["variant"])
        if batch_seeds == "off":
            return (run["key"],)
        if "trained_with" not in run:  # a report from before trained_with was recorded
            return cell
        seeds = run["trained_with"]
        ok = isinstance(seeds, list) and all(type(x) is int for x in seeds)
        return (*cell, *sorted(seeds)) if ok and len(seeds) > 1 else (run["key"],)

    wanted = {group(r) for r in chosen}
    picked = [r for r in recorded if group(r) in wanted]
    return picked, {r["key"]: group(r) for r in picked}


def verify(
    report_dir: str | Path,
    registry: Registry | None = None,
    *,
    runs: Sequence[str] = (),
    out: str | Path | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
    batch_seeds: str = "recorded",
) -> tuple[list[str], Path, int]:
    """Re-run the selected recorded runs into ``out`` (a temp dir by default).

    Runs that trained seed-batched re-train with the seeds they trained with (see
    ``with_their_groups``), and those are checked too. ``batch_seeds="off"`` re-trains every
    run alone instead: for a report from before runs recorded ``trained_with`` whose seeds
    trained one by one (the ``auto`` rule of its day may differ from today's). Returns the
    differences (one line each; empty when everything matches), the directory the runs were
    made in, and how many runs were checked.
    """
    report_dir = Path(report_dir)
    results = load_results(report_dir)
    if jobs is not None and not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    if batch_seeds not in ("recorded", "off"):
        raise UsageError(f"--batch-seeds must be 'recorded' or 'off', got {batch_seeds!r}")
    recorded_mode = results["options"].get("batch_seeds", "off")  # reports before it: one by one
    if recorded_mode not in BATCH_MODES:
        raise UsageError(f"results.json: options.batch_seeds is {recorded_mode!r}, not one of "
                         f"{', '.join(BATCH_MODES)}; the report is damaged")
    batch_seeds = recorded_mode if batch_seeds == "recorded" else "off"
    recorded_problems = check_recorded(report_dir, results, registry)
    chosen, groups = with_their_groups(select_runs(results["runs"], runs), results["runs"], batch_seeds)
    specs = [RunSpec.from_json(r) for r in chosen]
    if any(s.config["device"] != "cpu" for s in specs) and not torch.cuda.is_available():
        raise UsageError("these runs were made on a GPU and this machine has none; verify them "
                         "on the same device type")
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="ganagerie-verify-"))
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give an empty directory")
    if (out / PLAN_FILE).exists():
        raise UsageError(f"{out} already holds a benchmark; give an empty --out")
    with bench_lock(out):
        write_json(out / PLAN_FILE, {"format": PLAN_FORMAT, "suite": results["suite"],
                                     "options": results["options"], "threads": results["threads"],
                                     "environment": results["environment"],
                                     "runs": [s.as_json() for s in specs]})
        executor = make_executor(default_jobs(specs) if jobs is None else jobs, results["threads"])
        execute(specs, out, executor, registry, progress, f"verify {results['suite']['name']}",
                batch_seeds=batch_seeds, groups=groups)
        # a search's trials have no reference rows: the summary compares its re-runs only
        evaluate_references([s for s in specs if trial_of(s.variant) is None], out, registry)
    differences = list(recorded_problems)
    recorded_refs = results.get("references") if isinstance(results.get("references"), dict) else {}
    for label in dict.fromkeys(s.dataset for s in specs) if recorded_refs else ():
        seeds = {str(s.seed) for s in specs if s.dataset == label}
        for name, by_seed in read_references(out, label).items():
            for seed, metrics in by_seed.items():
                if str(seed) not in seeds:
                    continue
                now = {c: x for c, (_, _, x) in flatten(metrics).items()}
                then = (recorded_refs.get(label) or {}).get(name, {}).get(str(seed))
                if then != now:
                    differences.append(f"references {label}/{name}/seed-{seed}: {_show(then)} "
                                       f"recorded, {_show(now)} now")
    for old, spec in zip(chosen, specs):
        new = run_record(out, spec, registry)
        for key in COMPARED:
            if old[key] != new[key]:
                differences.append(f"{spec.key}: {key} {_show(old[key])} recorded, "
                                   f"{_show(new[key])} now")
    return differences, out, len(specs)


def check_recorded(report_dir: Path, results: dict[str, Any], registry: Registry | None) -> list[str]:
    """What in a report directory disagrees with its own runs: the summary over seeds, the
    search's summary, the content hash, report.md/html (their text; figures are not checked)
    and, where the run directories are there, each run's files (eval.json, metrics.jsonl,
    status.json)."""
    problems = []
    suite = parse_suite(results["suite"]["source"], results["suite"]["origin"])
    references = results.get("references") if isinstance(results.get("references"), dict) else None
    datasets = summarize(results["runs"], suite, registry, references)
    if _show(datasets) != _show(results["datasets"]):
        problems.append("results.json: the summary over seeds ('datasets') is not what its runs give")
    if _show(across(datasets)) != _show(results.get("across_datasets")):
        problems.append("results.json: the ranking across datasets is not what its runs give")
    if suite.search is not None and _show(search_summary(results["runs"], suite, results["options"],
                                                         registry)) != _show(results.get("search")):
        problems.append("results.json: the search's summary ('search') is not what its runs give")
    if content_hash(results) != results["content_hash"]:
        problems.append(f"results.json: content_hash {results['content_hash']} recorded, "
                        f"{content_hash(results)} computed from its runs")
    text = build(results, None)
    title = f"ganagerie benchmark: {results['suite']['name']}"
    for name, render, strip in (("report.md", to_markdown, text_of_markdown),
                                ("report.html", lambda b: to_html(b, title), text_of_html)):
        try:
            written = (report_dir / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            problems.append(f"{name}: missing or unreadable")
            continue
        if strip(written) != strip(render(text)):
            problems.append(f"{name}: its text is not what results.json gives")
    for run in results["runs"]:
        spec = RunSpec.from_json(run)
        if (report_dir / "runs" / spec.key).is_dir():
            on_disk = run_record(report_dir, spec, registry)
            for key in COMPARED:
                if on_disk[key] != run[key]:
                    problems.append(f"{spec.key}: {key} {_show(run[key])} in results.json, "
                                    f"{_show(on_disk[key])} in its run directory")
    return problems


def machine_note(report_dir: str | Path, batch_seeds: str = "recorded") -> str:
    """Whether differences can come from the machine: CPU results are bit-identical only on
    the same CPU model, thread count and torch version; elsewhere they agree statistically.
    And, for a report that does not record which seeds trained together, how to re-train its
    runs one by one."""
    results = load_results(report_dir)
    env = results["environment"]
    now = {"cpu": cpu_name(), "torch": torch.__version__}
    changed = [f"{k} {env.get(k)!r} then, {v!r} now" for k, v in now.items() if env.get(k) != v]
    if changed:
        note = ("note: the machine differs (" + "; ".join(changed) + "): CPU results are bit-identical "
                "only on the same CPU model, torch and threads, so differences may come from that")
    else:
        note = ("note: same CPU model and torch version, and the recorded thread count was used: these "
                "differences do not come from the machine")
    mode = results["options"].get("batch_seeds", "off")
    if batch_seeds == "recorded" and mode != "off" and not records_seed_groups(results["runs"]):
        note += ("\nnote: this report does not record which seeds trained together, so each cell's "
                 f"seeds re-trained together where today's --batch-seeds {mode} batches them; seeds "
                 "that trained one by one re-train so with --batch-seeds off")
    return note


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
