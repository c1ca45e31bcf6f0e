"""Executors: results in order, progress callbacks, torch threads per task, bad --jobs."""

import pytest
import torch

from ganagerie.bench.executor import ProcessExecutor, SerialExecutor, threads_per_job
from ganagerie.bench.harness import make_executor
from ganagerie.bench.progress import SuiteProgress
from ganagerie.errors import UsageError


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
