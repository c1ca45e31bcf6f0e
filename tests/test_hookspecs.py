"""Every hook is documented (its docstring is the reference), listed once in EXTENSION_POINTS
and exercised by a test."""

import inspect
from pathlib import Path

from ganagerie import hookspecs, testing
from ganagerie.plugin_loader import _HOOKS
from ganagerie.registry import KINDS

HOOKS = [n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "ganagerie_spec")]


def test_every_hook_has_a_docstring():
    assert len(HOOKS) >= 6
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


def test_the_hooks_the_registry_and_the_kit_are_the_one_list_of_extension_points():
    points = hookspecs.EXTENSION_POINTS
    assert sorted(HOOKS) == sorted(p.hook for p in points) == sorted(_HOOKS)
    assert KINDS == {p.kind: p.plural for p in points}
    assert set(testing._CHECKS) == set(KINDS)
    for point in points:  # every contract exists, and the kit checks against it first
        assert point.contract is None or isinstance(getattr(testing.contracts, point.contract), type)
        assert testing._CHECKS[point.kind][0] is testing._check_builds_its_contract


def test_every_hook_is_implemented_by_a_built_in_or_a_test(registry):
    tests = "".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    kind_of = {plural: kind for kind, plural in KINDS.items()}
    for name in HOOKS:
        kind = kind_of[name.removeprefix("register_")]
        used = bool(registry.entries[kind]) or f"def {name}" in tests
        assert used, f"hook {name} has no implementation and no test"
