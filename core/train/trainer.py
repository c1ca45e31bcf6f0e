"""The training loop: D updates, a G update, log, checkpoint. Techniques live in the components."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import schemas
from ..components import Dataset, describe_value, implements
from ..config import RunConfig, check_device
from ..errors import PluginFault, UsageError, os_fault
from ..evaluation.score import evaluate_generator
from ..evaluation.select import conditional_metrics, refuse_unconditional
from ..files import UnreadableFile, append_jsonl, write_json, write_jsonl
from ..locks import LOCK_FILE, acquire, release
from ..registry import Registry
from ..seeding import derive_seed
from .build import all_finite, build_optimizer, build_run, load_split, run_parts
from .checkpoint import (
    FORMAT,
    checkpoint_step,
    load_module_state,
    load_optimizer_state,
    read_checkpoint,
    save_checkpoint,
)
from .data import TensorSource
from .distributed import current as current_world
from .progress import Progress
from .rundir import RunDir
from .samples import save_samples
from .step import DIAGNOSTICS, OneRun, Step, measures_diagnostics
from .tracking import Tracking
from .window import LogWindow


@dataclass
class TrainResult:
    status: str  # "completed" or "diverged"
    step: int
    run_dir: Path
    last: dict[str, float] = field(default_factory=dict)


class Trainer:
    """One run: its components, its step (``ganagerie.train.step``) and the bookkeeping around
    it (run directory, log window, checkpoints, RNG, evaluation, samples); ``fit`` trains to
    ``config.steps``."""

    def __init__(self, cfg: RunConfig, registry: Registry, run_dir: str | Path):
        self.cfg = cfg
        self.registry = registry
        self.rd = RunDir(Path(run_dir))
        self.seed_group: tuple[int, ...] = ()  # set by SeedBatch: the seeds trained together
        self.lock: Any = None  # the run directory's lock, set by prepare
        # experiment trackers (set by prepare) and the step a resumed run continues from
        self.tracking, self.resume_step = Tracking(), None
        check_device(cfg.device)
        self.world = current_world()  # the processes of a torchrun launch, else this one alone
        self.device = self.world.join(cfg.device)
        torch.set_num_threads(cfg.threads)
        self.run = build_run(cfg, registry, self.device)
        self.dataset, self.G, self.D = self.run.dataset, self.run.generator, self.run.discriminator
        self.loss = registry.create("loss", cfg.loss.name, cfg.loss.options)
        self.opt_g = build_optimizer(registry, cfg.optimizer_g, self.G.parameters(), cfg.lr_g,
                                     cfg.betas_g)
        self.opt_d = build_optimizer(registry, cfg.optimizer_d, self.D.parameters(), cfg.lr_d,
                                     cfg.betas_d)
        for _, tech in self.run.techniques:  # before a resume loads the optimizers' state
            if implements(tech, "setup_optimizers"):
                tech.setup_optimizers(self.opt_g, self.opt_d)
        # G's and D's learning-rate schedules, which the step applies (a factor of the step)
        self.schedules = tuple(registry.create("schedule", spec.name, spec.options)
                               for spec in (cfg.schedule_g, cfg.schedule_d))
        if cfg.compile:  # after the techniques' setup: EMA's copy of G stays eager
            _compile(self.G, self.D)
        if cfg.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError(f"precision bf16: {torch.cuda.get_device_name(self.device)} has no bfloat16; "
                             "use --set precision=fp32")
        self.num_classes = _classes_for(cfg, self.G, self.D, self.dataset)
        if not getattr(self.G, "conditional", False):  # refused now, not at the first evaluation
            refuse_unconditional(conditional_metrics(registry, cfg.eval_metrics))
        train_split = load_split(self.dataset, "train", cfg.dataset.name)
        try:
            self.source = TensorSource(train_split.x, cfg.batch_size, derive_seed(cfg.seed, "data"),
                                       self.device, labels=train_split.y if self.num_classes else None)
        except ValueError as exc:
            raise UsageError(f"{exc}; pass a smaller --batch-size") from None
        lanes = OneRun(self.G, self.D, self.opt_g, self.opt_d, self.loss, self.next_batch, self.noise)
        try:
            self.stepper = Step(lanes, cfg, self.loss, [(n, (t,)) for n, t in self.run.techniques],
                                self.world, self.schedules)
        except ValueError as exc:  # two techniques that both replace the step
            raise UsageError(str(exc)) from None
        first = slice(0, cfg.batch_size)
        self.stepper.last_real = self.world.local(self.source.data[first])
        if self.source.labels is not None:
            self.stepper.real_y = self.world.local(self.source.labels[first])
        try:  # a transform that cannot take this run's batches (PacGAN's m must divide them) fails now
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                self.stepper.seen_by_d(self.stepper.last_real)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        preview = torch.Generator().manual_seed(derive_seed(cfg.seed, "eval-noise"))
        self.preview_noise = self.G.sample_noise(cfg.n_preview, generator=preview)
        self.loggers = [(n, t) for n, t in self.run.techniques if implements(t, "log_values")]
        self.log_names = [*self.stepper.log_names, *DIAGNOSTICS]
        # the running log window is part of the state: a resumed run logs the same rows
        self.window = LogWindow(len(self.stepper.log_names), len(DIAGNOSTICS), self.device)

    @property
    def step(self) -> int:
        """Generator steps done (the step's own count, which contexts carry)."""
        return self.stepper.step

    @step.setter
    def step(self, value: int) -> None:
        self.stepper.step = value

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The next real batch and its labels (None for an unconditional run), this process's share."""
        x, y = self.source.batch()  # every process draws the global batch
        return self.world.local(x), (None if y is None else self.world.local(y))

    def noise(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch of latent vectors from the prior, and the classes G is asked for (conditional runs)."""
        n = self.cfg.batch_size
        z = self.world.local(self.G.sample_noise(n))
        if not self.num_classes:
            return z, None
        return z, self.world.local(self.G.prior.sample_labels(n, self.num_classes, self.device))

    def technique_logs(self) -> dict[str, float]:
        """What techniques log (``NAME/key``), read at the end of a log window."""
        out = {}
        for name, tech in self.loggers:
            values = tech.log_values()
            if not isinstance(values, Mapping):
                raise PluginFault("regularizer", name, f"log_values returned {describe_value(values)}, "
                                  "not a dict of numbers")
            for key, value in values.items():
                try:
                    out[f"{name}/{key}"] = float(value)
                except (TypeError, ValueError, RuntimeError):
                    raise PluginFault("regularizer", name, f"log_values returned {key!r}: "
                                      f"{describe_value(value)}, not a number") from None
        return out

    # -- around the step ------------------------------------------------------------------

    def fit(self, progress: bool | None = None) -> TrainResult:
        cfg = self.cfg
        with self.faults_marked():
            self.begin()
            with Progress(cfg.steps, start=self.step, enabled=progress, label=self.rd.root.name) as bar:
                while self.step < cfg.steps:
                    row, diag = self.stepper.train_step(measures_diagnostics(self.step, cfg))
                    if not self.end_step(row, diag, bar):
                        break
            return self.finish()

    @contextlib.contextmanager
    def faults_marked(self, trainers: Sequence[Trainer] | None = None) -> Iterator[None]:
        """A fault of the disk while training (a full disk at a checkpoint, an unwritable
        samples/) marks the run ``failed`` with the reason, where status.json can still be
        written, and is raised as one line; the last good checkpoint stays as it was, so
        ``--resume`` continues from it bit-identically. So does a plugin's fault (an exception
        in a component's code, a value that breaks its contract), as a ``PluginFault``, and a
        refusal that only the running step can make (a ``UsageError``)."""
        try:
            yield
        except Exception as exc:
            if isinstance(exc, OSError):
                fault: Exception = os_fault(exc, f"training {self.rd.root}")
            elif isinstance(exc, UsageError):  # refused mid-run (an evaluation that cannot be made)
                fault = exc
            else:
                # under compile=true a RuntimeError is torch.compile's until shown otherwise (train)
                compiled = self.cfg.compile and type(exc) is RuntimeError
                blamed = None if compiled else self.registry.blame(exc, run_parts(self.cfg, self.registry))
                if blamed is None:
                    raise
                fault = blamed
            for t in trainers or [self]:
                if t.world.writes:
                    with contextlib.suppress(OSError):
                        t.rd.write_status("failed", checkpoint_step(t.rd.checkpoint) or 0, t.cfg.steps,
                                          error=str(fault))
                t.close()
            if fault is exc:
                raise
            raise fault from (None if isinstance(exc, OSError) else exc)

    def begin(self) -> None:
        """Mark the run as running and start its first log window's clock."""
        self.world.check_identical(self)
        if self.world.writes:
            self.rd.write_status("running", self.step, self.cfg.steps, **self.together())
        self.last: dict[str, float | None] = {}
        self.status, self.status_extra = "completed", {}
        self.final_eval: dict[str, Any] | None = None  # the evaluation at the last step
        self.tracking.start(self.rd.root, self.cfg.to_dict(), self.resume_step)
        self.t0 = time.perf_counter()

    def end_step(self, row: torch.Tensor, diag: torch.Tensor | None = None, bar: Progress | None = None,
                 sync: Callable[[], None] | None = None) -> bool:
        """Everything after one step's update: the log window, and at their intervals the
        metrics row, evaluation, checkpoint and samples. ``diag`` is the step's diagnostics
        where it measured them. ``sync`` (the seed-batched driver's) brings the optimizer
        state up to date before a checkpoint reads it. Returns False when the run stopped
        (diverged)."""
        cfg, rd = self.cfg, self.rd
        window = self.window
        # every process logs, and stops on, the same values
        window.add(self.world.mean(row), None if diag is None else self.world.mean(diag), self.step + 1)
        self.step += 1
        if bar is not None:
            bar.advance()
        at_end = self.step == cfg.steps
        if self.step % cfg.log_every == 0 or at_end:
            values = window.means().tolist()  # the host sync of a window
            elapsed = time.perf_counter() - self.t0
            rate = window.n / elapsed if elapsed > 0 else None
            lr_g, lr_d = self.stepper.learning_rates(self.step - 1)  # those of the window's last step
            self.last = last = {**dict(zip(self.log_names, values)), "lr_g": lr_g, "lr_d": lr_d,
                                **self.technique_logs()}
            if cfg.diag_every > 1:  # with 1, every step is measured (and rows are 0.2's)
                last["diag/steps"] = window.diag_n
            # strict JSON: a non-finite value is written as null and named in "nonfinite"
            if self.world.writes:
                row = {"step": self.step, **last, "steps_per_s": rate, "time_s": elapsed}
                append_jsonl(rd.metrics, row)
                self.tracking.log_row(row)
            if bar is not None:
                bar.show(last, rate or 0.0)
            finite = all(math.isfinite(v) for v in values)
            window.reset(finite)
            self.t0 = time.perf_counter()
            if not finite:
                self.status, self.status_extra = "diverged", {"diverged_at": window.first_bad()}
                return False
        evaluate = bool(cfg.eval_every) and (self.step % cfg.eval_every == 0 or at_end)
        checkpoint = self.step % cfg.checkpoint_every == 0 or at_end
        samples = bool(cfg.sample_every and self.step % cfg.sample_every == 0) or at_end
        if sync is not None and (evaluate or checkpoint or samples):
            sync()
        writes = self.world.writes  # rank 0 alone writes; the others wait at the barrier below
        # before the checkpoint: a resume from it never misses this row
        if evaluate and writes:
            started = time.perf_counter()
            self.evaluate()
            self.t0 += time.perf_counter() - started  # evaluating is not training: keep it out of steps/s
        if checkpoint:
            if not self.weights_are_finite():  # never checkpoint a broken network
                self.status = "diverged"
                self.status_extra = {"diverged_at": self.step, "reason": "non-finite weights"}
                return False
            if writes:
                self.save_checkpoint()
                # the step a resume starts from
                self.rd.write_status("running", self.step, cfg.steps, **self.together())
        if samples and writes:
            self.save_samples()
        if evaluate or checkpoint or samples:
            self.world.barrier()
        return True

    def finish(self) -> TrainResult:
        """Record how the run ended. A completed run evaluated at its last step keeps that
        evaluation as its ``eval.json``, as ``ganagerie eval`` would write it (same metrics,
        samples and seed), so nothing scores the same weights twice."""
        if self.world.writes:
            if self.status == "completed" and self.final_eval is not None:
                self.rd.write_eval(self.cfg, self.step, self.final_eval)
            self.rd.write_status(self.status, self.step, self.cfg.steps, **self.status_extra,
                                 **self.together())
        self.tracking.finish(self.status)
        self.close()
        return TrainResult(self.status, self.step, self.rd.root, self.last)

    def together(self) -> dict[str, list[int]]:
        """``trained_with`` for status.json: the seeds this run last trained together with
        (itself included), where it trained seed-batched. Seeds trained together agree with
        training alone only up to the order of floating-point sums, so re-running it
        bit-identically means re-running that group (``bench verify`` reads this)."""
        return {"trained_with": list(self.seed_group)} if self.seed_group else {}

    def close(self) -> None:
        """Give back the run directory's lock (``finish`` does; so does an error)."""
        if getattr(self, "tracking", None) is not None:  # a run that stopped on an error
            self.tracking.finish("failed")
        lock, self.lock = getattr(self, "lock", None), None
        if lock is not None:
            release(lock)

    def weights_are_finite(self) -> bool:
        return all_finite(self.G, self.D, self.run.sampling_generator())

    def evaluate(self) -> dict[str, Any]:
        """Score the sampling generator with the run's metrics; append the row to metrics.jsonl
        (and, at the last step, keep the whole result for ``finish``).

        The row is ``{"step": s, "eval": {metric: {value: float}}, "eval_time_s": t}``; the
        noise and the metrics are seeded from the run's seed, the training RNG is untouched.
        """
        cfg = self.cfg
        result = evaluate_generator(
            self.run.sampling_generator(), self.dataset, self.registry,
            metrics=cfg.eval_metrics or None, n_samples=cfg.eval_samples or None, seed=cfg.seed,
            device=self.device,
        )
        row = {"step": self.step, "eval": result["metrics"], "eval_time_s": result["protocol"]["time_s"]}
        append_jsonl(self.rd.metrics, row)
        self.tracking.log_row(row)
        if self.step == cfg.steps:
            self.final_eval = result
        return row

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Generated samples for noise ``z`` from the sampling generator, in eval mode."""
        net = self.run.sampling_generator()
        was_training = net.training
        net.eval()
        with torch.no_grad():
            out = net(z)
        net.train(was_training)
        return out

    def save_samples(self) -> None:
        path = self.rd.samples / f"step_{self.step:07d}.png"
        classes = self.num_classes if getattr(self.G, "conditional", False) else None  # a column a class
        save_samples(self.sample(self.preview_noise), self.dataset, path, title=f"step {self.step}",
                     classes=classes)
        self.tracking.log_image(self.step, "samples", path)

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "techniques": self.run.technique_state(),
            "log_window": self.window.state_dict(),
            "source": self.source.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        load_module_state(self.G, state["generator"], "generator")
        load_module_state(self.D, state["discriminator"], "discriminator")
        load_optimizer_state(self.opt_g, state["opt_g"], "opt_g")
        load_optimizer_state(self.opt_d, state["opt_d"], "opt_d")
        self.run.load_technique_state(state.get("techniques") or {})
        window = state["log_window"]
        sums = window["sums"]
        if "diag_sums" not in window:  # a checkpoint of 0.2: the diagnostics summed in the row
            sums, diag_sums = _split_old_window(sums, self.stepper)
            window = {**window, "diag_sums": diag_sums, "diag_n": window["n"]}
        if sums.shape != self.window.sums.shape or window["diag_sums"].shape != self.window.diag_sums.shape:
            raise ValueError(f"its log window has {tuple(sums.shape)} columns, this run logs "
                             f"{tuple(self.window.sums.shape)}")
        self.window.load_state_dict({**window, "sums": sums})
        self.source.load_state_dict(state["source"])
        torch.set_rng_state(state["rng_cpu"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def save_checkpoint(self) -> None:
        state = self.state_dict()
        save_checkpoint(self.rd.checkpoint_dir, state, self.step)

    def resume(self) -> None:
        """Continue from the last checkpoint; metrics logged after it are dropped."""
        state = read_checkpoint(self.rd.checkpoint, self.device)
        try:
            self.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise UsageError(f"{self.rd.checkpoint} does not fit this run ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}); was config.json edited? rerun "
                             "into a new --out") from None
        if self.world.writes:
            try:
                rows = schemas.read_metrics(self.rd.metrics)
            except UnreadableFile as exc:  # never rewrite a log into less than it holds
                raise UsageError(str(exc)) from None
            write_jsonl(self.rd.metrics, [r for r in rows if r.get("step", 0) <= self.step])


def _classes_for(cfg: RunConfig, G: torch.nn.Module, D: torch.nn.Module, dataset: Dataset) -> int | None:
    """The number of classes a conditional run's networks take, None for an unconditional run."""
    if not (getattr(G, "conditional", False) or getattr(D, "conditional", False)):
        return None
    if not dataset.num_classes:
        raise UsageError(f"architecture '{cfg.arch.name}' is conditional and dataset '{cfg.dataset.name}' "
                         "has no labels; choose a labelled dataset or an unconditional architecture")
    return int(dataset.num_classes)


def with_steps(cfg: RunConfig, steps: int, rd: RunDir) -> RunConfig:
    """The run's config with the step count of a ``--resume``: checked like any config, and
    never below the step the run has reached."""
    done = rd.read_status().get("step", 0)
    if isinstance(done, int) and steps < done:
        raise UsageError(f"--steps {steps} is below step {done}, which the run in {rd.root} has "
                         f"reached; give --steps {done} or more")
    return RunConfig.from_dict({**cfg.to_dict(), "steps": steps})


def _split_old_window(sums: torch.Tensor, stepper: Step) -> tuple[torch.Tensor, torch.Tensor]:
    """A 0.2 window's sums (``d_loss, d/*, diag_d..., g_loss, g/*, diag_g``) as today's two."""
    n_d = 1 + len(stepper.d_pens)
    n_g = 1 + len(stepper.g_pens)
    k_d = len(DIAGNOSTICS) - 1
    if sums.shape != (n_d + k_d + n_g + 1,):
        raise ValueError(f"its log window has {tuple(sums.shape)} columns")
    losses = torch.cat([sums[:n_d], sums[n_d + k_d: n_d + k_d + n_g]])
    return losses, torch.cat([sums[n_d: n_d + k_d], sums[-1:]])


def _compile(G: torch.nn.Module, D: torch.nn.Module) -> None:
    """torch.compile G's forward and D's two halves (G's update calls them apart), in place:
    parameters, state_dict keys and checkpoints stay those of the eager networks."""
    G.compile()
    D.features, D.classify = torch.compile(D.features), torch.compile(D.classify)


def train(
    cfg: RunConfig,
    registry: Registry,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
    track: Sequence[str | Mapping[str, Any]] = (),
) -> TrainResult:
    """Train one run into ``out``: config.json first, then metrics, checkpoints, samples.
    ``track``: experiment trackers (``NAME[:key=value,...]``) that mirror what the run logs."""
    trainer = prepare(cfg, registry, out, resume=resume, track=track)
    try:
        return trainer.fit(progress=progress)
    except KeyboardInterrupt:
        trainer.tracking.finish("interrupted")
        raise
    except RuntimeError as exc:  # torch.compile fails in the first step, e.g. on a gradient penalty
        if not cfg.compile:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UsageError(f"compile=true: torch.compile failed on this run ({type(exc).__name__}: {first}); "
                         "train it without compile, into a new --out") from None
    finally:
        trainer.close()


def prepare(cfg: RunConfig, registry: Registry, out: str | Path, *, resume: bool = False,
            track: Sequence[str | Mapping[str, Any]] = ()) -> Trainer:
    """A trainer for ``out``, resumed from its checkpoint when asked, with config.json written.
    The writing process holds the run directory's lock (``ganagerie.locks``) from here until
    the trainer's ``finish`` or ``close``: a second writer is refused in one line. ``track``
    names the run's trackers (``ganagerie.train.tracking``); none is part of its config."""
    tracking = Tracking.build(track, registry)  # a bad name is a usage error before anything runs
    rd = RunDir(Path(out))
    if rd.root.exists() and not rd.root.is_dir():
        raise UsageError(f"--out {rd.root} is a file; choose a directory")
    rd.refuse_links()
    _refuse_a_second_run(rd, resume)
    try:
        trainer = Trainer(cfg, registry, rd.root)  # fails on bad data before anything is written
    except Exception as exc:  # a plugin's fault at build time, named
        fault = registry.blame(exc, run_parts(cfg, registry))
        if fault is None:
            raise
        raise fault from exc
    writes = trainer.world.writes  # under torchrun rank 0 alone, once every process checked --out
    created = not rd.root.exists()
    trainer.lock = acquire(rd.root, "`ganagerie train`", "wait for it, or train into another "
                           "--out") if writes else None
    try:
        _refuse_a_second_run(rd, resume)  # again, now that no other writer can start one
        resumed = resume and rd.config.exists()  # a run was begun here: its tracked run goes on
        _start(trainer, cfg, rd, resume, writes)
    except BaseException:
        trainer.close()
        if created and writes:  # nothing but the lock was written: leave no directory behind
            with contextlib.suppress(OSError):
                (rd.root / LOCK_FILE).unlink()
                rd.root.rmdir()
        raise
    if writes:  # rank 0 alone tracks, as it alone writes
        trainer.tracking, trainer.resume_step = tracking, (trainer.step if resumed else None)
    return trainer


def _refuse_a_second_run(rd: RunDir, resume: bool) -> None:
    if not resume and (rd.config.exists() or rd.checkpoint_dir.exists() or rd.metrics.exists()):
        raise UsageError(
            f"{rd.root} already holds a run; pass --resume to continue it or choose another --out"
        )


def _start(trainer: Trainer, cfg: RunConfig, rd: RunDir, resume: bool, writes: bool) -> None:
    trainer.world.barrier()
    if writes:
        _prepare_run_dir(rd)
    if resume and rd.checkpoint.exists():
        trainer.resume()
    elif writes:
        rd.metrics.unlink(missing_ok=True)
    if writes:
        write_json(rd.config, cfg.to_dict())
    # where this run's random stream stands: the seed-batched trainer, which prepares
    # several runs before training any, restores it for each
    trainer.rng_at_start = torch.get_rng_state()
    trainer.cuda_rng_at_start = torch.cuda.get_rng_state() if trainer.device.type == "cuda" else None


def _prepare_run_dir(rd: RunDir) -> None:
    try:
        rd.root.mkdir(parents=True, exist_ok=True)
        for stale in [*rd.root.glob(".*.tmp"), *rd.checkpoint_dir.glob(".*.tmp")]:
            stale.unlink()  # left by a process killed while writing
        probe = rd.root / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {rd.root} ({exc.strerror}); choose another --out") from None
