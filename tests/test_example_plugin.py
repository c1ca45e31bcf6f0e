"""examples/ganagerie-dragan, installed as a user installs a plugin, then used from the CLI.

The distribution is built and installed (no network: no build isolation, no index) into a
throwaway virtual environment that inherits torch and ganagerie from this one; every command
runs in a subprocess of that environment's interpreter. ganagerie itself is not installed
there, so the venv has no ``ganagerie`` script: commands run the same ``main()`` the script
calls, through ``python -c``.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganagerie-dragan"
DISTRIBUTION, VERSION = "ganagerie-dragan", "0.1.0"
#: the example's build backend: 77 reads the SPDX ``license`` string of its pyproject.toml
SETUPTOOLS = (77,)
CLI = "import sys; from ganagerie.cli import main; sys.exit(main())"
TIMEOUT = 300


@dataclass
class Env:
    python: Path
    source: Path
    root: Path

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "GANAGERIE_STRICT_PLUGINS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
               "PIP_NO_INPUT": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([str(self.python), *map(str, args)], cwd=cwd or self.root, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT)
        assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done

    def ganagerie(self, *args: str | Path) -> str:
        return self.run("-c", CLI, *args).stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    root = tmp_path_factory.mktemp("example-plugin")
    # build from a copy: pip writes build/ and *.egg-info next to the sources
    source = root / "ganagerie-dragan"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
                   check=True, timeout=TIMEOUT)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    env = Env(python, source, root)
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
        pytest.skip(f"building the example offline needs setuptools >= 77 in this environment "
                    f"(found {found or 'none'}): pip install 'setuptools>=77'")
    env.run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--no-cache-dir",
            "--quiet", source)
    return env


def test_list_shows_the_plugins_components_with_its_distribution_and_version(env):
    entries = json.loads(env.ganagerie("list", "--json"))
    mine = {(e["kind"], e["name"]): e for e in entries if e["distribution"] == DISTRIBUTION}
    assert set(mine) == {("regularizer", "dragan"), ("variant", "dragan"), ("metric", "energy-distance")}
    assert {e["version"] for e in mine.values()} == {VERSION}
    assert mine["regularizer", "dragan"]["options"] == {"weight": 10.0, "c": 0.5, "target": 1.0}


def test_train_the_preset_then_eval_reports_the_energy_distance(env):
    run = env.root / "runs" / "dragan"
    out = env.ganagerie("train", "--dataset", "ring8", "--variant", "dragan", "--steps", "200",
                        "--out", run, "--quiet")
    assert "completed at step 200" in out and "d/dragan=" in out
    out = env.ganagerie("eval", run)
    assert "energy-distance: energy_distance=" in out
    result = json.loads((run / "eval.json").read_text())
    assert result["metrics"]["energy-distance"]["energy_distance"] > 0
    protocol = result["protocol"]["metrics"]["energy-distance"]
    assert protocol["plugin_version"] == VERSION
    assert (protocol["n_real"], protocol["n_generated"]) == (2500, 2500)


def test_the_shipped_suite_runs_and_its_report_names_the_plugin(env):
    assert "dragan-2d" in env.ganagerie("bench", "list")
    out = env.root / "bench"
    env.ganagerie("bench", "run", "dragan-2d", "--out", out, "--quiet")
    results = json.loads((out / "results.json").read_text())
    assert results["suite"]["origin"] == "ganagerie_dragan.suites/dragan-2d.toml"
    assert {r["status"] for r in results["runs"]} == {"completed"} and len(results["runs"]) == 4
    plugins = {p["name"]: p for p in results["environment"]["plugins"]}
    assert plugins["ganagerie_dragan.dragan"]["distribution"] == DISTRIBUTION
    assert plugins["ganagerie_dragan.dragan"]["version"] == VERSION
    ring8 = results["datasets"]["ring8"]
    assert ring8["ranking"]["metric"] == "energy_distance" and not ring8["ranking"]["higher_is_better"]
    report = (out / "report.md").read_text()
    assert f"| ganagerie_dragan.dragan | {DISTRIBUTION} | {VERSION} |" in report


def test_the_examples_own_tests_pass_where_it_is_installed(env):
    done = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", cwd=env.source)
    assert " passed" in done.stdout and "skipped" not in done.stdout
