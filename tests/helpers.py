"""What many test modules share: tiny networks and tiny suites on ring8, and a throwaway
environment with a plugin distribution installed (import ``helpers``)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


def tiny(width: int = 32, n: int = 2000, log_every: int = 10,
         checkpoint_every: int | None = None) -> list[str]:
    """``--set`` overrides for a 2-layer MLP GAN on ``n`` ring8 points, batch 32."""
    sets = [f"arch.g_width={width}", f"arch.d_width={width}", "arch.g_depth=2", "arch.d_depth=2",
            f"log_every={log_every}", "batch_size=32", f"dataset.n={n}"]
    return sets if checkpoint_every is None else [*sets, f"checkpoint_every={checkpoint_every}"]


def tiny_suite(variants: Sequence[str], *, seeds: int, steps: int, eval_every: int,
               checkpoint_every: int, eval_samples: int = 200, extra: str = "") -> str:
    """A suite's TOML: ``variants`` (names, or TOML strings and inline tables) on 2,000 ring8 points with
    1-layer 16-wide networks, ranked by modes. ``extra``: more top-level keys."""
    listed = ", ".join(v if v[:1] in ('"', "{") else f'"{v}"' for v in variants)
    return f"""variants = [{listed}]
{extra}
seeds = {seeds}
steps = {steps}
eval_every = {eval_every}
eval_samples = {eval_samples}
rank_by = "modes"
datasets = [{{ name = "ring8", options = {{ n = 2000 }} }}]
[set]
arch.g_width = 16
arch.d_width = 16
arch.g_depth = 1
arch.d_depth = 1
batch_size = 32
log_every = 10
checkpoint_every = {checkpoint_every}
"""


CLI = "import sys; from ganagerie.cli import main; sys.exit(main())"
TIMEOUT = 300
#: the build backend of the plugin distributions: 77 reads the SPDX ``license`` string
SETUPTOOLS = (77,)


@dataclass
class Env:
    """A virtual environment with plugin distributions installed, as a user installs them."""

    python: Path
    source: Path
    root: Path
    strict: bool = True

    def run(self, *args: str | Path, cwd: Path | None = None, check: bool = True
            ) -> subprocess.CompletedProcess:
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
               "PYTHONDONTWRITEBYTECODE": "1"}
        env["GANAGERIE_STRICT_PLUGINS"] = "1" if self.strict else "0"
        done = subprocess.run([str(self.python), *map(str, args)], cwd=cwd or self.root, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
        if check:
            assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def ganagerie(self, *args: str | Path) -> str:
        return self.run("-c", CLI, *args).stdout


def installed(root: Path, distribution: Path, strict: bool = True) -> Env:
    """``distribution`` (a source tree) built and installed offline into a throwaway virtual
    environment under ``root`` that inherits torch and ganagerie from this one. ganagerie is not
    installed there, so commands run ganagerie's ``main()`` through ``python -c`` (``Env``)."""
    # build from a copy: pip writes build/ and *.egg-info next to the sources
    source = root / distribution.name
    shutil.copytree(distribution, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=TIMEOUT)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = Env(python, source, root, strict)
    # run from a virtual environment, --system-site-packages reaches only the base
    # interpreter's packages: hand ours on too, with addsitedir, which also runs their .pth
    # files (how editable installs such as ganagerie's are found)
    ours = [d for d in site.getsitepackages() if d not in site.getsitepackages([sys.base_prefix])]
    if ours:
        purelib = env.run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
        (Path(purelib) / "_outer_environment.pth").write_text(
            "".join(f"import site; site.addsitedir({d!r})\n" for d in ours))
    probe = subprocess.run([str(python), "-c", "import setuptools; print(setuptools.__version__)"],
                           capture_output=True, text=True, timeout=TIMEOUT)
    found = probe.stdout.strip()
    if probe.returncode != 0 or tuple(int(p) for p in found.split(".")[:1] if p.isdigit()) < SETUPTOOLS:
        pytest.skip(f"building a plugin offline needs setuptools >= 77 in this environment "
                    f"(found {found or 'none'}): pip install 'setuptools>=77'")
    env.run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
            "--quiet", source)
    return env
