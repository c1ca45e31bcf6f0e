"""The equal-budget search of a suite's ``[search]`` (Lucic et al. 2018) on Optuna.

For every (dataset, variant) one Optuna study, stored in ``OUT/search.db`` (Optuna's RDB
storage on SQLite), draws ``budget`` settings from the variant's space. Each setting is a
trial, and each trial is an ordinary run directory, ``runs/DATASET/VARIANT.trial-N/seed-N``,
planned in ``bench.json``, trained and scored by the harness's executors (the process pool,
or Ray with ``--executor ray``) exactly as any suite run: its config.json alone reruns it
(``ganagerie train --config``) and ``bench verify`` checks it. Only this driver touches the
storage: it asks Optuna for settings and tells it their scores (ask and tell), so workers
never need to reach the database.

Every value a trial draws is a function of the suite alone: the sampler's seed (from the
suite), the study, the trial's number and the field's name (``TrialSampler``). So the same
suite gives the same settings, whatever ``--jobs`` or executor, and a search stopped at any
point resumes to the same ones: a rerun into the same ``OUT`` (``bench run`` holds
``OUT/.lock``: one driver at a time, and Optuna numbers trials atomically) resumes every
trial left running by a killed process under its own number, its run directory continuing
from its checkpoint, and asks for new settings only until the budget is reached. A kill
inside Optuna's own ask (milliseconds, before the setting is stored whole) leaves a trial
without a setting; it is marked failed, no run was made for it, and the next number is
drawn in its place.

Then the best setting of each variant, chosen on the trials' scores, is re-run with
``rerun_seeds`` seeds that no trial used (``runs/DATASET/VARIANT/seed-S``): those runs are
the suite's variants in the report's tables, means, rankings and tests against the
baseline, and the report says that they are not the numbers the selection saw.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..files import refuse_links
from ..registry import ComponentSpec, Registry
from ..train.build import generates_by_class
from ..train.tracking import Tracking
from .harness import (
    RunOutcome,
    check_reusable,
    default_jobs,
    execute,
    make_executor,
    suite_batching,
    suite_threads,
    write_plan,
)
from .layout import PLAN_FILE, read_plan, run_dir
from .lock import bench_lock
from .references import evaluate_references
from .report import write_report
from .results import run_record
from .search_results import best_trial, trial_score
from .search_space import (
    Range,
    Search,
    declared_range,
    derived_seed,
    targets,
    trial_label,
    trial_sets,
)
from .suite import DatasetEntry, RunSpec, Suite, VariantEntry, resolve_run

try:
    import optuna
except ImportError:  # an optional extra
    raise UsageError("this suite has a [search] section, which needs Optuna: "
                     "pip install 'ganagerie[search]'") from None

STORAGE = "search.db"
_FAIL = optuna.trial.TrialState.FAIL
_RUNNING = optuna.trial.TrialState.RUNNING
_COMPLETE = optuna.trial.TrialState.COMPLETE


class TrialSampler(optuna.samplers.BaseSampler):
    """An Optuna sampler whose every value is a function of (seed, trial number, field):
    ``random`` and ``tpe`` draw each field with Optuna's RandomSampler / TPESampler seeded from
    those three (TPE reading the study's scored trials, as it always does); ``qmc`` takes
    coordinate i of point n of one scrambled Sobol sequence (scipy.stats.qmc, the engine of
    Optuna's QMCSampler) for trial n, so that no draw depends on how many asks came before."""

    def __init__(self, kind: str, seed: int, space: Mapping[str, Range]):
        self.kind, self.seed, self.space = kind, seed, dict(space)
        self.names = sorted(space)

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        if self.kind == "qmc":
            u = self._sobol_point(trial.number)[self.names.index(param_name)]
            return self.space[param_name].from_unit(float(u))
        seed = derived_seed(self.seed, trial.number, param_name)
        inner = (optuna.samplers.TPESampler(seed=seed) if self.kind == "tpe"
                 else optuna.samplers.RandomSampler(seed=seed))
        return inner.sample_independent(study, trial, param_name, param_distribution)

    def _sobol_point(self, number: int) -> Any:
        from scipy.stats import qmc

        engine = qmc.Sobol(len(self.names), scramble=True, seed=self.seed)
        with warnings.catch_warnings():  # Sobol's balance warning: points are taken one by one
            warnings.simplefilter("ignore")
            if number:
                engine.fast_forward(number)
            return engine.random(1)[0]


def distribution(r: Range) -> Any:
    """The Optuna distribution of a range."""
    if r.kind == "choice":
        return optuna.distributions.CategoricalDistribution(list(r.choices))
    if r.kind == "int":
        return optuna.distributions.IntDistribution(int(r.low), int(r.high))
    return optuna.distributions.FloatDistribution(float(r.low), float(r.high), log=r.kind == "log")


@dataclass
class Study:
    """One variant's search on one dataset: its space, its Optuna study, its runs."""

    ds: DatasetEntry
    var: VariantEntry
    space: dict[str, Range]
    base: RunSpec  # the variant's run without a setting: the fields a setting leaves
    optuna: Any = None
    specs: dict[int, RunSpec] = field(default_factory=dict)  # by trial number
    reruns: list[RunSpec] = field(default_factory=list)
    stopped: bool = False  # a trial failed in this invocation: no more asks, no re-run

    @property
    def name(self) -> str:
        return f"{self.ds.label}/{self.var.label}"

    def settings(self) -> list[Any]:
        """The study's trials that hold a whole setting, by number."""
        trials = self.optuna.get_trials(deepcopy=False)
        return sorted((t for t in trials if set(t.params) == set(self.space)), key=lambda t: t.number)


def run_search(
    suite: Suite,
    out: Path,
    registry: Registry,
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
) -> list[RunOutcome]:
    """Search every variant's settings, re-run the best of each, and write the report
    (the options are ``run_suite``'s); the outcome of every run, trials first."""
    search = suite.search
    assert search is not None
    if seeds is not None:
        raise UsageError("--seeds: a search's seeds are its own (trial n trains with seed n, the best "
                         "settings re-run with search.rerun_seeds new ones); drop --seeds")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    Tracking.build(track, registry)
    studies = plan_studies(suite, registry, steps, sets)
    higher = {ds.label: search_direction(suite, registry, ds.label, studies) for ds in suite.datasets}
    jobs = default_jobs([s.base for s in studies]) if jobs is None else jobs
    options = {"seeds": None, "steps": steps, "sets": list(sets),
               "search": search.as_json({s.var.label: s.space for s in studies})}
    out = Path(out)
    with bench_lock(out):
        refuse_links(out, PLAN_FILE, "references", STORAGE)
        threads = suite_threads(out, jobs, threads)
        options["batch_seeds"] = batch_seeds = suite_batching(out, batch_seeds)
        looks = (read_plan(out, missing_ok=True) or {}).get("seeds_added", [])
        gpus = 1 if any(str(s.base.config["device"]).startswith("cuda") for s in studies) else 0
        pool = make_executor(jobs, threads, kind=executor, address=address, gpus=gpus)
        storage = optuna.storages.RDBStorage(f"sqlite:///{(out / STORAGE).resolve()}")
        for study in studies:
            study.optuna = open_study(storage, study, search, higher[study.ds.label], out)
        outcomes: dict[str, RunOutcome] = {}

        def plan() -> None:
            planned = every_run(studies)
            for spec in planned:  # the thread count is part of what a CPU result depends on
                spec.config["threads"] = threads
            refuse_links(out, *(f"runs/{s.key}" for s in planned))
            check_reusable(out, planned)
            write_plan(out, suite, planned, options, threads, looks)

        def run(specs: list[RunSpec], label: str, batching: str) -> None:
            plan()
            done = execute(specs, out, pool, registry, progress, label, batching, track=track)
            outcomes.update((o.key, o) for o in done)

        while True:  # rounds: every study's next settings, trained together
            todo = [(study, spec) for study in studies for spec in next_trials(study, suite, search,
                                                                               registry, steps, sets)]
            if not todo:
                break
            run([spec for _, spec in todo], f"{suite.name} search", "off")
            for study, spec in todo:
                if not tell(study, spec, out, registry, search.metric):
                    study.stopped = True  # a rerun retries the trial; its study waits for it
        for study in studies:
            study.reruns = best_reruns(study, suite, search, registry, steps, sets, out,
                                       higher[study.ds.label])
        reruns = [spec for study in studies for spec in study.reruns]
        if reruns:
            run(reruns, f"{suite.name} re-runs", batch_seeds)
            evaluate_references(reruns, out, registry)
        plan()
        write_report(out, registry)
    return [outcomes.get(s.key) or _reused(out, s) for s in every_run(studies)]


def _reused(out: Path, spec: RunSpec) -> RunOutcome:
    """A run finished before this invocation, as the harness reports one."""
    status = run_dir(out, spec.key).read_status()
    return RunOutcome(spec.key, status.get("status", "failed"), status.get("step", 0), reused=True)


def plan_studies(suite: Suite, registry: Registry, steps: int | None,
                 sets: Sequence[str]) -> list[Study]:
    """Every (dataset, variant) with its space, checked before anything trains: each field
    at both ends of its range (each choice) must make a run, and no ``--set`` may fix a
    searched field."""
    search = suite.search
    studies = []
    fixed = {a.partition("=")[0].strip() for a in sets}
    for ds in suite.datasets:
        for var in suite.variants:
            base = resolve_run(suite, registry, ds, var, 0, steps=steps, sets=sets)
            space = {}
            for name, r in search.spaces[var.label].items():
                where = f"{suite.origin}: search.space.{var.label}.{name}"
                if r is None:
                    r = declared_range(name, _component(name, base.config, registry, where), where)
                clash = sorted(fixed & set(targets(name)))
                if clash:
                    raise UsageError(f"--set {clash[0]}: variant '{var.label}' searches {name}; drop "
                                     "the --set or the field from the suite's [search.space]")
                for value in r.probes():
                    try:
                        resolve_run(suite, registry, ds, var, 0, steps=steps, sets=sets,
                                    setting=trial_sets({name: value}, {name: r}, base.config))
                    except UsageError as exc:
                        inner = str(exc).removeprefix(f"{suite.origin}: dataset '{ds.label}', "
                                                      f"variant '{var.label}': ")
                        raise UsageError(f"{where}: {json.dumps(value)} does not make a run on "
                                         f"{ds.label} ({inner})") from None
                space[name] = r
            studies.append(Study(ds, var, space, base))
    return studies


def _component(name: str, config: Mapping[str, Any], registry: Registry, where: str) -> Any:
    """The factory of the component whose option ``name`` (``reg.NAME.OPTION``,
    ``FIELD.OPTION``) is, for the range it declares."""
    parts = name.split(".")
    kinds = {"arch": "architecture", "loss": "loss", "prior": "prior", "optimizer_g": "optimizer",
             "optimizer_d": "optimizer", "schedule_g": "schedule", "schedule_d": "schedule"}
    try:
        if parts[0] in ("reg", "regularizers") and len(parts) == 3:
            return registry.get("regularizer", parts[1]).factory
        if parts[0] in kinds and len(parts) == 2:
            return registry.get(kinds[parts[0]], config[parts[0]]["name"]).factory
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None
    raise UsageError(f"{where}: no default range: it is not a component's option (reg.NAME.OPTION, "
                     "arch.OPTION, ...); give a range, e.g. { uniform = [LOW, HIGH] }")


def search_direction(suite: Suite, registry: Registry, label: str, studies: list[Study]) -> bool:
    """Whether higher is better for the search's metric on dataset ``label``: as the suite
    declares it, else as a metric of the runs declares it (``higher_is_better``); else a
    one-line error, before anything trains."""
    column = suite.search.metric
    declared = suite.higher_is_better
    if column in declared or column.rpartition(".")[2] in declared:
        return declared.get(column, declared.get(column.rpartition(".")[2]))
    owner, _, value = column.rpartition(".")
    metrics = next(s.base.config["eval_metrics"] for s in studies if s.ds.label == label)
    known: dict[str, bool] = {}
    for spec in metrics:
        name = ComponentSpec.parse(spec, "metric").name
        attr = getattr(registry.get("metric", name).factory, "higher_is_better", None)
        values = attr if isinstance(attr, dict) else {name: attr} if isinstance(attr, bool) else {}
        known.update({v: b for v, b in values.items() if isinstance(b, bool)
                      and (not owner or owner == name)})
    if (value or column) in known:
        return known[value or column]
    names = ", ".join(ComponentSpec.parse(m, "metric").name for m in metrics) or "none"
    raise UsageError(f"{suite.origin}: search.metric '{column}': no metric of dataset {label} "
                     f"({names}) declares whether higher is better for it; choose one of "
                     f"{', '.join(known) or 'their values'}, or declare it: higher_is_better = "
                     f"{{ {column} = true }}")


def open_study(storage: Any, study: Study, search: Search, higher: bool, out: Path) -> Any:
    """The study of ``study`` in the storage, made on the first run; refused where it was
    begun with another search (its space, sampler, seed, budget, metric or direction)."""
    setup = {**search.as_json({study.var.label: study.space}), "higher_is_better": higher}
    found = optuna.create_study(
        storage=storage, study_name=study.name, load_if_exists=True,
        direction="maximize" if higher else "minimize",
        sampler=TrialSampler(search.sampler, derived_seed(search.seed, study.name), study.space))
    recorded = found.user_attrs.get("search")
    if recorded is None:
        found.set_user_attr("search", setup)
    elif recorded != json.loads(json.dumps(setup)):
        key = next(k for k in setup if recorded.get(k) != json.loads(json.dumps(setup[k])))
        raise UsageError(f"{out / STORAGE} holds a search of {study.name} begun with another {key}; "
                         "rerun with the suite it was begun with, or choose another --out")
    return found


def next_trials(study: Study, suite: Suite, search: Search, registry: Registry,
                steps: int | None, sets: Sequence[str]) -> list[RunSpec]:
    """The runs of the study's next round: its trials left running (by a killed process) under
    their own numbers, then new settings up to the budget (with tpe, a wave of them once none
    is running)."""
    if study.stopped:
        return []
    for t in study.optuna.get_trials(deepcopy=False):
        if t.state == _RUNNING and set(t.params) != set(study.space):
            study.optuna.tell(t.number, state=_FAIL)  # killed inside Optuna's ask: no run was made
    settings = study.settings()
    running = [t for t in settings if t.state == _RUNNING]
    wanted = search.budget - len(settings)
    if search.sampler == "tpe":  # its draws read the scores: the same scored trials every time
        wanted = 0 if running else min(wanted, search.wave)
    asked = [study.optuna.ask({n: distribution(r) for n, r in study.space.items()})
             for _ in range(max(0, wanted))]
    for t in settings:
        trial_spec(study, suite, registry, t.number, t.params, steps, sets)  # the plan lists them all
    return [trial_spec(study, suite, registry, t.number, t.params, steps, sets) for t in running + asked]


def trial_spec(study: Study, suite: Suite, registry: Registry, number: int, params: Mapping[str, Any],
               steps: int | None, sets: Sequence[str]) -> RunSpec:
    """Trial ``number``'s run: the variant with its setting, seed ``number``."""
    if number not in study.specs:
        setting = {name: params[name] for name in study.space}
        study.specs[number] = resolve_run(
            suite, registry, study.ds, study.var, number, steps=steps, sets=sets,
            setting=trial_sets(setting, study.space, study.base.config),
            label=trial_label(study.var.label, number), search={"trial": number, "params": setting},
            conditional=lambda cfg: generates_by_class(cfg, registry))
    return study.specs[number]


def tell(study: Study, spec: RunSpec, out: Path, registry: Registry, column: str) -> bool:
    """Tell Optuna how the trial of ``spec`` ended: its score, or failed where it has none
    (diverged, did not train); False, leaving the trial running, where its run failed or is
    unfinished (a rerun of the command retries it)."""
    record = run_record(out, spec, registry)
    if record["status"] in ("failed", "unfinished", "missing"):
        return False
    score = trial_score(record, column)
    number = spec.search["trial"]
    if score is None:
        study.optuna.tell(number, state=_FAIL)
    else:
        study.optuna.tell(number, score)
    return True


def best_reruns(study: Study, suite: Suite, search: Search, registry: Registry, steps: int | None,
                sets: Sequence[str], out: Path, higher: bool) -> list[RunSpec]:
    """The best setting's runs with the new seeds, once every setting of the budget is scored;
    none before, or where no setting has a score."""
    settings = study.settings()
    if study.stopped or len(settings) < search.budget or any(t.state == _RUNNING for t in settings):
        return []
    scores = [(t.number, trial_score(run_record(out, study.specs[t.number], registry), search.metric))
              for t in settings[:search.budget]]
    best = best_trial(scores, higher)
    if best is None:
        return []
    setting = dict(study.specs[best].search["params"])
    assignments = trial_sets(setting, study.space, study.base.config)
    return [resolve_run(suite, registry, study.ds, study.var, seed, steps=steps, sets=sets,
                        setting=assignments, search={"trial": best, "params": setting},
                        conditional=lambda cfg: generates_by_class(cfg, registry))
            for seed in search.new_seeds]


def every_run(studies: Sequence[Study]) -> list[RunSpec]:
    """The plan: every study's trials by number, then its re-runs."""
    return [spec for study in studies
            for spec in [*(study.specs[n] for n in sorted(study.specs)), *study.reruns]]
