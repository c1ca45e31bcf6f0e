"""The registry the tests use: ganagerie's plugins plus this distribution's."""

from __future__ import annotations

import pytest
from ganagerie.plugin_loader import load_plugins

from ganagerie_dragan import catalog


@pytest.fixture(scope="session")
def registry():
    # passing the module as well works with or without `pip install`: an installed module
    # is the same object as its entry point's and is registered once
    return load_plugins(extra=[catalog]).registry
