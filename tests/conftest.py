"""Shared fixtures: the registry of installed plugins and a CLI runner."""

from __future__ import annotations

import os

import pytest
import torch

from ganagerie.cli import main
from ganagerie.plugin_loader import get_registry


@pytest.fixture(scope="session", autouse=True)
def ganagerie_cache(tmp_path_factory):
    """One cache for the session (the digits classifier trains once, shared by pytest-xdist's
    workers, which wait for each other's training through the cache's lock); never the
    user's ~/.cache."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the workers' basetemps are siblings below one run directory
    path = base / "ganagerie-cache"
    old = os.environ.get("GANAGERIE_CACHE")
    os.environ["GANAGERIE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("GANAGERIE_CACHE", None)
    else:
        os.environ["GANAGERIE_CACHE"] = old


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


@pytest.fixture
def float64():
    """torch's default dtype float64 for the test (networks, data and noise), then back."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)
