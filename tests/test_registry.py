"""Registry: provenance, duplicate names, unknown names, option checking."""

import pytest

from ganagerie.errors import UsageError
from ganagerie.registry import Provenance, Registry


def factory(weight: float = 1.0, steps: int = 3, on: bool = False, mode: str = "a"):
    """A test component."""
    return {"weight": weight, "steps": steps, "on": on, "mode": mode}


def test_duplicate_name_names_both_plugins():
    reg = Registry()
    reg.add("loss", "hinge", factory, Provenance("pkg_a.plugin", "pkg-a", "1.0"))
    with pytest.raises(UsageError) as exc:
        reg.add("loss", "hinge", factory, Provenance("pkg_b.plugin", "pkg-b", "2.0"))
    msg = str(exc.value)
    assert "pkg_a.plugin (pkg-a 1.0)" in msg and "pkg_b.plugin (pkg-b 2.0)" in msg


def test_unknown_name_suggests_close_matches_and_the_list_command(registry):
    with pytest.raises(UsageError) as exc:
        registry.get("loss", "wasserstien")
    assert str(exc.value) == (
        "unknown loss 'wasserstien'; did you mean 'wasserstein'? (ganagerie list losses)"
    )
    with pytest.raises(UsageError, match=r"^unknown regularizer 'zzz' \(ganagerie list"):
        registry.get("regularizer", "zzz")


def test_options_are_checked_and_converted():
    reg = Registry()
    reg.add("regularizer", "r", factory, Provenance("p"))
    assert reg.create("regularizer", "r", {"weight": 2, "steps": 4.0, "on": "true"}) == {
        "weight": 2.0, "steps": 4, "on": True, "mode": "a"}
    with pytest.raises(UsageError, match="did you mean 'weight'.*its options: weight, steps"):
        reg.create("regularizer", "r", {"wieght": 1})
    with pytest.raises(UsageError, match="option steps: expected an integer"):
        reg.create("regularizer", "r", {"steps": 1.5})
    with pytest.raises(UsageError, match="option weight: expected a number"):
        reg.create("regularizer", "r", {"weight": "heavy"})


def test_help_defaults_to_docstring_and_entries_export_json():
    reg = Registry()
    reg.add("loss", "x", factory, Provenance("p", "dist", "0.1"))
    data = reg.get("loss", "x").as_json()
    assert data["help"] == "A test component."
    assert data["plugin"] == "p" and data["version"] == "0.1"
    assert data["options"]["weight"] == 1.0


def test_bad_registrations_are_rejected():
    reg = Registry()
    with pytest.raises(ValueError):
        reg.add("loss", "a:b", factory, Provenance("p"))
    with pytest.raises(ValueError):
        reg.add("loss", "ok", 3, Provenance("p"))
