"""Parsing of ``key=value`` text from the command line into JSON-able values."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

from .errors import UsageError

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_value(text: str) -> Any:
    """Parse one value: JSON if it parses (numbers, true/false, lists), else a string.

    A comma-separated list such as ``0.5,0.999`` becomes a list.
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    if "," in text:
        return [parse_value(part) for part in text.split(",")]
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    return text


def parse_assignments(pairs: str, what: str) -> dict[str, Any]:
    """Parse ``a=1,b=x`` into a dict (for ``--reg NAME:a=1,b=x``)."""
    out: dict[str, Any] = {}
    if not pairs:
        return out
    for pair in pairs.split(","):
        key, eq, value = pair.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"bad option '{pair}' in {what}; write key=value, e.g. weight=10")
        out[key] = parse_value(value.strip())
    return out


def coerce_like(value: Any, default: Any) -> Any:
    """Convert ``value`` to the type of ``default`` (the option's declared default).

    Raises ValueError with a message fit for the user.
    """
    if default is inspect.Parameter.empty or default is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, str)) and str(value).lower() in _TRUE | _FALSE:
            return str(value).lower() in _TRUE
        raise ValueError(f"expected true or false, got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool) or not (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        ):
            raise ValueError(f"expected an integer, got {value!r}")
        if not -(2**63) <= value < 2**63:
            raise ValueError(f"{value!r} is out of range (at most 2^63 - 1)")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        return number
    if isinstance(default, str):
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ValueError(f"expected text, got {value!r}")
        return str(value)
    if isinstance(default, (tuple, list)):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ValueError(f"expected {len(default)} comma-separated values, got {value!r}")
        return [coerce_like(v, d) for v, d in zip(value, default)]
    return value
