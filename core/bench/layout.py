"""Where a benchmark keeps things: the plan, the run directories, their evaluations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import schemas
from ..errors import UsageError
from ..train.rundir import RunDir
from .suite import LABEL, RunSpec

_KEY = re.compile(rf"^{LABEL}/{LABEL}/seed-[0-9]+$")
PLAN_FILE = "bench.json"
PLAN_FORMAT = schemas.PLAN_FORMAT


def run_dir(out: str | Path, key: str) -> RunDir:
    """The run directory of ``key`` (``DATASET/VARIANT/seed-N``, checked) under ``out``."""
    if not _KEY.match(key):
        raise UsageError(f"bad run key {key[:80]!r}; keys are DATASET/VARIANT/seed-N")
    return RunDir(Path(out) / "runs" / key)


def read_plan(out: str | Path, missing_ok: bool = False) -> dict[str, Any] | None:
    """The plan recorded in ``OUT/bench.json``."""
    path = Path(out) / PLAN_FILE
    try:
        return schemas.read(path, schemas.Plan)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise UsageError(f"{out} holds no benchmark ({PLAN_FILE} is missing); "
                         "give the --out of a `ganagerie bench run`") from None
    except ValueError as exc:  # not JSON, or not a plan of this format (schemas.Plan)
        raise UsageError(f"{str(exc)[:600]}; rerun the suite into a new --out") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror}); give the --out of a "
                         "`ganagerie bench run`") from None


def seeds_added(previous: dict[str, Any] | None, specs: list[RunSpec], out: str | Path) -> list[dict]:
    """The plan's record of seeds added after a look: the earlier ones, and this one when the
    new plan has more seeds per cell than the last and a report of the earlier seeds was
    written (results.json: the user could have looked)."""
    looks = list(previous.get("seeds_added", [])) if previous else []
    if previous is None or not (Path(out) / "results.json").exists():
        return looks
    before = _seeds_per_cell(previous["runs"])
    now = _seeds_per_cell([s.as_json() for s in specs])
    if now > before > 0:
        looks.append({"from": before, "to": now})
    return looks


def _seeds_per_cell(runs: list[Any]) -> int:
    cells: dict[tuple, set] = {}
    for r in runs:
        if isinstance(r, dict):
            cells.setdefault((r.get("dataset"), r.get("variant")), set()).add(r.get("seed"))
    return max((len(s) for s in cells.values()), default=0)


def evaluation_planned(spec: RunSpec) -> bool:
    """Runs are scored after training, unless no metric applies to their data."""
    return bool(spec.config["eval_metrics"])


def evaluated(rd: RunDir) -> bool:
    """Whether ``eval.json`` scored the weights the run ended with (a copy from an earlier
    step, or a damaged file, does not count)."""
    step = rd.read_status().get("step")
    return step is not None and rd.evaluated_step() == step
