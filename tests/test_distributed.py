"""One run across processes: ``torchrun --nproc-per-node 2 -m ganagerie train`` on CPU (gloo)."""

import json
import os
import re
import subprocess
import sys
import time

import helpers
import pytest
import torch

from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.distributed import REPORT_WAIT_S, SINGLE, World, launched
from ganagerie.train.trainer import train

TINY = helpers.tiny(log_every=5, checkpoint_every=10)
#: losses that are means over the batch, no batch norm, no technique drawing randomness:
#: two processes equal one up to floating-point reassociation
EXACT = ("d_loss", "g_loss", "diag/d_gap", "diag/d_grad_norm", "diag/g_grad_norm")


def torchrun(*args, log_dir=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env["OMP_NUM_THREADS"] = "1"
    logs = ["--log-dir", str(log_dir), "--redirects", "3"] if log_dir else []
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", *logs,
               *(["-m", "ganagerie"] if args[0] == "train" else []), *map(str, args)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def worker_logs(log_dir, name):
    """What each rank wrote to ``name`` (stdout.log or stderr.log), by rank."""
    return {int(p.parent.name): p.read_text() for p in sorted(log_dir.rglob(name))}


def exit_codes(proc):
    """The workers' exit codes in torchrun's failure report: 2, or -15 (SIGTERM) for a worker
    that torchrun stopped once the other had exited."""
    return re.findall(r"exitcode +: (-?\d+)", proc.stderr)


def losses(run_dir):
    return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
            for r in read_jsonl(run_dir / "metrics.jsonl")]


def files(run_dir):
    return sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))


@pytest.fixture(scope="module")
def runs(registry, tmp_path_factory):
    """One process, two processes, and two processes stopped at step 10 then resumed to 20."""
    root = tmp_path_factory.mktemp("distributed")
    cfg = resolve_config(registry, dataset="ring8", variant="vanilla", overrides={"steps": 20}, sets=TINY)
    train(cfg, registry, root / "one", progress=False)
    two = torchrun("train", "--config", root / "one" / "config.json", "--out", root / "two", "--quiet")
    short = root / "short.json"
    short.write_text(json.dumps({**cfg.to_dict(), "steps": 10}))
    part = torchrun("train", "--config", short, "--out", root / "part", "--quiet")
    resumed = torchrun("train", "--out", root / "part", "--resume", "--steps", "20", "--quiet")
    return root, {"two": two, "part": part, "resumed": resumed}


def test_two_processes_write_one_complete_run_directory(runs):
    root, done = runs
    for name, proc in done.items():
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
    # rank 0 alone reports and writes: one result line, the files of a one-process run
    assert done["two"].stdout.count("completed at step 20") == 1
    assert files(root / "two") == files(root / "one")
    assert json.loads((root / "two" / "config.json").read_text()) == json.loads(
        (root / "one" / "config.json").read_text())
    assert [r["step"] for r in losses(root / "two")] == [5, 10, 15, 20]
    assert json.loads((root / "two" / "status.json").read_text())["status"] == "completed"


def test_two_processes_train_as_one_up_to_reassociation(runs):
    root, _ = runs
    for one, two in zip(losses(root / "one"), losses(root / "two")):
        for key in EXACT:
            assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-7), (one["step"], key)
        # D's accuracy thresholds each sample at the midpoint of its process's batch means
        assert abs(two["diag/d_accuracy"] - one["diag/d_accuracy"]) < 0.1
    weights = [read_checkpoint(root / d / "checkpoints" / "last.json")["generator"] for d in ("one", "two")]
    for name, tensor in weights[0].items():
        assert torch.allclose(tensor, weights[1][name], rtol=1e-4, atol=1e-6), name


def test_resume_across_processes_ends_as_the_uninterrupted_run(runs):
    root, _ = runs
    assert losses(root / "part") == losses(root / "two")
    full, part = (read_checkpoint(root / d / "checkpoints" / "last.json") for d in ("two", "part"))
    assert full["step"] == part["step"] == 20
    for net in ("generator", "discriminator"):
        for name, tensor in full[net].items():
            assert torch.equal(tensor, part[net][name]), (net, name)


def test_a_batch_that_does_not_split_is_one_line_from_rank_0_and_exit_code_2(tmp_path):
    proc = torchrun("train", "--dataset", "ring8", "--batch-size", "33", "--steps", "2", "--set",
                    "dataset.n=2000", "--out", tmp_path / "run", "--quiet", log_dir=tmp_path / "logs")
    errors = worker_logs(tmp_path / "logs", "stderr.log")
    assert errors[0] == ("error: batch_size 33 does not split over 2 processes; give a multiple of 2 "
                         "(batch_size is the global batch, each process takes batch_size / 2)\n")
    assert errors[1] == ""
    assert exit_codes(proc) in (["2", "2"], ["2", "-15"], ["-15", "2"])
    assert not (tmp_path / "run").exists()


INJECT = """
import sys
from ganagerie.cli import main
from ganagerie.train.step import Step

step = Step.train_step
def failing(self, diagnose=True):
    if self.step == 3 and self.world.rank == 1:
        raise RuntimeError("injected failure\\nsecond line")
    return step(self, diagnose)
Step.train_step = failing
sys.exit(main(sys.argv[1:]))
"""


def test_an_error_on_another_rank_stops_both_and_rank_0_reports_it_in_one_line(tmp_path):
    script = tmp_path / "inject.py"
    script.write_text(INJECT)
    started = time.monotonic()
    proc = torchrun(script, "train", "--dataset", "ring8", "--steps", "20", "--set", "dataset.n=2000",
                    "--out", tmp_path / "run", "--quiet", log_dir=tmp_path / "logs")
    # rank 0, blocked in a collective with rank 1, hears of it at once: no hang, no timeout
    assert time.monotonic() - started < REPORT_WAIT_S
    errors = worker_logs(tmp_path / "logs", "stderr.log")
    assert errors == {0: "error: rank 1: RuntimeError: injected failure\n", 1: ""}
    assert exit_codes(proc) in (["2", "2"], ["2", "-15"], ["-15", "2"])


def test_each_process_takes_its_contiguous_share_of_the_global_batch():
    batch = torch.arange(8)
    assert World(0, 2).local(batch).tolist() == [0, 1, 2, 3]
    assert World(1, 2).local(batch).tolist() == [4, 5, 6, 7]
    assert SINGLE.local(batch) is batch and SINGLE.writes and World(0, 2).writes and not World(1, 2).writes
    with pytest.raises(UsageError, match="batch_size 7 does not split over 2 processes"):
        World(0, 2).local(torch.arange(7))


def test_only_torchrun_with_several_processes_makes_a_distributed_run(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert not launched()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not launched()  # torchrun --nproc-per-node 1: the one-process path, unchanged
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched()
