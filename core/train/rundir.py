"""The layout of a run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import schemas
from ..files import refuse_links, write_json

if TYPE_CHECKING:
    from ..config import RunConfig

EVAL_FILE = "eval.json"


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

    @property
    def eval(self) -> Path:
        return self.root / EVAL_FILE

    def refuse_links(self) -> None:
        """One line if anything the run writes is a symbolic link (see ``files.refuse_links``)."""
        refuse_links(self.root, "config.json", "metrics.jsonl", "status.json", EVAL_FILE,
                     "checkpoints", "checkpoints/last.json", "samples")

    def read_status(self) -> dict[str, Any]:
        try:
            return schemas.read(self.status, schemas.Status)
        except (FileNotFoundError, ValueError):
            return {}  # a damaged file: as if never written (the checkpoint says how far it got)

    def write_status(self, status: str, step: int, steps: int, **extra: Any) -> None:
        write_json(self.status, {"status": status, "step": step, "steps": steps, **extra})

    def write_eval(self, cfg: RunConfig, step: int | None, result: dict[str, Any]) -> dict[str, Any]:
        """Write ``eval.json``: an evaluation's result (metrics and protocol) of the weights at
        ``step``, with what run it scored. Returns what it wrote."""
        run = {"dir": str(self.root), "step": step, "dataset": cfg.dataset.name,
               "dataset_options": cfg.dataset.options, "variant": cfg.variant, "seed": cfg.seed}
        record = {"run": run, **result}
        write_json(self.eval, record)
        return record

    def evaluated_step(self) -> int | None:
        """The step whose weights ``eval.json`` scored; None when it is missing or damaged."""
        try:
            record = schemas.read(self.eval, schemas.Evaluation)
        except (OSError, ValueError):
            return None
        return (record.get("run") or {}).get("step")
