"""The harness: every run of a suite in its own directory, resumable, then the report.

``OUT/bench.json`` records the plan (the suite text, the command-line options, the
thread count and every resolved run); ``OUT/runs/DATASET/VARIANT/seed-N/`` are
ordinary run directories. A rerun into the same ``OUT`` skips the finished runs,
resumes the unfinished ones from their checkpoints, and refuses to mix in a run
whose config differs. Everything the report says is read back from these files.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import schemas
from ..config import LIFT, RunConfig, limits_lifted
from ..errors import FaultError, PluginFault, UsageError, one_line
from ..files import refuse_links, write_json
from ..plugin_loader import get_registry
from ..registry import Registry
from ..runs import evaluate_run
from ..train.batched import train_seeds, why_not
from ..train.build import generates_by_class
from ..train.rundir import RunDir
from ..train.tracking import Tracking
from ..train.trainer import prepare, train
from .environment import describe_environment
from .executor import Executor, ProcessExecutor, SerialExecutor, cpu_count, threads_per_job
from .layout import PLAN_FILE, PLAN_FORMAT, evaluated, evaluation_planned, read_plan, run_dir, seeds_added
from .lock import bench_lock
from .progress import SuiteProgress
from .ray_executor import RayExecutor
from .references import evaluate_references
from .report import write_report
from .suite import MAX_SEEDS, RunSpec, Suite, expand

FINISHED = ("completed", "diverged")
BATCH_MODES = ("auto", "on", "off")
MAX_JOBS = 1024


@dataclass
class RunOutcome:
    """What became of one run in this invocation."""

    key: str
    status: str  # completed, diverged or failed
    step: int
    seconds: float = 0.0
    reused: bool = False
    error: str | None = None



#: a benchmark of more run directories than this starts only when asked twice (``--yes``)
CONFIRM_RUNS = 1_000


def confirm_size(suite: Suite, out: Path, seeds: int | None, yes: bool) -> None:
    """Refuse, before a run is planned, to begin a benchmark of more than ``CONFIRM_RUNS`` run
    directories without ``--yes`` (or ``GANAGERIE_NO_LIMITS=1``): a typo in a suite must not
    fill a disk. An ``out`` that holds the benchmark's plan was confirmed when it began."""
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        return  # plan_suite says what --seeds may be
    runs = len(suite.datasets) * len(suite.variants) * (len(suite.seeds) if seeds is None else seeds)
    if runs <= CONFIRM_RUNS or yes or limits_lifted() or (out / PLAN_FILE).exists():
        return
    raise UsageError(f"{suite.name}: {len(suite.datasets)} datasets x {len(suite.variants)} variants x "
                     f"{runs // (len(suite.datasets) * len(suite.variants)):,} seeds is {runs:,} runs, "
                     f"more than {CONFIRM_RUNS:,}, each a directory in {out}; add --yes to start them "
                     f"all (or set {LIFT})")


def plan_suite(
    suite: Suite,
    registry: Registry,
    *,
    seeds: int | None = None,
    steps: int | None = None,
    sets: Sequence[str] = (),
) -> list[RunSpec]:
    """The suite's runs, with ``--seeds N`` (seeds 0..N-1), ``--steps`` and ``--set`` applied."""
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds must be between 1 and {MAX_SEEDS}, got {seeds}")
    return expand(suite, registry, seeds=None if seeds is None else range(seeds), steps=steps,
                  sets=sets, conditional=lambda cfg: generates_by_class(cfg, registry))


def run_suite(
    suite: Suite,
    out: str | Path,
    registry: Registry | None = None,
    *,
    seeds: int | None = None,
    steps: int | None = None,
    sets: Sequence[str] = (),
    jobs: int | None = None,
    threads: int | None = None,
    progress: bool | None = None,
    executor: str = "local",
    address: str | None = None,
    batch_seeds: str | None = None,
    track: Sequence[str] = (),
    yes: bool = False,
) -> list[RunOutcome]:
    """Run (or finish) every run of ``suite`` into ``out`` and write the report there.

    ``threads``: torch CPU threads per run, by default the cores shared among ``jobs``.
    ``executor``: ``local`` (processes here) or ``ray`` (a Ray cluster at ``address``).
    ``batch_seeds``: ``on``, ``off`` or ``auto`` (see ``ganagerie.train.batched``); by default
    what the suite was started with, else ``auto``.
    ``track``: experiment trackers of every run trained (``--track``; not part of the plan).
    ``yes``: start a benchmark of more than ``CONFIRM_RUNS`` runs (``--yes``).
    A suite with a ``[search]`` is run by ``ganagerie.bench.search.run_search``.
    """
    registry = registry or get_registry()
    Tracking.build(track, registry)  # a bad tracker name is a usage error before any run
    out = Path(out)
    confirm_size(suite, out, seeds, yes)
    if suite.search is not None:  # Optuna is an optional extra, so the search is its own module
        raise ValueError(f"suite {suite.name!r} has a [search]: run it with "
                         "ganagerie.bench.search.run_search")
    specs = plan_suite(suite, registry, seeds=seeds, steps=steps, sets=sets)
    jobs = default_jobs(specs) if jobs is None else jobs
    if not 1 <= jobs <= MAX_JOBS:
        raise UsageError(f"--jobs must be between 1 and {MAX_JOBS}, got {jobs}")
    with bench_lock(out):
        refuse_links(out, PLAN_FILE, "references", *(f"runs/{s.key}" for s in specs))
        threads = suite_threads(out, jobs, threads)
        batch_seeds = suite_batching(out, batch_seeds)
        for spec in specs:  # the thread count is part of what a CPU result depends on
            spec.config["threads"] = threads
        check_reusable(out, specs)
        gpus = 1 if any(str(s.config["device"]).startswith("cuda") for s in specs) else 0
        pool = make_executor(jobs, threads, kind=executor, address=address, gpus=gpus)
        return _run_planned(suite, specs, out, registry, seeds, steps, sets, pool, threads, progress,
                            batch_seeds, tuple(track))


def _run_planned(suite: Suite, specs: list[RunSpec], out: Path, registry: Registry,
                 seeds: int | None, steps: int | None, sets: Sequence[str], pool: Executor,
                 threads: int, progress: bool | None, batch_seeds: str,
                 track: tuple[str, ...] = ()) -> list[RunOutcome]:
    looks = seeds_added(read_plan(out, missing_ok=True), specs, out)
    write_plan(out, suite, specs, {"seeds": seeds, "steps": steps, "sets": list(sets),
                                   "batch_seeds": batch_seeds}, threads, looks)
    outcomes = execute(specs, out, pool, registry, progress, suite.name, batch_seeds, track=track)
    evaluate_references(specs, out, registry)
    write_report(out, registry)
    return outcomes


def write_plan(out: Path, suite: Suite, specs: Sequence[RunSpec], options: dict[str, Any],
               threads: int, looks: Sequence[dict[str, int]] = ()) -> None:
    """``OUT/bench.json``: the suite, the command-line options, the threads, the environment,
    every run planned, and the seeds added after a look."""
    write_json(Path(out) / PLAN_FILE, {
        "format": PLAN_FORMAT,
        "suite": {"name": suite.name, "origin": suite.origin, "source": suite.source},
        "options": options,
        "threads": threads,
        "environment": describe_environment(),
        "runs": [s.as_json() for s in specs],
        **({"seeds_added": list(looks)} if looks else {}),
    })


def make_executor(jobs: int, threads: int | None = None, kind: str = "local",
                  address: str | None = None, gpus: float = 0) -> Executor:
    """``local``: a serial executor for one job, else a process pool of ``jobs`` workers;
    ``ray``: tasks on the Ray cluster at ``address`` (a local instance when None), each asking
    for ``gpus`` GPUs (one for a suite on CUDA)."""
    if jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    if kind == "ray":
        return RayExecutor(jobs, threads, address=address, gpus=gpus)
    if kind != "local":
        raise UsageError(f"unknown executor {kind!r}; use local or ray")
    return SerialExecutor(threads) if jobs == 1 else ProcessExecutor(jobs, threads)


def suite_threads(out: Path, jobs: int, threads: int | None) -> int:
    """Threads per run: CPU results depend on it, so a suite keeps the count it started with."""
    for flag, value in (("--jobs", jobs), ("--threads", threads)):
        if value is not None and not 1 <= value <= MAX_JOBS:
            raise UsageError(f"{flag} must be between 1 and {MAX_JOBS}, got {value}")
    previous = read_plan(out, missing_ok=True)
    if previous is None:
        return threads_per_job(jobs) if threads is None else threads
    if threads is not None and threads != previous["threads"]:
        raise UsageError(f"{out} was started with {previous['threads']} thread(s) per run; drop "
                         "--threads or choose another --out")
    return previous["threads"]


def suite_batching(out: Path, mode: str | None) -> str:
    """Whether seeds train together: batched and one-by-one runs differ in the last bits, so a
    suite keeps the mode it started with."""
    if mode is not None and mode not in BATCH_MODES:
        raise UsageError(f"--batch-seeds must be one of {', '.join(BATCH_MODES)}, got {mode!r}")
    previous = read_plan(out, missing_ok=True)
    if previous is None:
        return mode or "auto"
    recorded = previous["options"].get("batch_seeds", "off")  # suites before seed batching: off
    if recorded not in BATCH_MODES:
        raise UsageError(f"{out / PLAN_FILE} is damaged (batch_seeds {recorded!r}); rerun the suite "
                         "into a new --out")
    if mode is not None and mode != recorded:
        raise UsageError(f"{out} was started with --batch-seeds {recorded}; drop --batch-seeds or "
                         "choose another --out")
    return recorded


def default_jobs(specs: Sequence[RunSpec]) -> int:
    """One job per core for CPU suites, one at a time on a GPU."""
    on_cpu = all(s.config["device"] == "cpu" for s in specs)
    return max(1, min(cpu_count(), len(specs))) if on_cpu else 1



def check_reusable(out: str | Path, specs: Iterable[RunSpec]) -> None:
    """Refuse to resume into run directories made from a different config."""
    for spec in specs:
        rd = run_dir(out, spec.key)
        try:
            # as this version reads it: fields added since it was written take their defaults
            read = RunConfig.from_dict(schemas.read(rd.config, schemas.Config)).to_dict()
            recorded = json.loads(json.dumps(read))  # tuples as the spec holds them: lists
        except FileNotFoundError:
            continue
        except (ValueError, UsageError):
            raise UsageError(f"{rd.config} is damaged; delete {rd.root} and rerun") from None
        if recorded != spec.config:
            keys = sorted(set(recorded) | set(spec.config))
            field = next(k for k in keys if recorded.get(k) != spec.config.get(k))
            if field == "diag_every":
                raise UsageError(f"{rd.root} was begun by ganagerie 0.2, which measured the diagnostics "
                                 "on every step; add --set diag_every=1 to finish it as it was begun")
            raise UsageError(
                f"{rd.root} holds a run with another config ({field}: {recorded.get(field)!r} "
                f"there, {spec.config.get(field)!r} now); rerun with the same suite and options, "
                "or choose another --out"
            )


def needs_work(rd: RunDir, spec: RunSpec) -> bool:
    """True unless the run finished training and, when it completed, was evaluated."""
    status = rd.read_status().get("status")
    if status == "diverged":
        return False
    return status != "completed" or (evaluation_planned(spec) and not evaluated(rd))



def execute(
    specs: Sequence[RunSpec],
    out: str | Path,
    executor: Executor,
    registry: Registry | None = None,
    progress: bool | None = None,
    label: str = "suite",
    batch_seeds: str = "off",
    groups: Mapping[str, Any] | None = None,
    track: Sequence[str] = (),
) -> list[RunOutcome]:
    """Run the unfinished specs through ``executor``; finished ones are reported as reused.
    With ``batch_seeds`` on or auto, the seeds of a cell that can train together are one task;
    ``groups`` (run key: a group) keeps runs of different groups apart (``bench verify``);
    ``track`` names the trackers of the runs trained."""
    todo = [s for s in specs if needs_work(run_dir(out, s.key), s)]
    waiting = {s.key for s in todo}
    outcomes = {s.key: _reused(run_dir(out, s.key), s) for s in specs if s.key not in waiting}
    tasks, notes = group_seeds(todo, out, registry or get_registry(), batch_seeds, groups)
    tasks = longest_first(tasks, out)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    # Only an in-process executor can use a registry built here (e.g. with extra plugins);
    # worker processes load the installed plugins themselves.
    in_process = registry if isinstance(executor, SerialExecutor) else None
    # tracker names are plain strings: worker processes build the trackers themselves
    fn = functools.partial(run_task, runs_root=str(Path(out) / "runs"), registry=in_process,
                           track=tuple(track))
    with SuiteProgress(len(todo), label, reused=len(outcomes), enabled=progress) as bar:
        results = executor.map(fn, tasks, on_start=lambda task: [bar.started(s) for s in task],
                               on_done=lambda _task, rs: [bar.finished(r.status) for r in rs])
    outcomes.update((r.key, r) for task_results in results for r in task_results)
    return [outcomes[s.key] for s in specs]


def group_seeds(specs: Sequence[RunSpec], out: str | Path, registry: Registry, mode: str,
                groups: Mapping[str, Any] | None = None) -> tuple[list[list[RunSpec]], list[str]]:
    """Tasks for the executor: the seeds of one cell together where they can train together
    (same config but the seed, the same entry in ``groups`` where given, all still training
    and at the same step), else one run each; and one note per cell whose seeds train one at
    a time, saying why."""
    if mode == "off":
        return [[s] for s in specs], []
    cells: dict[str, list[RunSpec]] = {}
    for spec in specs:
        cell = json.dumps([{k: v for k, v in spec.config.items() if k != "seed"},
                           repr((groups or {}).get(spec.key))], sort_keys=True)
        cells.setdefault(cell, []).append(spec)
    tasks, notes = [], []
    for group in cells.values():
        status = {s.key: run_dir(out, s.key).read_status() for s in group}
        training = [s for s in group if status[s.key].get("status") not in FINISHED]
        reason = None
        if len(training) > 1:
            reason = why_not(RunConfig.from_dict(group[0].config), registry, mode, seeds=len(training))
            if reason is None and len({status[s.key].get("step", 0) for s in training}) > 1:
                reason = "its runs stopped at different steps"
        if len(training) < 2 or reason is not None:
            tasks += [[s] for s in group]
            if reason is not None:
                notes.append(f"{group[0].dataset}/{group[0].variant}: seeds train one at a time: {reason}")
            continue
        tasks.append(training)
        tasks += [[s] for s in group if s not in training]  # trained, left to evaluate
    return tasks, notes


def longest_first(tasks: Sequence[Sequence[RunSpec]], out: str | Path) -> list[Sequence[RunSpec]]:
    """The tasks, the most estimated work first (ties in suite order), so that suite order does
    not leave one long task (a cell of critic-heavy seeds trained together, say) running alone
    at the end while the other workers idle. This is longest-processing-time-first scheduling
    (Graham 1969), a heuristic here: work is estimated as the network updates left,
    (steps - step reached) x (n_critic + 1) summed over a task's runs, and ignores techniques'
    own costs, evaluations and the gain of seeds trained together."""
    def work(task: Sequence[RunSpec]) -> int:
        left = 0
        for spec in task:
            step = run_dir(out, spec.key).read_status().get("step", 0)
            step = step if type(step) is int and step >= 0 else 0  # a damaged status: not started
            left += max(0, spec.config["steps"] - step) * (spec.config["n_critic"] + 1)
        return left
    return sorted(tasks, key=work, reverse=True)


def _reused(rd: RunDir, spec: RunSpec) -> RunOutcome:
    status = rd.read_status()
    return RunOutcome(spec.key, status.get("status", "failed"), status.get("step", 0), reused=True)


def run_task(task: Sequence[RunSpec], runs_root: str, registry: Registry | None = None,
             track: Sequence[str] = ()) -> list[RunOutcome]:
    """One run, or the seeds of a cell trained together (``ganagerie.train.batched``), each
    then evaluated; any error is recorded in the runs it touched, never raised."""
    if len(task) == 1:
        return [run_one(task[0], runs_root, registry, track)]
    t0 = time.perf_counter()
    registry = registry or get_registry()
    dirs = [RunDir(Path(runs_root) / spec.key) for spec in task]
    trainers = []
    try:
        for spec, rd in zip(task, dirs):
            trainers.append(prepare(RunConfig.from_dict(spec.config), registry, rd.root, resume=True,
                                    track=track))
        train_seeds(trainers)
    except Exception as exc:  # the group failed to train; a rerun retries it
        for trainer in trainers:
            trainer.close()
        error = f"train (seeds together): {_reason(exc)}"
        outcomes = []
        for spec, rd in zip(task, dirs):
            step = rd.read_status().get("step", 0)
            rd.write_status("failed", step, spec.config["steps"], error=error,
                            traceback=traceback.format_exc())
            outcomes.append(RunOutcome(spec.key, "failed", step, time.perf_counter() - t0, error=error))
        return outcomes
    share = (time.perf_counter() - t0) / len(task)
    outcomes = [run_one(spec, runs_root, registry) for spec in task]  # trained: evaluates each
    for o in outcomes:
        o.seconds += share
    return outcomes


def run_one(spec: RunSpec, runs_root: str, registry: Registry | None = None,
            track: Sequence[str] = ()) -> RunOutcome:
    """Train (or resume) one run and evaluate it; any error is recorded, never raised."""
    t0 = time.perf_counter()
    rd = RunDir(Path(runs_root) / spec.key)
    registry = registry or get_registry()
    status = rd.read_status()
    stage = "train"
    try:
        if status.get("status") not in FINISHED:
            result = train(RunConfig.from_dict(spec.config), registry, rd.root, resume=True,
                           progress=False, track=track)
            status = {"status": result.status, "step": result.step}
        # training that evaluated its last step wrote eval.json already
        if status["status"] == "completed" and evaluation_planned(spec) and not evaluated(rd):
            stage = "evaluate"
            evaluate(rd, registry)
    except Exception as exc:  # one broken run must not stop the suite; a rerun retries it
        error = f"{stage}: {_reason(exc)}"
        step = rd.read_status().get("step", 0)
        rd.write_status("failed", step, spec.config["steps"], error=error,
                        traceback=traceback.format_exc())
        return RunOutcome(spec.key, "failed", step, time.perf_counter() - t0, error=error)
    return RunOutcome(spec.key, status["status"], status["step"], time.perf_counter() - t0)


def _reason(exc: Exception) -> str:
    """Why a run failed, in one line: a message of ours (a plugin's fault, a usage error, the
    disk's) as it is, anything else with its type."""
    if isinstance(exc, (UsageError, PluginFault, FaultError)):
        return one_line(str(exc))
    return one_line(f"{type(exc).__name__}: {exc}")


def evaluate(rd: RunDir, registry: Registry) -> None:
    """Score a trained run into its ``eval.json`` with the run's metrics, sample count and
    seed, as during training: the final number is the last point of the curve."""
    evaluate_run(rd.root, registry)


def outcome_summary(outcomes: Sequence[RunOutcome]) -> dict[str, int]:
    """Counts of runs by status, and how many were already done before this invocation."""
    summary = {"runs": len(outcomes), "completed": 0, "diverged": 0, "failed": 0,
               "reused": sum(o.reused for o in outcomes)}
    for o in outcomes:
        summary[o.status if o.status in summary else "failed"] += 1
    return summary
