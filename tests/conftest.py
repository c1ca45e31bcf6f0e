"""Shared fixtures: the registry of installed plugins and a CLI runner."""

from __future__ import annotations

import pytest

from ganagerie.cli import main
from ganagerie.plugin_loader import get_registry


@pytest.fixture(scope="session")
def registry():
    return get_registry()


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""

    def run(*args: str):
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
