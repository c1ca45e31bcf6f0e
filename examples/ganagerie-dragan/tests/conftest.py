"""The registry the tests use: ganagerie's plugins plus this distribution's modules."""

from __future__ import annotations

import pytest
from ganagerie.plugin_loader import load_plugins

from ganagerie_dragan import dragan, energy_distance


@pytest.fixture(scope="session")
def registry():
    # passing the modules as well works with or without `pip install`: an installed module
    # is the same object as its entry point's and is registered once
    return load_plugins(extra=[dragan, energy_distance]).registry
