"""The layout of a run directory, and loading a trained generator back from one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .components import Dataset, Generator
from .config import RunConfig, load_config
from .errors import UsageError
from .files import write_json
from .registry import Registry

CHECKPOINT_FORMAT = 1


@dataclass(frozen=True)
class RunDir:
    """Paths inside one run directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / "checkpoints" / "last.pt"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def read_status(self) -> dict[str, Any]:
        try:
            return json.loads(self.status.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def write_status(self, status: str, step: int, steps: int, **extra: Any) -> None:
        write_json(self.status, {"status": status, "step": step, "steps": steps, **extra})


def read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint without executing code from it (``weights_only=True``)."""
    if not path.exists():
        raise UsageError(f"no checkpoint at {path}; train the run first (ganagerie train)")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise UsageError(f"cannot read checkpoint {path} ({type(exc).__name__}: {exc}); "
                         "it may be damaged: delete it and retrain") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path} is not a ganagerie checkpoint of format {CHECKPOINT_FORMAT}")
    return state


def load_generator(
    run_dir: str | Path, registry: Registry, device: str | None = None
) -> tuple[RunConfig, Dataset, Generator]:
    """The trained generator of a run (its EMA weights when it kept them), in eval mode."""
    from .trainer import build_models

    rd = RunDir(Path(run_dir))
    if not rd.root.is_dir():
        raise UsageError(f"run directory {rd.root} does not exist")
    cfg = load_config(rd.config)
    device = device or ("cpu" if not torch.cuda.is_available() else cfg.device)
    state = read_checkpoint(rd.checkpoint, device)
    dataset, generator, discriminator = build_models(cfg, registry)
    generator.load_state_dict(state["ema"] if state.get("ema") is not None else state["generator"])
    return cfg, dataset, generator.to(device).eval()


def sample_run(
    run_dir: str | Path, registry: Registry, n: int, output: str | Path, seed: int = 0
) -> torch.Tensor:
    """Draw ``n`` samples from a run's generator with ``seed`` and save them as a PNG."""
    from .samples import save_samples

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
