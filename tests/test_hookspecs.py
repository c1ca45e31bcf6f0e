"""Every hook is documented (its docstring is the reference) and exercised by a test."""

import inspect
from pathlib import Path

from ganagerie import hookspecs
from ganagerie.registry import KINDS

HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")]


def test_every_hook_has_a_docstring():
    assert len(HOOKS) >= 6
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_every_hook_is_implemented_by_a_built_in_or_a_test(registry):
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    kind_of = {plural: kind for kind, plural in KINDS.items()}
    for name in HOOKS:
        kind = kind_of[name.removeprefix("register_")]
        used = bool(registry.entries[kind]) or f"def {name}" in tests
        assert used, f"hook {name} has no implementation and no test"
