"""Executors: results in order, progress callbacks, torch threads per task, bad --jobs, and
Ctrl-C that stops the workers too."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganagerie.bench.executor import ProcessExecutor, SerialExecutor, threads_per_job
from ganagerie.bench.harness import make_executor
from ganagerie.bench.progress import SuiteProgress
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl


def square_and_threads(x: int) -> tuple[int, int]:
    return x * x, torch.get_num_threads()


def test_serial_executor_runs_in_order_with_callbacks_and_restores_threads():
    before = torch.get_num_threads()
    events = []
    results = SerialExecutor(threads=1).map(
        square_and_threads, [3, 1, 2], on_start=lambda x: events.append(("start", x)),
        on_done=lambda x, r: events.append(("done", x)))
    assert results == [(9, 1), (1, 1), (4, 1)]
    assert events == [("start", 3), ("done", 3), ("start", 1), ("done", 1), ("start", 2), ("done", 2)]
    assert torch.get_num_threads() == before


def test_process_executor_keeps_order_and_sets_threads_in_workers():
    done = []
    results = ProcessExecutor(jobs=2, threads=1).map(square_and_threads, list(range(5)),
                                                     on_done=lambda x, r: done.append(x))
    assert results == [(x * x, 1) for x in range(5)]
    assert sorted(done) == list(range(5))


def test_make_executor():
    assert isinstance(make_executor(1), SerialExecutor)
    assert isinstance(make_executor(3), ProcessExecutor) and make_executor(3).jobs == 3
    with pytest.raises(UsageError, match="--jobs must be at least 1"):
        make_executor(0)
    assert threads_per_job(10_000) == 1


def test_suite_progress_counts_and_is_silent_when_disabled():
    bar = SuiteProgress(3, "s", reused=1, enabled=False)
    with bar:
        bar.started()
        bar.started()
        bar.finished("completed")
        bar.finished("diverged")
    assert bar.counts == {"done": 2, "running": 0, "diverged": 1, "failed": 0}


SUITE = """name = "interrupt"
datasets = [{ name = "ring8", options = { n = 500 } }]
variants = ["vanilla", "wgan-gp"]
seeds = 1
steps = 1200
metrics = ["mixture-modes"]
eval_samples = 200
[set]
batch_size = 32
log_every = 50
checkpoint_every = 50
arch.g_width = 16
arch.d_width = 16
arch.g_depth = 1
arch.d_depth = 1
"""


def _workers(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find workers")
def test_sigint_to_the_suite_s_pid_alone_stops_its_workers_at_once_and_a_rerun_finishes(tmp_path):
    suite, out = tmp_path / "interrupt.toml", tmp_path / "out"
    suite.write_text(SUITE)
    command = [sys.executable, "-m", "ganagerie.cli", "bench", "run", str(suite), "--jobs", "2",
               "--threads", "1", "--quiet", "--out", str(out)]
    # a session of its own: the signal reaches the suite's process, not its workers' group
    # and Ctrl-C's default action: a test process may hold SIGINT ignored (a library's
    # handler), and a child started so ignores it too, as a shell's background job does
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:  # both runs are training
            if len(list(out.glob("runs/*/*/*/checkpoints/last.json"))) == 2:
                break
            time.sleep(0.2)
        assert proc.poll() is None, proc.communicate()
        workers = _workers(proc.pid)
        assert workers
        sent = time.monotonic()
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and took < 6, (proc.returncode, took, err)
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err, err
    deadline = time.monotonic() + 3  # the resource tracker follows its parent out
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [Path(f"/proc/{w}/cmdline").read_bytes() for w in workers if _alive(w)]
    assert not alive, alive
    statuses = [json.loads(p.read_text())["status"] for p in out.glob("runs/*/*/*/status.json")]
    assert len(statuses) == 2 and "completed" not in statuses  # stopped mid-way, not finished
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "2 runs: 2 completed, 0 diverged, 0 failed" in done.stdout
    for key in ("ring8/vanilla/seed-0", "ring8/wgan-gp/seed-0"):
        steps = [r["step"] for r in read_jsonl(out / "runs" / key / "metrics.jsonl") if "eval" not in r]
        assert steps == list(range(50, 1201, 50)), key  # every row once, in order
