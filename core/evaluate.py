"""Scoring generators with the metric plugins, each number with its protocol.

``evaluate_generator`` scores a generator in memory (the trainer's ``--eval-every`` and
the benchmark harness call it); ``evaluate_run`` scores a run directory's trained
generator and writes ``RUN_DIR/eval.json``. Which metrics apply is decided by the metrics
themselves (``Metric.applies_to``), never by dataset names here.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .components import Dataset, Generator, Metric
from .config import Component
from .errors import UsageError
from .files import write_json
from .registry import Entry, Registry

EVAL_FILE = "eval.json"
#: evaluation options handed to every metric whose factory declares them
SHARED_OPTIONS = ("backbone", "inception_weights")


def default_metrics(registry: Registry, dataset: Dataset) -> list[str]:
    """The registered metrics that apply to ``dataset``, by name."""
    return [name for name in registry.names("metric")
            if registry.create("metric", name).applies_to(dataset)]


def resolve_eval(
    registry: Registry,
    dataset: Dataset,
    metrics: Iterable[str] | None = None,
    n_samples: int | None = None,
) -> tuple[list[str], int]:
    """The metric specs (given, else those that apply) and the number of generated samples.

    The sample count defaults to the largest any chosen metric's protocol calls for; with no
    metric that applies, it is ``([], 0)``. Unknown or inapplicable metrics are a UsageError.
    """
    specs = list(metrics) if metrics else default_metrics(registry, dataset)
    built = _build(registry, dataset, specs, {})
    if n_samples is not None and n_samples < 2:
        raise UsageError(f"the number of samples to evaluate must be at least 2, got {n_samples}")
    n = n_samples or max((metric.n_samples for _, metric, _ in built), default=0)
    return specs, n


def _build(
    registry: Registry, dataset: Dataset, specs: Iterable[str], shared: Mapping[str, Any]
) -> list[tuple[str, Metric, dict[str, Any]]]:
    """(name, metric, options) for each spec, checked against the dataset."""
    out = []
    for spec in specs:
        comp = Component.parse(spec, "metric")
        entry = registry.get("metric", comp.name)
        options = {k: v for k, v in shared.items() if k in entry.options() and v is not None}
        options.update(registry.check_options(entry, comp.options))
        metric = registry.create("metric", comp.name, options)
        if not metric.applies_to(dataset):
            fits = ", ".join(default_metrics(registry, dataset)) or "none"
            needs = f": it needs {metric.needs}" if metric.needs else ""
            raise UsageError(f"metric '{comp.name}' does not apply to this dataset{needs} "
                             f"(metrics that apply: {fits})")
        if any(name == comp.name for name, _, _ in out):
            raise UsageError(f"metric '{comp.name}' is asked for twice; name each metric once")
        out.append((comp.name, metric, {**_defaults(entry), **options}))
    return out


def _defaults(entry: Entry) -> dict[str, Any]:
    return {k: v for k, v in entry.options().items() if v is not inspect.Parameter.empty}


def evaluate_generator(
    generator: Generator,
    dataset: Dataset,
    registry: Registry,
    metrics: Iterable[str] | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    *,
    device: torch.device | str | None = None,
    backbone: str = "auto",
    inception_weights: str | None = None,
    batch_size: int = 500,
) -> dict[str, Any]:
    """Score ``generator`` against ``dataset``; the harness and the trainer call this.

    ``metrics``: specs ``NAME`` or ``NAME:key=value,...`` (default: every registered metric
    that applies to the dataset); ``n_samples``: generated samples shared by all metrics
    (default: the largest any of them calls for, e.g. 2,500 on 2-D mixtures); ``seed`` fixes
    the noise and the metrics' own randomness, so equal inputs give equal numbers.
    ``backbone`` (auto, classifier, inception) and ``inception_weights`` go to the metrics
    that take them. Runs batched, without grad, on ``device`` (default: the generator's),
    and leaves the global RNG and the generator's train/eval mode as they were.

    Returns ``{"metrics": {name: {value: float}}, "protocol": {...}}``; the protocol holds
    the seed, sample count, device, versions and total ``time_s``, and under ``"metrics"``
    each metric's options, plugin and own protocol (backbone, accuracy, n_real, k, time_s).
    """
    started = time.perf_counter()
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    specs, n = resolve_eval(registry, dataset, metrics, n_samples)
    if not specs:
        raise UsageError("no registered metric applies to this dataset (ganagerie list metrics)")
    shared = {"backbone": backbone, "inception_weights": inception_weights or None}
    built = _build(registry, dataset, specs, shared)
    timings = dict.fromkeys((name for name, _, _ in built), 0.0)
    from .trainer import derive_seed

    def timed(name: str, fn, *args) -> Any:
        t = _now(device)
        out = fn(*args)
        timings[name] += _now(device) - t
        return out

    was_training = generator.training
    generator.eval()
    cuda = [device.index or 0] if device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            for name, metric, _ in built:  # each metric seeded alone: its value ignores the others
                torch.manual_seed(derive_seed(seed, f"metric-setup:{name}"))
                timed(name, metric.setup, dataset, device)
            noise = torch.Generator().manual_seed(derive_seed(seed, "eval"))
            generate_s = 0.0
            for start in range(0, n, batch_size):
                t = _now(device)
                z = generator.sample_noise(min(batch_size, n - start), generator=noise).to(device)
                fake = generator(z)
                generate_s += _now(device) - t
                for name, metric, _ in built:
                    timed(name, metric.update, fake)
            values = {}
            for name, metric, _ in built:
                torch.manual_seed(derive_seed(seed, f"metric:{name}"))
                try:
                    values[name] = {k: float(v) for k, v in timed(name, metric.compute).items()}
                except ValueError as exc:
                    raise UsageError(f"metric '{name}': {exc}; draw more samples (--n-samples)") from None
    finally:
        generator.train(was_training)
    protocol: dict[str, Any] = {
        "seed": seed, "n_generated": n, "batch_size": batch_size, "device": str(device),
        "versions": _versions(), "metrics": {},
    }
    for name, metric, options in built:
        entry = registry.get("metric", name)
        protocol["metrics"][name] = {
            "options": options, "plugin": entry.provenance.plugin,
            "plugin_version": entry.provenance.version, **metric.protocol(),
            "time_s": round(timings[name], 4),
        }
    protocol["generate_s"] = round(generate_s, 4)
    protocol["time_s"] = round(time.perf_counter() - started, 4)
    return {"metrics": values, "protocol": protocol}


def evaluate_run(
    run_dir: str | Path,
    registry: Registry,
    metrics: Iterable[str] | None = None,
    n_samples: int | None = None,
    seed: int | None = None,
    *,
    device: str | None = None,
    backbone: str = "auto",
    inception_weights: str | None = None,
) -> dict[str, Any]:
    """Score a run's trained generator (its EMA if kept) and write ``RUN_DIR/eval.json``.

    ``metrics``, ``n_samples`` and ``seed`` default to the run's ``eval_metrics``,
    ``eval_samples`` and ``seed`` (so the numbers match the run's last ``--eval-every`` row),
    and those to what ``evaluate_generator`` picks. ``device`` defaults to the run's when
    available, else the CPU. Returns what it writes: ``evaluate_generator``'s result plus
    ``"run"`` (directory, step, dataset, variant, seed).
    """
    from .rundir import RunDir, load_generator

    if device is not None and device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"device {device} was asked for but no GPU is available; use --device cpu")
    cfg, dataset, generator = load_generator(run_dir, registry, device)
    result = evaluate_generator(
        generator, dataset, registry,
        metrics=metrics or getattr(cfg, "eval_metrics", None) or None,
        n_samples=n_samples or getattr(cfg, "eval_samples", 0) or None,
        seed=cfg.seed if seed is None else seed, backbone=backbone,
        inception_weights=inception_weights,
    )
    rd = RunDir(Path(run_dir))
    run = {"dir": str(rd.root), "step": rd.read_status().get("step"), "dataset": cfg.dataset.name,
           "dataset_options": cfg.dataset.options, "variant": cfg.variant, "seed": cfg.seed}
    result = {"run": run, **result}
    write_json(rd.root / EVAL_FILE, result)
    return result


def _now(device: torch.device) -> float:
    if device.type == "cuda":  # time the work, not its launch
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    try:  # read from the metadata: importing torchmetrics takes seconds
        torchmetrics = version("torchmetrics")
    except PackageNotFoundError:
        torchmetrics = None
    return {"ganagerie": __version__, "torch": torch.__version__, "torchmetrics": torchmetrics}
