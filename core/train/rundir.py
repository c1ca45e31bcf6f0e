"""The layout of a run directory and its checkpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from ..files import write_json

CHECKPOINT_FORMAT = 2


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
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

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
    if isinstance(state, dict) and state.get("format") == 1:
        raise UsageError(f"{path} was written by ganagerie 0.1 (checkpoint format 1); retrain "
                         "the run, or finish it with ganagerie 0.1")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path} is not a ganagerie checkpoint of format {CHECKPOINT_FORMAT}")
    return state
