"""Registry: provenance, duplicate names, unknown names, option checking."""

import pytest

from ganagerie.errors import UsageError
from ganagerie.registry import ComponentSpec, Provenance, Registry


def factory(weight: float = 1.0, steps: int = 3, on: bool = False, mode: str = "a"):
    """A test component."""
    return {"weight": weight, "steps": steps, "on": on, "mode": mode}


def test_duplicate_name_warns_naming_both_and_keeps_both_reachable():
    reg = Registry()
    first = Provenance("pkg_a.plugin", "pkg-a", "1.0")
    assert reg.add("loss", "hinge", factory, first) is None
    msg = reg.add("loss", "hinge", lambda: "b", Provenance("pkg_b.plugin", "pkg-b", "2.0"))
    assert "pkg_a.plugin (pkg-a 1.0)" in msg and "pkg_b.plugin (pkg-b 2.0)" in msg
    assert "'pkg-b:hinge'" in msg
    assert reg.get("loss", "hinge").provenance == first  # the plain name keeps the first
    assert reg.get("loss", "pkg-a:hinge").provenance == first
    assert reg.create("loss", "pkg-b:hinge") == "b"
    assert reg.names("loss") == ["hinge"]


def test_qualified_specs_parse_with_and_without_options():
    assert ComponentSpec.parse("pkg-b:hinge", "loss") == ComponentSpec("pkg-b:hinge")
    assert ComponentSpec.parse("pkg-b:gp:weight=5", "r") == ComponentSpec("pkg-b:gp", {"weight": 5})
    assert ComponentSpec.parse("gp:weight=5,target=0", "r") == ComponentSpec(
        "gp", {"weight": 5, "target": 0})
    assert ComponentSpec.parse("gp:", "r") == ComponentSpec("gp")


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


def test_a_factory_registered_as_module_attr_is_imported_on_first_use(monkeypatch):
    import sys

    monkeypatch.delitem(sys.modules, "json.tool", raising=False)
    reg = Registry()
    reg.add("loss", "lazy", "json.tool:main", Provenance("pkg.catalog", "pkg", "1.0"), help="Lazy.")
    entry = reg.get("loss", "lazy")
    assert "json.tool" not in sys.modules  # registering, looking up and listing import nothing
    assert (entry.help, entry.provenance.plugin, entry.qualified_name) == ("Lazy.", "json.tool", "pkg:lazy")
    assert entry.provenance.describe() == "json.tool (pkg 1.0)"  # listed under the module it lives in
    import json.tool

    assert entry.factory is json.tool.main and "json.tool" in sys.modules


def test_a_lazy_factory_without_help_is_imported_for_its_docstring():
    reg = Registry()
    reg.add("regularizer", "r", "test_registry:factory", Provenance("p"))
    entry = reg.get("regularizer", "r")
    assert entry.help == "A test component." and entry.target is factory
    assert reg.create("regularizer", "r", {"steps": 4.0})["steps"] == 4


def test_a_bad_module_attr_is_one_usage_error_naming_the_plugin():
    reg = Registry()
    prov = Provenance("pkg_bad.catalog", "pkg-bad", "0.1")
    reg.add("loss", "gone", "pkg_bad_missing.losses:Gone", prov, help="Never imported.")
    reg.add("loss", "typo", "test_registry:factroy", prov, help="A typo.")
    reg.add("loss", "value", "test_registry:__doc__", prov, help="Not callable.")
    with pytest.raises(UsageError) as exc:
        reg.create("loss", "gone")
    assert str(exc.value) == (
        "loss 'gone' of pkg_bad_missing.losses (pkg-bad 0.1) cannot be imported from "
        "'pkg_bad_missing.losses:Gone': ModuleNotFoundError: No module named 'pkg_bad_missing'")
    with pytest.raises(UsageError, match=r"^loss 'typo' of test_registry \(pkg-bad 0\.1\) cannot be "
                                         r"imported from 'test_registry:factroy': AttributeError"):
        reg.get("loss", "typo").options()
    with pytest.raises(UsageError, match="'test_registry:__doc__' is not callable"):
        reg.create("loss", "value")
    with pytest.raises(ValueError, match="write 'package.module:attr'"):
        reg.add("loss", "nocolon", "pkg_bad.losses", prov, help="x")
    with pytest.raises(UsageError, match="cannot be imported"):  # no help: imported at once
        reg.add("loss", "now", "pkg_bad_missing.losses:Gone", prov)


SOURCES = '''
import os
from ganagerie.components import Loss

SCALE = 2.5
WHERE = os.getcwd()


def plain(weight=1.0, *, mode="a", steps: int = -3, pair=(0.5, 0.9), need=None):
    return weight


class Base(Loss):
    def __init__(self, gamma=10.0, every=1):
        self.gamma = gamma


class Child(Base):
    pass


class OnContract(Loss):
    pass


class Constant:
    def __init__(self, scale=SCALE):
        pass


class Computed:
    def __init__(self, where=WHERE):
        pass


class Built:
    def __new__(cls, x=1):
        return object.__new__(cls)
'''


def test_options_are_read_from_the_source_without_importing_it_and_agree_with_the_import(
        tmp_path, monkeypatch):
    import inspect
    import sys

    from ganagerie.registry import declared_options

    (tmp_path / "ganagerie_src_probe.py").write_text(SOURCES)
    monkeypatch.syspath_prepend(str(tmp_path))
    read = {attr: declared_options(f"ganagerie_src_probe:{attr}")
            for attr in ("plain", "Child", "OnContract", "Constant", "Computed", "Built", "Missing")}
    assert "ganagerie_src_probe" not in sys.modules
    assert read["plain"] == {"weight": 1.0, "mode": "a", "steps": -3, "pair": (0.5, 0.9), "need": None}
    assert read["Child"] == {"gamma": 10.0, "every": 1} and read["OnContract"] == {}
    assert read["Constant"] == {"scale": 2.5}
    # what the source cannot say is left to the import
    assert read["Computed"] is read["Built"] is read["Missing"] is None
    import ganagerie_src_probe as probe

    for attr, options in read.items():
        if options is not None:
            params = inspect.signature(getattr(probe, attr)).parameters.values()
            assert options == {p.name: p.default for p in params
                               if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}, attr


def test_every_built_in_factory_s_options_are_read_from_its_source_as_its_import_says():
    import inspect

    from ganagerie.plugin_loader import load_plugins
    from ganagerie.registry import declared_options

    entries = [e for es in load_plugins().registry.qualified.values() for e in es.values()
               if isinstance(e.target, str)]
    assert len(entries) > 50
    for entry in entries:
        declared = declared_options(entry.target)
        assert declared is not None, f"{entry.target}: its options need an import to be read"
        params = inspect.signature(entry.factory).parameters.values()
        assert declared == {p.name: p.default for p in params
                            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}, entry.target
