"""What produced a result: versions, plugins, device and source commit, for reports."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..plugin_loader import get_plugins


def describe_environment() -> dict[str, Any]:
    """Versions of ganagerie, torch and every plugin, the devices, and the git commit."""
    return {
        "ganagerie": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "plugins": get_plugins().describe(),
        "git": git_commit(Path(__file__).resolve().parent),
    }


def cpu_name() -> str:
    """The CPU model, where the OS tells it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(source: Path) -> dict[str, Any] | None:
    """The commit of the ganagerie checkout holding ``source``; None for an installed package."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(source), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel"))
        # an installed package may sit inside someone else's repository: that commit is not ours
        if 'name = "ganagerie"' not in (top / "pyproject.toml").read_text():
            return None
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None
