"""The built-ins' registration module: every line names a factory that exists, with its own help."""

import inspect

import pytest

from ganagerie.plugin_loader import load_plugins

BUILT_IN = [e for entries in load_plugins().registry.qualified.values() for e in entries.values()
            if e.provenance.distribution == "ganagerie"]


@pytest.mark.parametrize("entry", BUILT_IN, ids=lambda e: f"{e.kind}-{e.name}")
def test_each_line_names_its_factory_and_repeats_its_docstring(entry):
    assert isinstance(entry.target, str) and entry.target.startswith("ganagerie.plugins.")
    factory = entry.factory
    assert factory.__module__ == entry.provenance.plugin  # listed under the module it lives in
    assert entry.help == (inspect.getdoc(factory) or "").splitlines()[0], (
        f"plugins/catalog.py: the help of {entry.kind} '{entry.name}' is not the first line of "
        f"{entry.target}'s docstring")
