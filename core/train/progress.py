"""A progress display with steps/s and current losses; silent when not on a terminal."""

from __future__ import annotations

import sys
from typing import Any


class Bar:
    """Starts and stops a rich progress bar held in ``_bar``, when there is one."""

    _bar: Any = None

    def __enter__(self):
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()


class Progress(Bar):
    """Wraps rich's progress bar; every method is a no-op when disabled."""

    def __init__(self, total: int, start: int = 0, enabled: bool | None = None, label: str = ""):
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[losses]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._bar.add_task(label, total=total, completed=start, rate="", losses="")

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def show(self, values: dict[str, float], steps_per_s: float) -> None:
        if self._bar is not None:
            losses = " ".join(f"{k}={v:.3g}" for k, v in values.items() if v is not None)
            self._bar.update(self._task, rate=f"{steps_per_s:.1f} it/s", losses=losses)
