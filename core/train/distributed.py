"""One run across several processes: ``torchrun --nproc-per-node N -m ganagerie train ...``.

Data parallelism with one global batch. ``batch_size`` stays the run's batch: every
process draws the same data order and the same noise (same seed, same RNG stream) and
trains on its own contiguous slice of ``batch_size / N`` rows; after every backward the
gradients are averaged over the processes, so each optimizer step is the one-process step
up to floating-point reassociation, and the parameters stay identical on every process.
The logged values are averaged over the processes each step, so every process sees the
same numbers and stops (divergence) at the same step. Rank 0 alone writes the run
directory; the checkpoint holds only what every process shares, so any process, and any
number of them, resumes from it. Collectives go over gloo for CPU tensors and NCCL for CUDA
ones; under torchrun ``--device cuda`` is the GPU of the process's ``LOCAL_RANK``.

Why not ``DistributedDataParallel``: DDP averages gradients from hooks armed by the
wrapped module's ``forward``, one forward per backward. The step calls D twice before one
backward (real, then fake), calls ``D.features``/``D.classify`` rather than ``forward`` in
G's update, freezes D's parameters in G's update (DDP waits for their gradients unless told
to look for unused ones, at a cost every step), and penalties such as the gradient penalty
differentiate through D with ``torch.autograd.grad(create_graph=True)``, which DDP's
reducer does not support. So the trainer averages the gradients itself, at the point DDP
would: after each backward, before each optimizer step, one coalesced ``all_reduce`` per
network and update (gradients flattened into one buffer). The result is DDP's: the same
averaged gradients, parameters identical on every process (checked at the start of
training), rank 0's buffers in the checkpoint.

What differs from one process (docs/distributed.md): batch-norm statistics are per
process (a batch of ``batch_size / N``); techniques that draw randomness per sample draw
``batch_size / N`` values from the shared stream (the same draws on every process, and
fewer than one process takes, so later noise differs from a one-process run); losses
built on batch means (relativistic average) and D's accuracy diagnostic use the means of
the process's slice.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..errors import UsageError, one_line

#: what torchrun sets in every process it starts
ENVIRONMENT = ("WORLD_SIZE", "RANK", "LOCAL_RANK")
#: store keys: the first error of any process, and rank 0's word that it has reported it
ERROR_KEY, REPORTED_KEY = "ganagerie/error", "ganagerie/reported"
#: how long a failed process waits for rank 0 to report its error before saying it itself
#: (rank 0 notices at its next collective; an evaluation may delay that)
REPORT_WAIT_S = 30.0


class World:
    """The processes training this run: one (``SINGLE``, where every method is a no-op) or
    the ones torchrun started."""

    def __init__(self, rank: int = 0, size: int = 1, local_rank: int = 0, store: dist.Store | None = None):
        self.rank, self.size, self.local_rank, self.store = rank, size, local_rank, store
        self.device = torch.device("cpu")  # where collectives put their scratch tensors

    @property
    def writes(self) -> bool:
        """Whether this process writes the run directory (rank 0)."""
        return self.rank == 0

    def join(self, device: str) -> torch.device:
        """This process's torch device for the run's ``device``."""
        if self.size == 1 or not device.startswith("cuda"):
            return torch.device(device)
        if device != "cuda":
            raise UsageError(f"under torchrun each process takes the GPU of its LOCAL_RANK; give --device "
                             f"cuda, not {device}")
        if self.local_rank >= torch.cuda.device_count():
            raise UsageError(f"torchrun started more processes on this machine than it has GPUs "
                             f"({torch.cuda.device_count()}); give --nproc-per-node "
                             f"{torch.cuda.device_count()} or fewer")
        self.device = torch.device("cuda", self.local_rank)
        torch.cuda.set_device(self.device)  # NCCL's communicator is built on the current device
        return self.device

    def local(self, batch: Tensor) -> Tensor:
        """This process's contiguous share of a global batch (its first dimension)."""
        if self.size == 1:
            return batch
        n = batch.shape[0]
        if n % self.size:
            raise UsageError(f"batch_size {n} does not split over {self.size} processes; give a multiple "
                             f"of {self.size} (batch_size is the global batch, each process takes "
                             f"batch_size / {self.size})")
        share = n // self.size
        return batch[self.rank * share : (self.rank + 1) * share]

    def mean(self, values: Tensor) -> Tensor:
        """``values`` averaged over the processes (the same result on every process)."""
        if self.size == 1:
            return values
        total = values.detach().clone()
        dist.all_reduce(total)
        return total / self.size

    def average_gradients(self, net: nn.Module) -> None:
        """Replace every gradient of ``net`` by its mean over the processes, before the
        optimizer step: one ``all_reduce`` of all of them flattened (one per dtype)."""
        if self.size == 1:
            return
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        for dtype in dict.fromkeys(g.dtype for g in grads):
            same = [g for g in grads if g.dtype == dtype]
            flat = torch.cat([g.reshape(-1) for g in same])
            dist.all_reduce(flat)
            flat /= self.size
            for grad, part in zip(same, flat.split([g.numel() for g in same])):
                grad.copy_(part.view_as(grad))

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            flag = torch.zeros(1, device=self.device)
            dist.all_reduce(flag)
            flag.cpu()  # NCCL's all_reduce is asynchronous: wait for it on the host

    def check_identical(self, trainer: Any) -> None:  # a Trainer (which imports this module)
        """Give every process rank 0's CUDA random state, then check that the config, the
        networks (parameters and buffers) and the CPU random state are rank 0's, bit for bit."""
        if self.size == 1:
            return
        if self.device.type == "cuda":  # a checkpoint holds the random state of rank 0's GPU
            state = torch.cuda.get_rng_state(self.device).to(self.device)
            dist.broadcast(state, 0)
            torch.cuda.set_rng_state(state.cpu(), self.device)
        config = json.dumps(trainer.cfg.to_dict(), sort_keys=True).encode()
        tensors = [torch.frombuffer(bytearray(hashlib.sha256(config).digest()), dtype=torch.uint8),
                   torch.get_rng_state(), *trainer.G.state_dict().values(), *trainer.D.state_dict().values()]
        mine = torch.cat([t.detach().reshape(-1).contiguous().view(torch.uint8).to(self.device)
                          for t in tensors])
        sizes = torch.tensor([mine.numel(), -mine.numel()], device=self.device)
        dist.all_reduce(sizes, op=dist.ReduceOp.MAX)
        differs = torch.ones(1, device=self.device)
        if int(sizes[0]) == -int(sizes[1]):  # same sizes everywhere: compare the bytes with rank 0's
            theirs = mine.clone()
            dist.broadcast(theirs, 0)
            differs.fill_(float(not torch.equal(mine, theirs)))
        dist.all_reduce(differs, op=dist.ReduceOp.MAX)
        if differs.item():
            raise UsageError("the processes do not start from the same run (config, networks or random "
                             "state differ from rank 0's); every process must run the same command and "
                             "see the same --out (a shared filesystem across machines)")

    def fail(self, exc: Exception) -> NoReturn:
        """Stop every process after ``exc`` on this one: rank 0 prints the first error of any
        process as one line (``error: ...``, as for a usage error), every process exits with
        code 2, without a traceback."""
        mine = _describe(exc)
        first = f"{self.rank}:{mine}"
        with contextlib.suppress(Exception):  # the store may be gone with its host
            first = self.store.compare_set(ERROR_KEY, "", first).decode()
        _leave()  # peers waiting on us in a collective now fail too
        rank, _, message = first.partition(":")
        if self.rank == 0:
            own = isinstance(exc, UsageError) or rank == "0"
            print(f"error: {mine if own else f'rank {rank}: {message}'}", file=sys.stderr, flush=True)
            with contextlib.suppress(Exception):  # only now may the others exit: torchrun stops
                self.store.set(REPORTED_KEY, "1")  # the rest of them once one has
        elif rank == str(self.rank) and not self._reported():
            print(f"error: rank {self.rank}: {mine}", file=sys.stderr, flush=True)
        raise SystemExit(2)

    def _reported(self) -> bool:
        deadline = time.monotonic() + REPORT_WAIT_S
        while time.monotonic() < deadline:
            try:
                if self.store.check([REPORTED_KEY]):
                    return True
            except Exception:  # rank 0's store went away with it
                return False
            time.sleep(0.05)
        return False


SINGLE = World()
_current = SINGLE


def current() -> World:
    """The processes this run trains on: torchrun's inside ``session()``, else ``SINGLE``."""
    return _current


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    try:
        return all(k in os.environ for k in ENVIRONMENT) and int(os.environ["WORLD_SIZE"]) > 1
    except ValueError:
        return False


@contextlib.contextmanager
def session() -> Iterator[World]:
    """Join the processes torchrun started, for one command; a no-op giving ``SINGLE`` in a
    process torchrun did not start.

    Every process connects at the start (gloo for CPU tensors, NCCL for CUDA ones), so an
    error anywhere stops all of them: rank 0 prints the first one in one line and every
    process exits with code 2, without a traceback (``World.fail``).
    """
    global _current
    if not launched():
        yield SINGLE
        return
    world = _current = World(*(int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")))
    try:
        # imported after the group exists, dynamo (which the optimizers import) keeps a reference
        # to it: destroying it would then leave its connections open, so peers blocked in a
        # collective with a failed process would hang, and the process would abort at exit
        import torch._dynamo  # noqa: F401

        world.store = next(dist.rendezvous("env://"))[0]  # torchrun's store: also the error channel
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, store=world.store, rank=world.rank, world_size=world.size)
        yield world
        world.barrier()  # leave together: rank 0 may still be writing the last checkpoint
    except Exception as exc:
        world.fail(exc)
    finally:
        _current = SINGLE
        _leave()


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _describe(exc: Exception) -> str:
    """``exc`` in one line: a usage error's own message, anything else with its type."""
    if isinstance(exc, UsageError):
        return one_line(str(exc))
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
