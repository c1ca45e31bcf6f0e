"""Experiment trackers (``--track NAME``): what a run logs, mirrored to TensorBoard, MLflow or
Weights & Biases, outside the run directory.

Each gets the config when the run starts, every metrics.jsonl row (the log windows'
losses, penalties, ``diag/`` columns, techniques' values and timings; the evaluations as
``eval/METRIC/VALUE``), every samples picture, and how the run ended. Each library is an
extra of its own (``pip install "ganagerie[tensorboard]"``, ``[mlflow]``, ``[wandb]``),
imported when a run starts tracking, never when the plugins load.

A run is named in a tracker by its directory, relative to the working directory and
without a leading ``runs/`` (``runs/r1`` is ``r1``; a benchmark's runs are
``bench/SUITE/runs/DATASET/VARIANT/seed-N``). A resumed run continues the tracked run its
directory had, found without writing to the run directory: TensorBoard writes to the same
log directory and purges what was logged after the checkpoint; MLflow finds the run by its
``ganagerie_run_dir`` tag (the directory's absolute path); W&B keeps the run's id in a
small file under its own directory, one per run directory.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ganagerie.components import Tracker

#: the MLflow tag that names a run's directory (its absolute path)
RUN_DIR_TAG = "ganagerie_run_dir"


def run_name(run_dir: Path) -> str:
    """A run's name in a tracker: its directory relative to the working directory, without a
    leading ``runs/`` (the absolute path without its root when it lies elsewhere)."""
    path = Path(run_dir).resolve()
    try:
        parts = path.relative_to(Path.cwd().resolve()).parts
    except ValueError:
        parts = path.parts[1:]
    if len(parts) > 1 and parts[0] == "runs":
        parts = parts[1:]
    return "/".join(parts) or path.name


def _library(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{exc}; install it with: pip install \"ganagerie[{extra}]\"") from None


class TensorBoard(Tracker):
    """TensorBoard event files: every metrics column as a scalar, sample grids, the config as text."""

    def __init__(self, logdir: str = "runs/tensorboard"):
        self.logdir = logdir
        self.writer: Any = None
        self.step = 0

    def start(self, run_dir: Path, config: Mapping[str, Any], resume_step: int | None) -> None:
        writer = _library("torch.utils.tensorboard", "tensorboard").SummaryWriter
        self.path = Path(self.logdir) / run_name(run_dir)
        # TensorBoard drops the events at or after purge_step from the files before this one:
        # a fresh run drops what an older run in the same directory logged, a resumed one
        # what it logged after its checkpoint (those rows come again, with the same values)
        self.step = 0 if resume_step is None else resume_step + 1
        self.writer = writer(str(self.path), purge_step=self.step)
        text = "```json\n" + json.dumps(config, indent=2) + "\n```"
        self.writer.add_text("config", text, self.step)
        self.writer.flush()

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)
        self.writer.flush()  # a killed run keeps every row it logged
        self.step = step

    def log_image(self, step: int, name: str, path: Path) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"))
        self.writer.add_image(name, pixels, step, dataformats="HWC")
        self.writer.flush()

    def finish(self, status: str) -> None:
        self.writer.add_text("status", status, self.step)
        self.writer.close()


class MLflow(Tracker):
    """MLflow: the config as params, each metrics column as a metric, config.json and samples as artifacts."""

    def __init__(self, tracking_uri: str = "", experiment: str = "ganagerie"):
        self.tracking_uri, self.experiment = tracking_uri, experiment
        self.client: Any = None
        self.run_id = ""
        self.logged: dict[str, int] = {}  # a resumed run's last logged step, by metric

    def start(self, run_dir: Path, config: Mapping[str, Any], resume_step: int | None) -> None:
        tracking = _library("mlflow.tracking", "mlflow")
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
        if not uri:  # a local SQLite store
            Path("runs").mkdir(exist_ok=True)
            uri = f"sqlite:///{Path('runs/mlflow.db').resolve()}"
        artifacts = None  # a local store keeps its artifacts beside it, not in the working directory
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts").resolve().as_uri()
        self.client = client = tracking.MlflowClient(tracking_uri=uri)
        experiment = _retry(lambda: _experiment(client, self.experiment, artifacts))
        key = str(Path(run_dir).resolve())
        found = []
        if resume_step is not None:
            quote = "'" if "'" not in key else '"'
            found = client.search_runs([experiment], f"tags.`{RUN_DIR_TAG}` = {quote}{key}{quote}",
                                       order_by=["attributes.start_time DESC"], max_results=1)
        if found:
            self.run_id = found[0].info.run_id
            client.update_run(self.run_id, status="RUNNING")
            for metric in found[0].data.metrics:
                steps = [m.step for m in client.get_metric_history(self.run_id, metric)]
                self.logged[metric] = max(steps, default=-1)
            have = found[0].data.params
        else:
            self.run_id = client.create_run(experiment, run_name=run_name(run_dir),
                                            tags={RUN_DIR_TAG: key}).info.run_id
            have = {}
        from mlflow.entities import Param

        # a param cannot change in MLflow: a resumed run's new --steps is in config.json
        params = [Param(k, v) for k, v in _params(config).items() if k not in have]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params a call
            client.log_batch(self.run_id, params=params[i:i + 100])
        client.log_text(self.run_id, json.dumps(config, indent=2), "config.json")

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items() if step > self.logged.get(k, -1)]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def log_image(self, step: int, name: str, path: Path) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path=name)

    def finish(self, status: str) -> None:
        self.client.set_tag(self.run_id, "ganagerie_status", status)
        ended = {"completed": "FINISHED", "diverged": "FINISHED", "interrupted": "KILLED"}
        self.client.set_terminated(self.run_id, ended.get(status, "FAILED"))


def _experiment(client: Any, name: str, artifacts: str | None) -> str:
    found = client.get_experiment_by_name(name)
    return found.experiment_id if found else client.create_experiment(name, artifact_location=artifacts)


def _retry(fn: Any, tries: int = 3) -> Any:
    """``fn()``, again after a pause if it fails: parallel runs of a benchmark create one
    experiment (and one SQLite store) at the same time."""
    for attempt in range(tries):
        try:
            return fn()
        except Exception:
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def _params(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The config's fields as MLflow params, nested keys joined by ``.`` (lists as JSON)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(_params(value, f"{prefix}{key}."))
        else:
            text = value if isinstance(value, str) else json.dumps(value)
            out[f"{prefix}{key}"] = text[:6000]  # MLflow's longest param value
    return out


class WandB(Tracker):
    """Weights & Biases, offline unless mode=online (or WANDB_MODE): the config, metrics and samples."""

    def __init__(self, project: str = "ganagerie", mode: str = "", dir: str = "runs", entity: str = ""):
        if mode not in ("", "offline", "online"):
            raise ValueError(f"mode must be offline or online, got {mode!r}")
        self.project, self.mode, self.dir, self.entity = project, mode, dir, entity
        self.run: Any = None

    def start(self, run_dir: Path, config: Mapping[str, Any], resume_step: int | None) -> None:
        wandb = _library("wandb", "wandb")
        root = Path(self.dir)
        # the run's W&B id, kept beside W&B's own files, one file per run directory
        key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:16]
        ids = root / "wandb" / "ganagerie-ids"
        ids.mkdir(parents=True, exist_ok=True)
        kept = ids / key
        run_id = kept.read_text().strip() if resume_step is not None and kept.exists() else ""
        if not run_id:
            run_id = secrets.token_hex(4)  # W&B's ids are short lowercase words
            kept.write_text(run_id + "\n")
        settings = wandb.Settings(console="off", silent=True, disable_git=True)
        self.run = wandb.init(project=self.project, entity=self.entity or None, dir=str(root),
                              mode=self.mode or os.environ.get("WANDB_MODE") or "offline",
                              id=run_id, resume="allow", name=run_name(run_dir), config=dict(config),
                              settings=settings, reinit="create_new")

    def log_scalars(self, step: int, values: Mapping[str, float]) -> None:
        self.run.log(dict(values), step=step)

    def log_image(self, step: int, name: str, path: Path) -> None:
        import wandb

        self.run.log({name: wandb.Image(str(path))}, step=step)

    def finish(self, status: str) -> None:
        self.run.summary["status"] = status
        self.run.finish(exit_code=0 if status in ("completed", "diverged") else 1)
