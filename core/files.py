"""Files are written to a temporary name beside the target and renamed: never half-written."""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import UsageError


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def refuse_links(root: str | Path, *names: str) -> None:
    """Refuse, in one line, a directory the tool writes into whose entries ``names`` (paths
    relative to ``root``, each of its parents too) include a symbolic link: writing through
    one would change, or delete, files of another run. ``root`` itself may be a link: the
    user chose it."""
    root = Path(root)
    seen = set()
    for name in names:
        path = root
        for part in Path(name).parts:
            path = path / part
            if path in seen:
                continue
            seen.add(path)
            if path.is_symlink():
                raise UsageError(f"{path} is a symbolic link; ganagerie writes only into files and "
                                 "directories of its own there: replace the link with what it "
                                 "points to, or choose another --out")


def strict_json(data: Any) -> Any:
    """``data`` as strict JSON: every non-finite number becomes null, and a dict at the top
    gets ``"nonfinite": [paths]`` naming where (JSON has no NaN or Infinity)."""
    found: list[str] = []

    def walk(x: Any, where: str) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            found.append(where or ".")
            return None
        if isinstance(x, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(x)]
        return x

    clean = walk(data, "")
    if found and isinstance(clean, dict):
        clean["nonfinite"] = sorted(set(found) | set(clean.get("nonfinite") or []))
    return clean


def write_json(path: str | Path, data: Any) -> None:
    with atomic_open(path, "w") as fh:
        json.dump(strict_json(data), fh, indent=2, sort_keys=False, allow_nan=False)
        fh.write("\n")


def write_with(path: str | Path, writer: Callable[[IO[bytes]], None]) -> None:
    """Atomically write a file through ``writer(fh)`` (torch.save, savefig, ...)."""
    with atomic_open(path, "wb") as fh:
        writer(fh)


#: the most a file the tool reads may hold (results.json of 192 runs is 1.2 MB)
MAX_READ_BYTES = 256 * 2**20


class UnreadableFile(ValueError):
    """A file that is not a regular file, too large, not UTF-8, or not the JSON it should be."""


def read_text(path: str | Path, limit: int = MAX_READ_BYTES) -> str:
    """A regular file's text, at most ``limit`` bytes: never a FIFO or a device (which could
    block or never end), never read without bound. FileNotFoundError passes through; anything
    else that keeps the file from being read as text is an ``UnreadableFile`` naming it."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO opens, and is refused
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise UnreadableFile(f"{path} is {kind}")
        if info.st_size > limit:
            raise UnreadableFile(f"{path} holds {info.st_size:,} bytes, more than the {limit:,} "
                                 "this tool reads")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise UnreadableFile(f"{path} grew past {limit:,} bytes while it was read")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def loads_json(text: str, where: str) -> Any:
    """JSON from ``text``; bad JSON, a key given twice in one object, or nesting deeper than
    Python's recursion allows, is an ``UnreadableFile`` naming ``where`` (never a RecursionError)."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise UnreadableFile(f"{where} is nested too deeply to be a file this tool wrote") from None
    except ValueError as exc:
        raise UnreadableFile(f"{where} is not valid JSON ({str(exc)[:200]})") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique (a repeated key would silently take the last value)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"key {twice[:100]!r} is given twice")
    return found


def read_json(path: str | Path, limit: int = MAX_READ_BYTES) -> Any:
    """One JSON file, read with ``read_text``'s bounds and parsed with ``loads_json``'s."""
    return loads_json(read_text(path, limit), str(path))


def read_jsonl(path: str | Path, check: Callable[[Any, str], Any] | None = None) -> list[dict[str, Any]]:
    """A JSON-lines file of objects, each passed through ``check(row, where)`` (a schema's,
    raising ``UnreadableFile``), ignoring a torn last line left by a killed process. A bad
    line before the last is damage, not a tear: ``UnreadableFile`` naming its line number (a
    resume must never rewrite the file into less)."""
    try:
        lines = read_text(path).splitlines()
    except FileNotFoundError:
        return []
    rows = []
    for number, line in enumerate(lines, start=1):
        try:
            row = loads_json(line, f"{path} line {number}")
            if not isinstance(row, dict):
                raise UnreadableFile(f"{path} line {number} is not a JSON object")
            if check is not None:
                check(row, f"{path} line {number}")
        except UnreadableFile as exc:
            if number == len(lines):
                break  # torn by a kill mid-write
            why = str(exc).removeprefix(f"{path} line {number} ")[:400]  # "is not ..."
            raise UnreadableFile(f"{path} line {number} of {len(lines)} {why}: the log is damaged; "
                                 "restore the file, or move it aside to keep its rows and start a "
                                 "new log") from None
        rows.append(row)
    return rows


def append_jsonl(path: str | Path, row: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(strict_json(row), allow_nan=False) + "\n")


def write_jsonl(path: str | Path, rows: list[dict[str, Any]]) -> None:
    with atomic_open(path, "w") as fh:
        for row in rows:
            fh.write(json.dumps(strict_json(row), allow_nan=False) + "\n")
