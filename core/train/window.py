"""The log window: what a run's steps add up between two metrics rows.

A step adds its logged values (and, on the steps that measure them, its diagnostics) with one
addition each, on the device; nothing is read back until the window closes. The first
non-finite step is found only when it is asked for (at a window's end whose means are not
finite, and at a checkpoint), from the rows the window keeps since it last looked: a step
pays no test of its own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class LogWindow:
    """The running sums of ``columns`` logged values and ``diag_columns`` diagnostics."""

    def __init__(self, columns: int, diag_columns: int, device: torch.device | str):
        self.sums = torch.zeros(columns, device=device)
        self.diag_sums = torch.zeros(diag_columns, device=device)
        self.n = self.diag_n = 0
        self._first_bad = -1  # the step of the first non-finite row among those looked at
        self._rows: list[Tensor] = []  # the rows since the last look, oldest first
        self._rows_end = 0  # the step of the newest of them

    def add(self, row: Tensor, diag: Tensor | None, step: int) -> None:
        """One step's values (``step``: the run's step count after it)."""
        self.sums += row
        if diag is not None:
            self.diag_sums += diag
            self.diag_n += 1
        self.n += 1
        self._rows.append(row)
        self._rows_end = step

    def means(self) -> Tensor:
        """The logged values' means, then the diagnostics' (0 where none was measured)."""
        return torch.cat([self.sums / max(self.n, 1), self.diag_sums / max(self.diag_n, 1)])

    def first_bad(self) -> int:
        """The first step whose logged values were not all finite since the run started
        (counted across resumes), or -1."""
        if self._rows:
            if self._first_bad < 0:
                finite = torch.stack(self._rows).isfinite().flatten(1).all(1).tolist()
                if not all(finite):
                    self._first_bad = self._rows_end - len(finite) + 1 + finite.index(False)
            self._rows.clear()
        return self._first_bad

    def reset(self, finite: bool) -> None:
        """A new window; ``finite``: whether the closing window's means were (then so was
        every row it summed, and none needs a look). The first bad step is the run's: it stays."""
        if finite:
            self._rows.clear()
        else:
            self.first_bad()
        self.sums.zero_()
        self.diag_sums.zero_()
        self.n = self.diag_n = 0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": self.sums.clone(), "n": self.n,
                "first_bad": torch.tensor(self.first_bad(), dtype=torch.long, device=self.sums.device),
                "diag_sums": self.diag_sums.clone(), "diag_n": self.diag_n}

    def load_state_dict(self, window: dict[str, Any]) -> None:
        """A checkpoint's window (its shapes checked by the caller against this run's)."""
        self.sums.copy_(window["sums"])
        self.n = int(window["n"])
        self.diag_sums.copy_(window["diag_sums"])
        self.diag_n = int(window["diag_n"])
        self._first_bad = int(window["first_bad"])
        self._rows.clear()
