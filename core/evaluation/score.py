"""Scoring a generator with the metric plugins, each number with its protocol.

``evaluate_generator`` scores a generator in memory (the trainer's ``--eval-every``, the
benchmark harness and ``ganagerie.runs.evaluate_run`` call it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import torch

from .. import __version__
from ..bench.stats import range_bounds
from ..components import Dataset, Generator
from ..errors import UsageError
from ..registry import Registry
from ..seeding import derive_seed
from .select import build_metrics, resolve_eval


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
    built = build_metrics(registry, dataset, specs, shared)
    timings = dict.fromkeys((name for name, _, _ in built), 0.0)

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
            "range": value_ranges(name, metric, values[name]),
            "time_s": round(timings[name], 4),
        }
    protocol["generate_s"] = round(generate_s, 4)
    protocol["time_s"] = round(time.perf_counter() - started, 4)
    return {"metrics": values, "protocol": protocol}


def value_ranges(name: str, metric: Any, values: dict[str, float]) -> dict[str, list]:
    """``metric.value_ranges()`` for the values it computed, as ``{value: [low, high]}``
    (None for an open side), checked: a plugin's return value is not trusted."""
    ranges = metric.value_ranges()
    if not isinstance(ranges, dict):
        raise UsageError(f"metric '{name}': value_ranges() must return a dict, not "
                         f"{type(ranges).__name__}")
    out = {}
    for key, bounds in ranges.items():
        if key not in values:
            continue
        checked = range_bounds(bounds)
        if checked is None:
            raise UsageError(f"metric '{name}': the range of '{key}' must be (low, high) with "
                             f"numbers or None and low <= high, not {bounds!r}")
        out[key] = list(checked)
    return out


def _now(device: torch.device) -> float:
    if device.type == "cuda":  # time the work, not its launch
        torch.cuda.synchronize(device)
    return time.perf_counter()


def _versions() -> dict[str, str | None]:
    try:  # read from the metadata: importing torchmetrics takes seconds
        torchmetrics = version("torchmetrics")
    except PackageNotFoundError:
        torchmetrics = None
    return {"ganagerie": __version__, "torch": torch.__version__, "torchmetrics": torchmetrics}
