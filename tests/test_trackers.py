"""Experiment trackers: real runs tracked to TensorBoard, MLflow and W&B, read back with each
library's own reader; tracking changes nothing in the run, and a resumed run stays one run."""

import json
import shutil
import struct
import subprocess
import sys
import types
from pathlib import Path

import helpers
import numpy as np
import pytest

from ganagerie import hookimpl
from ganagerie.components import Tracker
from ganagerie.config import resolve_config
from ganagerie.files import read_jsonl
from ganagerie.plugin_loader import load_plugins
from ganagerie.train.rundir import RunDir
from ganagerie.train.tracking import TrackerWarning
from ganagerie.train.trainer import train

TIMING = ("steps_per_s", "time_s", "eval_time_s")
TINY = [a for s in helpers.tiny(width=16, log_every=10, checkpoint_every=20) for a in ("--set", s)]
TRAIN = ["train", "--dataset", "ring8", "--quiet", "--seed", "3", *TINY]


def numbers(row, prefix=""):
    """A metrics.jsonl row as a tracker gets it: every number, nested keys joined by '/'."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dict):
            out.update(numbers(value, f"{prefix}{key}/"))
        elif isinstance(value, (int, float)) and key != "step":
            out[f"{prefix}{key}"] = float(value)
    return out


def logged(run_dir):
    """{step: {key: value}} of a run's metrics.jsonl, log and evaluation rows merged."""
    out = {}
    for row in read_jsonl(RunDir(run_dir).metrics):
        out.setdefault(row["step"], {}).update(numbers(row))
    return out


def without_timing(run_dir):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_jsonl(RunDir(run_dir).metrics)]


def files(run_dir):
    return sorted(str(p.relative_to(run_dir)) for p in Path(run_dir).rglob("*"))


def tensorboard_scalars(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    events.Reload()
    return events, {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def as_series(rows):
    """{key: [(step, value)]} from {step: {key: value}}."""
    out = {}
    for step in sorted(rows):
        for key, value in rows[step].items():
            out.setdefault(key, []).append((step, value))
    return out


def as_float32(series):
    """TensorBoard keeps scalars as float32."""
    return {k: [(step, float(np.float32(v))) for step, v in pairs] for k, pairs in series.items()}


def mlflow_runs(db):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    experiment = client.get_experiment_by_name("ganagerie")
    return client, client.search_runs([experiment.experiment_id])


def mlflow_series(client, run):
    return {key: sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, key))
            for key in run.data.metrics}


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The test runs in tmp_path: trackers' default directories land there."""
    pytest.importorskip("tensorboard")
    pytest.importorskip("mlflow")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_train_tracked_to_tensorboard_and_mlflow_writes_what_the_run_logged(here, cli):
    track = ["--track", "tensorboard", "--track", f"mlflow:tracking_uri=sqlite:///{here / 'ml.db'}"]
    common = [*TRAIN, "--steps", "40", "--eval-every", "20", "--eval-samples", "200"]
    code, _, err = cli(*common, "--out", "runs/plain")
    assert code == 0, err
    code, _, err = cli(*common, "--out", "runs/tracked", *track)
    assert code == 0, err
    # the run directory is the untracked run's: same files, same numbers
    assert files(here / "runs/tracked") == files(here / "runs/plain")
    assert without_timing(here / "runs/tracked") == without_timing(here / "runs/plain")
    rows = logged(here / "runs/tracked")
    assert "diag/d_gap" in rows[40] and "eval/mixture-modes/modes" in rows[40]

    events, scalars = tensorboard_scalars(here / "runs/tensorboard/tracked")
    assert scalars == as_float32(as_series(rows))
    assert "samples" in events.Tags()["images"]
    assert events.Tensors("config/text_summary")  # the config, as text

    client, runs = mlflow_runs(here / "ml.db")
    (run,) = runs
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked"
    assert mlflow_series(client, run) == as_series(rows)
    config = json.loads((here / "runs/tracked/config.json").read_text())
    assert run.data.params["dataset.name"] == "ring8"
    assert run.data.params["steps"] == "40" and run.data.params["seed"] == str(config["seed"])
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"config.json", "samples"}
    assert [a.path for a in client.list_artifacts(run.info.run_id, "samples")] == \
        ["samples/step_0000040.png"]
    assert not (here / "mlruns").exists() and not (here / "mlartifacts").exists()


def test_a_killed_and_resumed_run_is_one_tracked_run(here, cli):
    track = ["--track", "tensorboard", "--track", f"mlflow:tracking_uri=sqlite:///{here / 'ml.db'}"]
    run = here / "runs/r"
    assert cli(*TRAIN, "--steps", "20", "--out", run, *track)[0] == 0
    at_20 = here / "checkpoint-at-20"
    shutil.copytree(run / "checkpoints", at_20)
    assert cli("train", "--resume", "--out", run, "--steps", "30", "--quiet", *track)[0] == 0
    # the process died after logging step 30, before checkpointing it
    shutil.rmtree(run / "checkpoints")
    shutil.copytree(at_20, run / "checkpoints")
    RunDir(run).write_status("running", 20, 30)
    code, _, err = cli("train", "--resume", "--out", run, "--steps", "40", "--quiet", *track)
    assert code == 0, err
    rows = logged(run)
    assert sorted(rows) == [10, 20, 30, 40]

    _, scalars = tensorboard_scalars(here / "runs/tensorboard/r")
    assert scalars == as_float32(as_series(rows))  # step 30 once, from the resumed run
    client, runs = mlflow_runs(here / "ml.db")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    series = mlflow_series(client, runs[0])
    assert {k: v for k, v in series.items() if k not in TIMING} == \
        {k: v for k, v in as_series(rows).items() if k not in TIMING}

    # a new run into a directory used before is a new tracked run
    shutil.rmtree(run)
    assert cli(*TRAIN, "--steps", "10", "--out", run, *track)[0] == 0
    _, scalars = tensorboard_scalars(here / "runs/tensorboard/r")
    assert [s for s, _ in scalars["d_loss"]] == [10]
    assert len(mlflow_runs(here / "ml.db")[1]) == 2


class Failing(Tracker):
    """A tracker that breaks at its second row."""

    calls: list = []

    def start(self, run_dir, config, resume_step):
        self.calls.append("start")

    def log_scalars(self, step, values):
        self.calls.append(step)
        if step == 20:
            raise OSError("disk full")

    def finish(self, status):
        self.calls.append(status)


def test_a_tracker_that_fails_costs_one_warning_and_the_run_goes_on(tmp_path, registry):
    plugin = types.ModuleType("failing_tracker")
    plugin.register_trackers = hookimpl(lambda register: register("failing", Failing))
    with_failing = load_plugins(extra=[plugin]).registry
    cfg = resolve_config(with_failing, dataset="ring8", overrides={"steps": 40},
                         sets=helpers.tiny(width=16))
    with pytest.warns(TrackerWarning) as caught:
        result = train(cfg, with_failing, tmp_path / "r", progress=False, track=["failing"])
    assert result.status == "completed" and result.step == 40
    assert len(caught) == 1
    assert "tracker 'failing' failed in log_scalars" in str(caught[0].message)
    assert "disk full" in str(caught[0].message)
    assert Failing.calls == ["start", 10, 20]  # dropped: no more rows, no finish
    train(cfg, with_failing, tmp_path / "plain", progress=False)
    assert without_timing(tmp_path / "r") == without_timing(tmp_path / "plain")


def test_a_missing_library_is_one_warning_naming_the_extra(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    monkeypatch.chdir(tmp_path)
    code, stdout, err = cli(*TRAIN, "--steps", "20", "--out", "runs/r", "--track", "tensorboard")
    assert code == 0 and stdout.startswith("completed at step 20")
    (line,) = err.splitlines()
    assert line.startswith("warning: tracker 'tensorboard' failed in start")
    assert 'pip install "ganagerie[tensorboard]"' in line


def test_bad_tracker_names_and_options_are_usage_errors(tmp_path, cli):
    code, _, err = cli(*TRAIN, "--out", tmp_path / "r", "--track", "tensorbord")
    assert code == 2 and "unknown tracker 'tensorbord'; did you mean 'tensorboard'" in err
    code, _, err = cli(*TRAIN, "--out", tmp_path / "r", "--track", "tensorboard:log_dir=x")
    assert code == 2 and "unknown option 'log_dir' for tracker 'tensorboard'" in err
    assert not (tmp_path / "r").exists()


def test_bench_run_tracks_every_run_to_tensorboard(here, cli):
    suite = here / "tiny.toml"
    suite.write_text(helpers.tiny_suite(['"vanilla"'], seeds=2, steps=20, eval_every=20,
                                        checkpoint_every=10))
    code, stdout, err = cli("bench", "run", suite, "--out", "bench", "--jobs", "1", "--threads", "1",
                            "--quiet", "--track", "tensorboard")
    assert code == 0, err
    assert stdout.startswith("2 runs: 2 completed")
    for seed in (0, 1):
        _, scalars = tensorboard_scalars(here / f"runs/tensorboard/bench/runs/ring8/vanilla/seed-{seed}")
        assert scalars == as_float32(as_series(logged(here / f"bench/runs/ring8/vanilla/seed-{seed}")))
    assert not any("tensorboard" in str(p) for p in (here / "bench").rglob("*"))


def wandb_records(path):
    """The records of a W&B offline run file (``run-ID.wandb``): a 7-byte header, then
    LevelDB-log records (CRC, length, type) in 32 KiB blocks, each a protobuf ``Record``."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, block = Path(path).read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, pending, out = 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # too little room for a header: the block's tail is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        pending += data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # full, or the last piece of a record
            record = pb.Record()
            record.ParseFromString(pending)
            out.append(record)
            pending = b""
        elif kind == 0:
            break
    return out


def test_wandb_tracks_offline_and_a_resumed_run_keeps_its_id(tmp_path, cli, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    run = tmp_path / "runs/w"
    track = ["--track", f"wandb:dir={tmp_path / 'wb'}"]
    assert cli(*TRAIN, "--steps", "20", "--out", run, *track)[0] == 0
    assert cli("train", "--resume", "--out", run, "--steps", "30", "--quiet", *track)[0] == 0
    pieces = sorted((tmp_path / "wb/wandb").glob("offline-run-*"))
    assert len(pieces) == 2  # offline: one file per process, one run id (wandb sync joins them)
    ids = {p.name.rsplit("-", 1)[1] for p in pieces}
    assert len(ids) == 1
    history, config = {}, {}
    for piece in pieces:
        (file,) = piece.glob("run-*.wandb")
        for record in wandb_records(file):
            if record.WhichOneof("record_type") == "history":
                items = {"/".join(i.nested_key) or i.key: json.loads(i.value_json)
                         for i in record.history.item}
                history[items.pop("_step")] = {k: v for k, v in items.items() if not k.startswith("_")}
            elif record.WhichOneof("record_type") == "run":
                assert record.run.run_id in ids and record.run.display_name == "w"
                config.update({i.key: json.loads(i.value_json) for i in record.run.config.update})
    rows = logged(run)
    scalars = {s: {k: v for k, v in h.items() if not k.startswith("samples/")} for s, h in history.items()}
    assert scalars == rows
    assert history[30]["samples/_type"] == "image-file"
    assert config["dataset"]["name"] == "ring8"


def test_listing_imports_no_tracker_library():
    code = ("import sys; from ganagerie.cli import main; main(['list', 'trackers']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorboard', 'mlflow', 'wandb'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "tensorboard" in done.stdout and "mlflow" in done.stdout and "wandb" in done.stdout
    assert done.stdout.strip().endswith("[]")
