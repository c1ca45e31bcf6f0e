"""Executors: run a list of independent tasks, in this process or in a pool of processes.

The harness hands an executor a picklable function and a list of run specs; it gets
one result per spec, in order. A cluster engine (e.g. Ray) plugs in as another
``Executor``. ``threads`` pins torch's CPU threads per task: CPU results depend on
the thread count, so it is part of what makes a suite reproducible.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

import torch

from ..errors import UsageError

T = TypeVar("T")
R = TypeVar("R")


class Executor(ABC):
    """Runs ``fn`` over independent items; ``on_start``/``on_done`` report progress."""

    #: how many items run at the same time
    jobs: int = 1

    @abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        on_start: Callable[[T], None] | None = None,
        on_done: Callable[[T, R], None] | None = None,
    ) -> list[R]:
        """``[fn(item) for item in items]``, however the executor runs them."""


def cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Torch threads per task so that ``jobs`` tasks share the cores without oversubscribing."""
    return max(1, cpu_count() // max(1, jobs))


class SerialExecutor(Executor):
    """One item after another, in this process."""

    def __init__(self, threads: int | None = None):
        self.threads = threads

    def map(self, fn, items, on_start=None, on_done=None):
        results = []
        before = torch.get_num_threads()
        try:
            if self.threads:
                torch.set_num_threads(self.threads)
            for item in items:
                if on_start:
                    on_start(item)
                result = fn(item)
                if on_done:
                    on_done(item, result)
                results.append(result)
        finally:
            torch.set_num_threads(before)
        return results


#: seconds an interrupted suite gives its workers to stop their runs (each saying how it
#: ended) before it kills them; a killed run resumes from its last checkpoint all the same
STOP_S = 3.0


class ProcessExecutor(Executor):
    """Up to ``jobs`` items at once, each in a worker process (spawned: safe with torch).

    Ctrl-C means stop, whichever process receives it: a KeyboardInterrupt in this process
    (SIGINT to its pid alone, or to the whole terminal's group) interrupts the workers' runs
    too, waits ``STOP_S`` for them and kills what is left, then raises."""

    def __init__(self, jobs: int, threads: int | None = None):
        self.jobs = jobs
        self.threads = threads or threads_per_job(jobs)

    def map(self, fn, items, on_start=None, on_done=None):
        results: list[Any] = [None] * len(items)
        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()  # set: every worker interrupts the run it is running
        before = set(multiprocessing.active_children())
        pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                   initargs=(self.threads, os.getpid(), stop))
        pending = list(enumerate(items))
        # At most `jobs` submitted at a time, so that "submitted" means "running".
        running: dict[Future, int] = {}
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    i, item = pending.pop(0)
                    if on_start:
                        on_start(item)
                    running[pool.submit(_call, fn, item)] = i
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    i = running.pop(future)
                    try:
                        results[i] = future.result()
                    except BrokenProcessPool:
                        raise UsageError(f"a worker process died (killed, or out of memory?) while "
                                         f"running {describe(items[i])}; rerun the same command to "
                                         "continue where it stopped") from None
                    if on_done:
                        on_done(items[i], results[i])
        except KeyboardInterrupt:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            _stop([p for p in multiprocessing.active_children() if p not in before])
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return results


def _stop(workers: Sequence[Any]) -> None:
    """Wait up to ``STOP_S`` for interrupted workers to end, then kill the rest (at once on a
    second Ctrl-C)."""
    deadline = time.monotonic() + STOP_S
    try:
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    for worker in workers:
        if worker.is_alive():
            worker.kill()
            worker.join(1.0)


def describe(item: Any) -> str:
    """An item for a message: a run's key, or the keys of a task of several runs."""
    if isinstance(item, (list, tuple)):
        return ", ".join(map(str, item))
    return str(item)


#: in a worker: whether it is running a task, and whether it was interrupted already
_busy = False
_interrupted = False


def _init_worker(threads: int, parent: int, stop: Any) -> None:
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, _on_interrupt)
    # A parent killed with -9 cannot stop its workers; they stop themselves, so that a
    # rerun of the suite never shares a run directory with an orphan. An interrupted parent
    # sets ``stop``: the run in progress is interrupted as by a Ctrl-C of its own.
    threading.Thread(target=_watch_parent, args=(parent, stop), daemon=True).start()


def _call(fn: Callable[[T], R], item: T) -> R:
    """``fn(item)`` in a worker, marked busy: an interrupt stops it."""
    global _busy
    _busy = True
    try:
        return fn(item)
    finally:
        _busy = False


def _on_interrupt(signum: int, frame: Any) -> None:
    """The worker's SIGINT: the run in progress stops (its trainer records how it ended, and it
    resumes from its checkpoint); one interrupt is enough, and an idle worker waits to be shut
    down (a traceback of an idle worker is no one's business)."""
    global _interrupted
    if _interrupted or not _busy:
        return
    _interrupted = True
    raise KeyboardInterrupt


def _watch_parent(parent: int, stop: Any) -> None:
    interrupted = False
    while True:
        if os.getppid() != parent:
            os._exit(1)
        if stop.wait(0.2) and not interrupted:
            interrupted = True
            os.kill(os.getpid(), signal.SIGINT)  # _on_interrupt, in the main thread
