"""The one error type for bad user input; the CLI turns it into exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(Exception):
    """A bad input from the user: the message says what was wrong and what to do."""


class FaultError(Exception):
    """The machine failed the tool (a full disk, a read-only mount, a file it may not write),
    not the input: the CLI says it in one line with exit code 3."""


class PluginFault(Exception):
    """A component broke its contract, at build or at run time: its code raised, or it returned
    what its contract does not allow (a loss that is not a scalar tensor, a metric value that is
    not a number). The plugin's fault, not the user's nor the machine's: one line naming the
    component, its plugin and distribution, and what it did; a run it happens in is ``failed``
    with that line, and the CLI says it with exit code 1.

    Raised where the return value is checked with ``kind``, ``name`` and ``what``; the driver
    of the run (``Registry.blame``) rewrites it with the plugin that provides the component."""

    def __init__(self, kind: str, name: str, what: str, plugin: str | None = None):
        self.kind, self.name, self.what, self.plugin = kind, name, what, plugin
        who = f" of {plugin}" if plugin else ""
        super().__init__(one_line(f"{kind} '{name}'{who} {what}; the fault is the plugin's: "
                                  "report it to its authors, or use another component"))


def os_fault(exc: OSError, doing: str = "") -> FaultError:
    """One line for an ``OSError``: the path, the cause, what to do."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    where = f" {exc.filename}" if exc.filename else ""
    cause = exc.strerror or str(exc)
    advice = {"ENOSPC": "free disk space", "EDQUOT": "free disk space",
              "EROFS": "write to a writable file system", "EACCES": "fix its permissions",
              "EPERM": "fix its permissions", "EISDIR": "remove the directory in the file's place",
              "ELOOP": "remove the symbolic link loop"}.get(name, "fix it")
    return FaultError(f"{doing + ': ' if doing else ''}cannot write or read{where} ({cause}"
                      f"{', ' + name if name else ''}); {advice}, then run the command again")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return " did you mean 'x'?" for the closest choices, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


#: the longest error line shown: user text quoted in a message may be megabytes long
MAX_LINE = 1_000


def one_line(message: str) -> str:
    """``message`` on one line and at most ``MAX_LINE`` characters: user text quoted inside
    it may hold line breaks, or be a 10 MB name."""
    line = message.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0")
    if len(line) > MAX_LINE:
        line = f"{line[:MAX_LINE - 40]}... ({len(line) - MAX_LINE + 40:,} characters cut)"
    return line
