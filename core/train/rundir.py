"""The layout of a run directory."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..files import write_json


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
        return self.checkpoint_dir / "last.json"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    def read_status(self) -> dict[str, Any]:
        try:
            status = json.loads(self.status.read_text())
        except (FileNotFoundError, ValueError):
            return {}
        return status if isinstance(status, dict) else {}  # a damaged file: as if never written

    def write_status(self, status: str, step: int, steps: int, **extra: Any) -> None:
        write_json(self.status, {"status": status, "step": step, "steps": steps, **extra})
