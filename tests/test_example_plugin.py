"""examples/ganagerie-dragan, installed as a user installs a plugin, then used from the CLI.

The distribution is built and installed (no network: no build isolation, no index) into a
throwaway virtual environment that inherits torch and ganagerie from this one; every command
runs in a subprocess of that environment's interpreter. ganagerie itself is not installed
there, so the venv has no ``ganagerie`` script: commands run the same ``main()`` the script
calls, through ``python -c``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from helpers import Env, installed

from ganagerie import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ganagerie-dragan"
DISTRIBUTION, VERSION = "ganagerie-dragan", "0.1.0"


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Env:
    return installed(tmp_path_factory.mktemp("example-plugin"), EXAMPLE, strict=True)


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


def test_it_requires_the_ganagerie_that_introduced_factories_by_name():
    # the migration section that introduces "module:attr" factories is the one from the release before
    guide = (EXAMPLE.parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    (before,) = [(int(a), int(b)) for a, b, body in re.findall(
        r"^## Migrating from ganagerie (\d+)\.(\d+)\n(.*?)(?=^## |\Z)", guide, re.M | re.S)
        if "registered by name" in body]
    since = (before[0], before[1] + 1)
    assert tuple(int(p) for p in __version__.split(".")[:2]) >= since
    deps = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]["dependencies"]
    (needed,) = [re.fullmatch(r"ganagerie>=(\d+)\.(\d+)", d) for d in deps if d.startswith("ganagerie")]
    assert needed and (int(needed[1]), int(needed[2])) >= since, (
        f"examples/ganagerie-dragan registers factories by name: require ganagerie>={since[0]}.{since[1]}")
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert f'"ganagerie>={since[0]}.{since[1]}"' in readme
