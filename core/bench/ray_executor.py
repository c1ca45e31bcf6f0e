"""Run a suite's tasks on a Ray cluster (``ganagerie bench run --executor ray``).

Each run is one Ray task that asks for ``threads`` CPUs (and, for a suite on CUDA, one
GPU, which Ray makes the task's ``cuda:0``) and pins torch to that many threads, so
results are identical to the process pool's on the same machine type: every run is
seeded and its CPU kernels see the same thread count, whichever node runs it (the thread
count is also part of each run's config). Different CPU types may still differ in the last
bits, as they do between machines with the process pool.

On a multi-node cluster OUT must be on a filesystem every node sees, at the same
path: a task writes its run directory where the driver will read it back. The driver's
working directory must exist on every node too (a relative ``--out`` is resolved
against it); a task refuses to run where it does not.

A worker that dies (its process killed, its node lost, out of memory) is retried by
Ray up to ``retries`` times; the retried task resumes the run from its last checkpoint,
so the suite still ends with every run trained exactly once. An exception raised by the
task itself is not retried: the harness records a run's errors in its status.

``address=None`` starts a Ray instance on this machine with its cores and shuts it
down afterwards; an address joins that cluster (``auto``, ``HOST:PORT``, or
``ray://HOST:PORT`` for Ray Client), which is left running. In a process that is
already connected to Ray (``ray.init`` called before), that connection is used.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

import torch

from ..errors import UsageError, one_line
from .executor import Executor, cpu_count, describe, threads_per_job

#: how often Ray reruns a task whose worker died, before the suite stops
RETRIES = 3
#: seconds to wait for a cluster's port to answer before saying it cannot be reached
CONNECT_TIMEOUT = 10.0
RAY_CLIENT_PORT = 10001


class NotShared(RuntimeError):
    """A task landed on a node that does not see the driver's files."""


class RayExecutor(Executor):
    """Up to ``jobs`` items at once, each a Ray task with ``threads`` CPUs and ``gpus`` GPUs."""

    def __init__(self, jobs: int, threads: int | None = None, address: str | None = None,
                 retries: int = RETRIES, gpus: float = 0):
        try:
            import ray  # noqa: F401  (an optional extra: check it now, use it in map)
        except ImportError:
            raise UsageError("--executor ray needs Ray: pip install 'ganagerie[ray]'") from None
        self.jobs = jobs
        self.threads = threads or threads_per_job(jobs)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.retries = retries
        self.gpus = gpus

    def map(self, fn, items, on_start=None, on_done=None):
        if not items:
            return []
        import ray

        started = self._connect(ray)
        at_once = self.jobs
        if self.gpus:
            gpus = ray.cluster_resources().get("GPU", 0)
            if gpus < self.gpus:
                if started:
                    ray.shutdown()
                # a task asking for a GPU that no node has would wait for one forever
                raise UsageError(f"the suite runs on CUDA, but the Ray cluster"
                                 f"{'' if self.address is None else ' at ' + self.address} has no GPU; "
                                 "join one with GPUs (--address) or run on the CPU (--set device=cpu)")
            at_once = min(at_once, int(gpus // self.gpus))  # no more than can run
        task = ray.remote(_run_task).options(num_cpus=self.threads, num_gpus=self.gpus,
                                             max_retries=self.retries, retry_exceptions=False)
        results: list[Any] = [None] * len(items)
        pending = deque(enumerate(items))
        # At most `jobs` submitted at a time (fewer where the cluster's GPUs are fewer), so that
        # "submitted" means "running" (as in the pool).
        running: dict[Any, int] = {}
        try:
            fn_ref = ray.put(fn)
            while pending or running:
                while pending and len(running) < at_once:
                    i, item = pending.popleft()
                    if on_start:
                        on_start(item)
                    running[task.remote(fn_ref, item, self.threads, os.getcwd())] = i
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    i = running.pop(ref)
                    results[i] = self._result(ray, ref, items[i])
                    if on_done:
                        on_done(items[i], results[i])
        finally:
            for ref in running:  # stopped early (an error, Ctrl-C): no task keeps writing
                ray.cancel(ref, force=True)
            if started:
                ray.shutdown()
        return results

    def _connect(self, ray: Any) -> bool:
        """Connect to Ray; True when this call started the instance (so it must stop it)."""
        if ray.is_initialized():
            return False
        quiet = {"include_dashboard": False, "logging_level": logging.WARNING}
        if self.address is None:
            # Enough CPUs for `jobs` tasks of `threads` each, as the process pool would run them.
            cpus = max(cpu_count(), self.jobs * self.threads)
            ray.init(address="local", num_cpus=cpus, **quiet)
            return True
        _check_reachable(self.address)
        try:
            ray.init(address=self.address, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            raise UsageError(f"cannot join the Ray cluster at {self.address}: {first}") from None
        return False

    def _result(self, ray: Any, ref: Any, item: Any) -> Any:
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, NotShared):
                raise UsageError(str(exc.cause)) from None
            raise  # the task's own error: the caller sees it as if raised here
        except ray.exceptions.RayError as exc:
            raise UsageError(f"a Ray worker died {self.retries + 1} times while running {describe(item)} "
                             f"({type(exc).__name__}); rerun the same command to continue where it "
                             "stopped") from None


def _run_task(fn: Callable[[Any], Any], item: Any, threads: int, cwd: str) -> Any:
    """One task on a worker: the driver's working directory and thread count, then ``fn(item)``."""
    if not os.path.isdir(cwd):
        raise NotShared(f"{cwd}, where `ganagerie bench run` was started, does not exist on Ray node "
                        f"{socket.gethostname()}; put --out on a filesystem every node sees, at the "
                        "same path, and start the suite from there")
    os.chdir(cwd)
    torch.set_num_threads(threads)
    return fn(item)


def _check_reachable(address: str) -> None:
    """Fail in seconds, in one line, where Ray itself would retry an unreachable address for minutes."""
    host_port = _host_port(address)
    if host_port is None:  # "auto" and the like: Ray finds the cluster itself, and fails fast
        return
    try:
        socket.create_connection(host_port, timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot reach the Ray cluster at {address} ({why}); start one with "
                         "`ray start --head` or check --address") from None


def _host_port(address: str) -> tuple[str, int] | None:
    """``(host, port)`` of ``HOST:PORT`` or ``ray://HOST[:PORT]``, else None."""
    client = address.startswith("ray://")
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or host.endswith(":"):  # no port, or a bare IPv6 address
        host, port = (rest, str(RAY_CLIENT_PORT)) if client else (None, "")
    if not host:
        return None
    return host.strip("[]"), int(port)

