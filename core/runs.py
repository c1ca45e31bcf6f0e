"""What can be done with a finished run directory: load its generator, sample, evaluate."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from .components import Dataset, Generator
from .config import RunConfig, check_device, load_config
from .errors import UsageError
from .evaluation.score import evaluate_generator
from .locks import locked
from .registry import Registry
from .train.build import all_finite, build_run, run_parts
from .train.checkpoint import checkpoint_step, load_module_state, read_checkpoint
from .train.rundir import EVAL_FILE, RunDir
from .train.samples import save_samples

__all__ = ["EVAL_FILE", "evaluate_run", "load_generator", "sample_run"]


@contextlib.contextmanager
def plugin_faults(cfg: RunConfig, registry: Registry) -> Iterator[None]:
    """An exception from a component's code inside, as the PluginFault naming it."""
    try:
        yield
    except Exception as exc:
        parts = [*run_parts(cfg, registry), *(("metric", m) for m in registry.names("metric"))]
        fault = registry.blame(exc, parts)
        if fault is None:
            raise
        raise fault from exc


def load_generator(
    run_dir: str | Path, registry: Registry, device: str | None = None
) -> tuple[RunConfig, Dataset, Generator]:
    """The sampling generator of a trained run (a technique's, such as EMA's, else G), in eval mode."""
    rd = RunDir(Path(run_dir))
    if not rd.root.is_dir():
        raise UsageError(f"run directory {rd.root} does not exist")
    cfg = load_config(rd.config)
    device = device or ("cpu" if not torch.cuda.is_available() else cfg.device)
    state = read_checkpoint(rd.checkpoint, device)
    with plugin_faults(cfg, registry):
        run = build_run(cfg, registry, device)
    try:
        load_module_state(run.generator, state["generator"], "generator")
        load_module_state(run.discriminator, state["discriminator"], "discriminator")
        run.load_technique_state(state.get("techniques") or {})
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UsageError(f"{rd.checkpoint} does not fit the run's config "
                         f"({type(exc).__name__}: {str(exc)[:200]}); was "
                         "config.json edited? rerun the run into a new --out") from None
    generator = run.sampling_generator().eval()
    if not all_finite(generator):
        raise UsageError(f"the generator of {rd.root} has non-finite weights (the run diverged); "
                         "there is nothing to sample or evaluate")
    return cfg, run.dataset, generator


def sample_run(
    run_dir: str | Path, registry: Registry, n: int, output: str | Path, seed: int = 0,
    label: int | None = None,
) -> torch.Tensor:
    """Draw ``n`` samples from a run's generator with ``seed`` and save them as a PNG; with
    ``label``, all of that class (a conditional generator only)."""
    if Path(output).suffix.lower() != ".png":
        raise UsageError(f"cannot write samples to '{output}': give a file name ending in .png")
    cfg, dataset, generator = load_generator(run_dir, registry)
    z = generator.sample_noise(n, generator=torch.Generator().manual_seed(seed))
    title = f"{cfg.variant or cfg.loss.name}, n={n}"
    with torch.no_grad():
        if label is None:
            samples = generator(z)
        else:
            samples = generator(z, _class_batch(cfg, dataset, generator, label, n, z.device))
            title += f", class {label}"
    try:
        # all classes: sample i is of class i % K, so a grid of K columns is a column a class
        classes = dataset.num_classes if label is None and getattr(generator, "conditional", False) else None
        save_samples(samples, dataset, output, title=title, classes=classes)
    except OSError as exc:
        raise UsageError(f"cannot write {output} ({exc.strerror}); choose another -o") from None
    return samples


def _class_batch(cfg: RunConfig, dataset: Dataset, generator: Generator, label: int, n: int,
                 device: torch.device) -> torch.Tensor:
    """``n`` copies of class ``label`` for a conditional generator; one line when the run's
    generator takes no classes or the dataset has no such class."""
    if not getattr(generator, "conditional", False):
        raise UsageError(f"--class {label}: the run's generator (architecture '{cfg.arch.name}') is "
                         "unconditional and draws no chosen class; train a conditional architecture")
    classes = int(dataset.num_classes or 0)
    if not 0 <= label < classes:
        raise UsageError(f"--class {label} is out of range: the run's dataset '{cfg.dataset.name}' has "
                         f"{classes} classes, 0 to {classes - 1}")
    return torch.full((n,), label, dtype=torch.long, device=device)


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
    protocol: str | None = None,
    latents: str = "random",
) -> dict[str, Any]:
    """Score a run's sampling generator and write ``RUN_DIR/eval.json``.

    ``metrics``, ``n_samples`` and ``seed`` default to the run's ``eval_metrics``,
    ``eval_samples`` and ``seed`` (so the numbers match the run's last ``--eval-every`` row),
    and those to what ``evaluate_generator`` picks; with a named FID ``protocol`` the sample
    count defaults to the protocol's instead of the run's. ``device`` defaults to the run's when
    available, else the CPU. Returns what it writes: ``evaluate_generator``'s result plus
    ``"run"`` (directory, step, dataset, variant, seed).
    """
    if device is not None:
        check_device(device)
    rd = RunDir(Path(run_dir))
    rd.refuse_links()
    cfg, dataset, generator = load_generator(run_dir, registry, device)
    with locked(rd.root, "writer of this run", "wait for it to finish"), plugin_faults(cfg, registry):
        result = evaluate_generator(
            generator, dataset, registry,
            metrics=metrics or getattr(cfg, "eval_metrics", None) or None,
            n_samples=n_samples or (None if protocol else getattr(cfg, "eval_samples", 0) or None),
            seed=cfg.seed if seed is None else seed, backbone=backbone,
            inception_weights=inception_weights, protocol=protocol, latents=latents,
        )
        # the step of the weights just scored, never status.json's claim
        return rd.write_eval(cfg, checkpoint_step(rd.checkpoint), result)
