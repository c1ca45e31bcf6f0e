"""The one error type for bad user input; the CLI turns it into exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UsageError(Exception):
    """A bad input from the user: the message says what was wrong and what to do."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return " did you mean 'x'?" for the closest choices, or ""."""
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.5)
    if not close:
        return ""
    return " did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def one_line(message: str) -> str:
    """``message`` on one line: user text quoted inside it may hold line breaks."""
    return message.replace("\r", "\\r").replace("\n", "\\n")
