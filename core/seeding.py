"""Independent random streams of a run, derived from its one seed."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, stream: str) -> int:
    """An independent seed for one random stream (data order, evaluation noise) of a run."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)
