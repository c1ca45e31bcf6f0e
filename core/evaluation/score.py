"""Scoring a generator with the metric plugins, each number with its protocol.

``evaluate_generator`` scores a generator in memory (the trainer's ``--eval-every``, the
benchmark harness and ``ganagerie.runs.evaluate_run`` call it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import torch
from torch import Tensor

from .. import __version__
from ..bench.stats import range_bounds
from ..components import Dataset, Generator, Prior, describe_value
from ..errors import PluginFault, UsageError
from ..registry import Registry
from ..seeding import derive_seed
from .select import build_metrics, refuse_unconditional, resolve_eval


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
    protocol: str | None = None,
    latents: str = "random",
    batch_size: int = 500,
) -> dict[str, Any]:
    """Score ``generator`` against ``dataset``; the harness and the trainer call this.

    ``metrics``: specs ``NAME`` or ``NAME:key=value,...`` (default: every registered metric
    that applies to the dataset); ``n_samples``: generated samples shared by all metrics
    (default: the largest any of them calls for, e.g. 2,500 on 2-D mixtures); ``seed`` fixes
    the noise and the metrics' own randomness, so equal inputs give equal numbers.
    ``backbone`` (auto, classifier, inception), ``inception_weights`` and ``protocol`` (a
    named FID protocol, ``ganagerie.evaluation.protocols``) go to the metrics that take them;
    ``latents`` (``LATENTS``) is how the noise is drawn. A conditional generator is asked
    for class ``i % K`` of sample ``i`` (``eval_classes``), and the ``conditional`` metrics
    get those classes; they refuse an unconditional generator. Runs batched, without grad, on
    ``device`` (default: the generator's), and leaves the global RNG and the generator's
    train/eval mode as they were.

    Returns ``{"metrics": {name: {value: float}}, "protocol": {...}}``; the protocol holds
    the seed, sample count, device, versions and total ``time_s``, and under ``"metrics"``
    each metric's options, plugin and own protocol (backbone, accuracy, n_real, k, time_s);
    under ``"dataset"`` the dataset's ``protocol()`` where it has one.
    """
    started = time.perf_counter()
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    shared = {"backbone": backbone, "inception_weights": inception_weights or None,
              "protocol": protocol or None}
    specs, n = resolve_eval(registry, dataset, metrics, n_samples, shared)
    if not specs:
        raise UsageError("no registered metric applies to this dataset (ganagerie list metrics)")
    built = build_metrics(registry, dataset, specs, shared)
    num_classes = dataset.num_classes if getattr(generator, "conditional", False) else None
    if not num_classes:
        refuse_unconditional([name for name, metric, _ in built if getattr(metric, "conditional", False)])
    draw = latent_sampler(generator, latents, seed)
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
            generate_s = 0.0
            for start in range(0, n, batch_size):
                t = _now(device)
                k = min(batch_size, n - start)
                z = draw(k).to(device)
                y = None if not num_classes else eval_classes(start, k, num_classes, device)
                fake = generator(z) if y is None else generator(z, y)
                generate_s += _now(device) - t
                for name, metric, _ in built:
                    if getattr(metric, "conditional", False):
                        timed(name, metric.update, fake, y)
                    else:
                        timed(name, metric.update, fake)
            values = {}
            for name, metric, _ in built:
                torch.manual_seed(derive_seed(seed, f"metric:{name}"))
                try:
                    computed = timed(name, metric.compute)
                except ValueError as exc:
                    raise UsageError(f"metric '{name}': {exc}; draw more samples (--n-samples)") from None
                values[name] = numbers(name, computed)
    finally:
        generator.train(was_training)
    protocol: dict[str, Any] = {
        "seed": seed, "n_generated": n, "latents": LATENTS[latents], "batch_size": batch_size,
        "device": str(device),
        "versions": _versions(), "metrics": {},
    }
    if num_classes:
        protocol["classes"] = f"class i % {num_classes} asked for sample i (every class equally)"
    data = dataset.protocol()
    if not isinstance(data, dict):
        raise UsageError(f"the dataset's protocol() must return a dict, not {type(data).__name__}")
    if data:  # how the real samples were made (an image folder's size and filter)
        protocol["dataset"] = data
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


def eval_classes(start: int, k: int, num_classes: int, device: torch.device) -> Tensor:
    """The classes an evaluation asks a conditional generator for, for its samples ``start``
    to ``start + k - 1``: class ``i % num_classes`` for sample ``i``, so that every class is
    drawn equally (to within one sample) and without randomness, as ``G(z)`` draws them."""
    return torch.arange(start, start + k, device=device) % num_classes


def numbers(name: str, computed: Any) -> dict[str, float]:
    """``metric.compute()``'s named values as floats, checked: a dict of names to numbers (or
    one-element tensors); a PluginFault naming the metric and what it returned otherwise."""
    if not isinstance(computed, Mapping) or not computed:
        raise PluginFault("metric", name, f"compute returned {describe_value(computed)}, not a "
                          "dict of named numbers")
    out = {}
    for key, value in computed.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        scalar = isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex()
        if not isinstance(key, str) or not (number or scalar):
            raise PluginFault("metric", name, f"compute returned {key!r}: {describe_value(value)}, "
                              "not a number under a name")
        out[key] = float(value)
    return out


#: how an evaluation draws its latents, as its protocol records it
LATENTS = {
    "random": "the run's prior, from a generator seeded by the evaluation's seed",
    "sobol": "scrambled Sobol points through the prior's quantile (Chong & Forsyth 2020's QMC)",
}


def latent_sampler(generator: Generator, latents: str, seed: int) -> Callable[[int], Tensor]:
    """``draw(k)``: the evaluation's next ``k`` latent vectors, ``random`` or ``sobol``
    (``LATENTS``), the same sequence for the same seed."""
    if latents == "random":
        noise = torch.Generator().manual_seed(derive_seed(seed, "eval"))
        return lambda k: generator.sample_noise(k, generator=noise)
    if latents != "sobol":
        raise UsageError(f"unknown latents '{latents}'; choose from {', '.join(LATENTS)}")
    prior = generator.prior
    if type(generator).sample_noise is not Generator.sample_noise:
        raise UsageError("--latents sobol needs a generator that draws from its prior; this one "
                         "draws its own noise: use --latents random")
    if type(prior).sample is not Prior.sample and type(prior).quantile is Prior.quantile:
        raise UsageError(f"--latents sobol: the prior {type(prior).__name__} has its own sampler but "
                         "no quantile() to map Sobol points through; use --latents random")
    if generator.latent_dim > torch.quasirandom.SobolEngine.MAXDIM:
        raise UsageError(f"--latents sobol: {generator.latent_dim} latent dimensions, more than "
                         f"Sobol sequences have ({torch.quasirandom.SobolEngine.MAXDIM})")
    engine = torch.quasirandom.SobolEngine(generator.latent_dim, scramble=True,
                                           seed=derive_seed(seed, "eval-sobol"))
    dtype = torch.get_default_dtype()

    def draw(k: int) -> Tensor:
        # float64 points kept off 0 and 1, whose quantiles are infinite
        u = engine.draw(k, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
        return prior.quantile(u).to(dtype)

    return draw


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
