"""One writer per benchmark directory (``ganagerie.locks``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from ..locks import locked


@contextlib.contextmanager
def bench_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` while a suite runs, is verified or reported."""
    with locked(Path(out), "`ganagerie bench`", "wait for it to finish or choose another --out"):
        yield
