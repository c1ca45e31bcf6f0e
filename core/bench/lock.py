"""One writer per benchmark directory: a lock file holding the process id and host."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import UsageError
from ..files import read_json

LOCK_FILE = ".lock"


@contextlib.contextmanager
def bench_lock(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` while a suite runs; a lock left by a dead process is taken over."""
    path = out / LOCK_FILE
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {out} ({exc.strerror}); choose another --out") from None
    if not out.is_dir():
        raise UsageError(f"--out {out} is not a directory; choose another --out")
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            _take_over_if_stale(path)
            continue
        except OSError as exc:
            raise UsageError(f"cannot write to {out} ({exc.strerror}); choose another --out") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        break
    else:
        raise UsageError(f"cannot take the lock {path}; remove it if no `ganagerie bench` uses {out}")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            if read_json(path) == me:
                path.unlink()


def _take_over_if_stale(path: Path) -> None:
    try:
        holder = read_json(path)
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        pid, host = None, None
    if pid is not None and host != socket.gethostname():
        raise UsageError(f"{path.parent} is in use by a `ganagerie bench` on host {host} (pid {pid}); "
                         f"wait for it, or delete {path} if that process is gone")
    if pid is not None and _alive(pid):
        raise UsageError(f"{path.parent} is in use by another `ganagerie bench` (pid {pid}); wait for "
                         "it to finish or choose another --out")
    print(f"note: taking over {path} left by a process that is gone (pid {pid})", file=sys.stderr)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
