"""One writer per directory: an advisory ``fcntl.flock`` on ``DIR/.lock``, held for as long
as the process writes there.

The kernel releases the lock when its holder exits, however it exits (SIGKILL included),
so a stale lock never needs taking over and two processes can never both believe they
took it over. The file holds the holder's pid, host and command, for the message that
refuses a second writer; it is left in place (deleting a lock file races with a process
opening it). Locks are per process and re-entrant within it: a ``bench run`` that holds
its benchmark's lock trains and evaluates runs below it that take their own.

``flock`` is reliable on local file systems; on NFS it depends on the server (Linux maps it
to POSIX locks there), which is why the holder's host is recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError

LOCK_FILE = ".lock"

#: this process's held locks: resolved directory -> [open lock file, hold count]
_HELD: dict[Path, list] = {}


def acquire(directory: Path, what: str, hint: str, wait: bool = False) -> Path:
    """Take ``directory``'s lock (re-entrant in this process); ``what`` names the kind of
    writer in the refusal (``ganagerie train``), ``hint`` says what to do instead. With
    ``wait`` a held lock is waited for instead of refused (a cache that another process is
    filling). Returns the key to ``release`` it with."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {directory} ({exc.strerror}); choose another --out") from None
    if not directory.is_dir():
        raise UsageError(f"--out {directory} is not a directory; choose another --out")
    key = directory.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return key
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot write to {directory} ({exc.strerror or exc}); "
                         "choose another --out") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise UsageError(f"{directory} is in use by another {what} ({holder}); {hint}") from None
    except OSError as exc:
        os.close(fd)
        raise UsageError(f"cannot lock {path} ({exc.strerror}); choose another --out") from None
    me = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:300]}
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
    _HELD[key] = [fd, 1]
    return key


def release(key: Path) -> None:
    """Give back one hold of the lock ``acquire`` returned; the last one unlocks."""
    held = _HELD.get(key)
    if held is None:
        return
    held[1] -= 1
    if held[1] == 0:
        del _HELD[key]
        with contextlib.suppress(OSError):
            fcntl.flock(held[0], fcntl.LOCK_UN)
        os.close(held[0])


@contextlib.contextmanager
def locked(directory: Path, what: str, hint: str, wait: bool = False) -> Iterator[None]:
    key = acquire(directory, what, hint, wait)
    try:
        yield
    finally:
        release(key)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"pid {int(info['pid'])} on host {str(info['host'])[:100]}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not written its name yet"
