"""Where a benchmark keeps things: the plan, the run directories, their evaluations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..runs import EVAL_FILE
from ..train.rundir import RunDir
from .suite import RunSpec

PLAN_FILE = "bench.json"
PLAN_FORMAT = 1


def run_dir(out: str | Path, key: str) -> RunDir:
    return RunDir(Path(out) / "runs" / key)


def read_plan(out: str | Path, missing_ok: bool = False) -> dict[str, Any] | None:
    """The plan recorded in ``OUT/bench.json``."""
    path = Path(out) / PLAN_FILE
    try:
        plan = json.loads(path.read_text())
    except FileNotFoundError:
        if missing_ok:
            return None
        raise UsageError(f"{out} holds no benchmark ({PLAN_FILE} is missing); "
                         "give the --out of a `ganagerie bench run`") from None
    except ValueError as exc:
        raise UsageError(f"{path} is damaged ({exc}); rerun the suite into a new --out") from None
    if plan.get("format") != PLAN_FORMAT:
        raise UsageError(f"{path} is not a ganagerie benchmark plan of format {PLAN_FORMAT}")
    return plan


def evaluation_planned(spec: RunSpec) -> bool:
    """Runs are scored after training, unless no metric applies to their data."""
    return bool(spec.config["eval_metrics"])


def eval_path(rd: RunDir) -> Path:
    return rd.root / EVAL_FILE
