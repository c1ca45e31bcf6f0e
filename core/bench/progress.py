"""Progress of a whole suite: runs done, running, diverged, failed, and the time left."""

from __future__ import annotations

import sys
from typing import Any

from ..train.progress import Bar


class SuiteProgress(Bar):
    """A rich progress bar over runs; every method is a no-op when disabled (not a terminal)."""

    def __init__(self, total: int, label: str, reused: int = 0, enabled: bool | None = None):
        self.counts = {"done": 0, "running": 0, "diverged": 0, "failed": 0}
        self.reused = reused
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if not enabled or total == 0:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._bar.add_task(label, total=total, counts=self._text())

    def _text(self) -> str:
        c = self.counts
        text = f"running {c['running']} · diverged {c['diverged']} · failed {c['failed']}"
        return text + (f" · {self.reused} already done" if self.reused else "")

    def started(self, _item: Any = None) -> None:
        self.counts["running"] += 1
        self._refresh(0)

    def finished(self, status: str) -> None:
        self.counts["running"] -= 1
        self.counts["done"] += 1
        if status in self.counts:
            self.counts[status] += 1
        self._refresh(1)

    def _refresh(self, advance: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=advance, counts=self._text())
