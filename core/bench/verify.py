"""Re-run the runs recorded in a report and say what differs from the recorded results."""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import UsageError
from ..files import write_json
from ..registry import Registry
from .executor import make_executor
from .harness import default_jobs, execute
from .layout import PLAN_FILE, PLAN_FORMAT
from .results import run_record
from .suite import RunSpec

#: what must match, run by run
COMPARED = ("status", "step", "final_losses", "metrics")


def load_results(report_dir: str | Path) -> dict[str, Any]:
    path = Path(report_dir) / "results.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"no results.json in {report_dir}; give the --out of a "
                         "`ganagerie bench run` or a committed report directory") from None
    except ValueError as exc:
        raise UsageError(f"{path} is damaged ({exc})") from None


def select_runs(recorded: list[dict[str, Any]], patterns: Sequence[str]) -> list[dict[str, Any]]:
    """The recorded runs whose key matches any pattern (``ring8/*/seed-0``); all without any."""
    if not patterns:
        return recorded
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(r["key"], pattern) for r in recorded):
            keys = ", ".join(r["key"] for r in recorded[:4])
            raise UsageError(f"--runs '{pattern}' matches no recorded run (keys look like {keys}, "
                             "...; patterns take * and ?)")
    return [r for r in recorded if any(fnmatch.fnmatchcase(r["key"], p) for p in patterns)]


def verify(
    report_dir: str | Path,
    registry: Registry | None = None,
    *,
    runs: Sequence[str] = (),
    out: str | Path | None = None,
    jobs: int | None = None,
    progress: bool | None = None,
) -> tuple[list[str], Path, int]:
    """Re-run the selected recorded runs into ``out`` (a temp dir by default).

    Returns the differences (one line each; empty when everything matches), the
    directory the runs were made in, and how many runs were checked.
    """
    results = load_results(report_dir)
    chosen = select_runs(results["runs"], runs)
    specs = [RunSpec.from_json(r) for r in chosen]
    if any(s.config["device"] != "cpu" for s in specs) and not torch.cuda.is_available():
        raise UsageError("these runs were made on a GPU and this machine has none; verify them "
                         "on the same device type")
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="ganagerie-verify-"))
    if (out / PLAN_FILE).exists():
        raise UsageError(f"{out} already holds a benchmark; give an empty --out")
    write_json(out / PLAN_FILE, {"format": PLAN_FORMAT, "suite": results["suite"],
                                 "options": results["options"], "threads": results["threads"],
                                 "environment": results["environment"],
                                 "runs": [s.as_json() for s in specs]})
    executor = make_executor(default_jobs(specs) if jobs is None else jobs, results["threads"])
    execute(specs, out, executor, registry, progress, f"verify {results['suite']['name']}")
    differences = []
    for old, spec in zip(chosen, specs):
        new = run_record(out, spec)
        for key in COMPARED:
            if old[key] != new[key]:
                differences.append(f"{spec.key}: {key} {_show(old[key])} recorded, "
                                   f"{_show(new[key])} now")
    return differences, out, len(specs)


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
