"""What can be done with a finished run directory: load its generator, sample, evaluate."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from .components import Dataset, Generator
from .config import RunConfig, check_device, load_config
from .errors import UsageError
from .evaluation.score import evaluate_generator
from .locks import locked
from .registry import Registry
from .train.build import all_finite, build_run
from .train.checkpoint import checkpoint_step, load_module_state, read_checkpoint
from .train.rundir import EVAL_FILE, RunDir
from .train.samples import save_samples

__all__ = ["EVAL_FILE", "evaluate_run", "load_generator", "sample_run"]


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
    run_dir: str | Path, registry: Registry, n: int, output: str | Path, seed: int = 0
) -> torch.Tensor:
    """Draw ``n`` samples from a run's generator with ``seed`` and save them as a PNG."""
    if Path(output).suffix.lower() != ".png":
        raise UsageError(f"cannot write samples to '{output}': give a file name ending in .png")
    cfg, dataset, generator = load_generator(run_dir, registry)
    z = generator.sample_noise(n, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        samples = generator(z)
    try:
        save_samples(samples, dataset, output, title=f"{cfg.variant or cfg.loss.name}, n={n}")
    except OSError as exc:
        raise UsageError(f"cannot write {output} ({exc.strerror}); choose another -o") from None
    return samples


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
    """Score a run's sampling generator and write ``RUN_DIR/eval.json``.

    ``metrics``, ``n_samples`` and ``seed`` default to the run's ``eval_metrics``,
    ``eval_samples`` and ``seed`` (so the numbers match the run's last ``--eval-every`` row),
    and those to what ``evaluate_generator`` picks. ``device`` defaults to the run's when
    available, else the CPU. Returns what it writes: ``evaluate_generator``'s result plus
    ``"run"`` (directory, step, dataset, variant, seed).
    """
    if device is not None:
        check_device(device)
    rd = RunDir(Path(run_dir))
    rd.refuse_links()
    cfg, dataset, generator = load_generator(run_dir, registry, device)
    with locked(rd.root, "writer of this run", "wait for it to finish"):
        result = evaluate_generator(
            generator, dataset, registry,
            metrics=metrics or getattr(cfg, "eval_metrics", None) or None,
            n_samples=n_samples or getattr(cfg, "eval_samples", 0) or None,
            seed=cfg.seed if seed is None else seed, backbone=backbone,
            inception_weights=inception_weights,
        )
        # the step of the weights just scored, never status.json's claim
        return rd.write_eval(cfg, checkpoint_step(rd.checkpoint), result)
