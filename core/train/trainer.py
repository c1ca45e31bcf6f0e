"""The training loop: D updates, a G update, log, checkpoint. Techniques live in the components."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..components import DStep, GStep, StepRunner, Technique, generator_loss, implements
from ..config import RunConfig, check_device
from ..errors import UsageError
from ..evaluation.score import evaluate_generator
from ..files import append_jsonl, read_jsonl, write_json, write_jsonl
from ..registry import Registry
from ..seeding import derive_seed
from .build import all_finite, build_optimizer, build_run
from .checkpoint import FORMAT, read_checkpoint, save_checkpoint
from .data import TensorSource
from .distributed import current as current_world
from .progress import Progress
from .rundir import RunDir
from .samples import save_samples


@dataclass
class TrainResult:
    status: str  # "completed" or "diverged"
    step: int
    run_dir: Path
    last: dict[str, float] = field(default_factory=dict)


class Trainer(StepRunner):
    """Holds one run's components and state; ``fit`` trains to ``config.steps``."""

    def __init__(self, cfg: RunConfig, registry: Registry, run_dir: str | Path):
        self.cfg = cfg
        self.registry = registry
        self.rd = RunDir(Path(run_dir))
        check_device(cfg.device)
        self.world = current_world()  # the processes of a torchrun launch, else this one alone
        self.device = self.world.join(cfg.device)
        torch.set_num_threads(cfg.threads)
        self.run = build_run(cfg, registry, self.device)
        self.dataset, self.G, self.D = self.run.dataset, self.run.generator, self.run.discriminator
        self.generator, self.discriminator = self.G, self.D  # the StepRunner names
        self.loss = registry.create("loss", cfg.loss.name, cfg.loss.options)
        self.g_loss = generator_loss(self.loss)
        self.g_needs_real = bool(getattr(self.loss, "g_needs_real", False))
        techs = self.run.techniques
        self.transforms = [t for _, t in techs if implements(t, "transform")]
        self.d_pens = [(n, t) for n, t in techs if implements(t, "d_penalty")]
        self.g_pens = [(n, t) for n, t in techs if implements(t, "g_penalty")]
        self.selectors = [t for _, t in techs if implements(t, "generator_logits")]
        self.after_d = [t for _, t in techs if implements(t, "after_d_step")]
        self.after_g = [t for _, t in techs if implements(t, "after_g_step")]
        self.loggers = [(n, t) for n, t in techs if implements(t, "log_values")]
        steppers = [(n, t) for n, t in techs if implements(t, "train_step")]
        if len(steppers) > 1:
            raise UsageError(f"techniques {' and '.join(n for n, _ in steppers)} both replace the "
                             "training step; use one of them")
        self.step_owner: Technique | None = steppers[0][1] if steppers else None
        self.opt_g = build_optimizer(registry, cfg.optimizer_g, self.G.parameters(), cfg.lr_g,
                                     cfg.betas_g)
        self.opt_d = build_optimizer(registry, cfg.optimizer_d, self.D.parameters(), cfg.lr_d,
                                     cfg.betas_d)
        self.optimizer_g, self.optimizer_d, self.n_critic = self.opt_g, self.opt_d, cfg.n_critic
        if cfg.compile:  # after the techniques' setup: EMA's copy of G stays eager
            _compile(self.G, self.D)
        if cfg.precision == "bf16" and self.device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise UsageError(f"precision bf16: {torch.cuda.get_device_name(self.device)} has no bfloat16; "
                             "use --set precision=fp32")
        try:
            self.source = TensorSource(self.dataset.load("train").x, cfg.batch_size,
                                       derive_seed(cfg.seed, "data"), self.device)
        except ValueError as exc:
            raise UsageError(f"{exc}; pass a smaller --batch-size") from None
        self.last_real = self.world.local(self.source.data[: cfg.batch_size])
        self.step = 0
        try:  # a transform that cannot take this run's batches (PacGAN's m must divide them) fails now
            devices = [self.device] if self.device.type == "cuda" else []
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                self.seen_by_d(self.last_real)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        preview = torch.Generator().manual_seed(derive_seed(cfg.seed, "eval-noise"))
        self.preview_noise = self.G.sample_noise(cfg.n_preview, generator=preview)
        self.log_names = (["d_loss", *(f"d/{n}" for n, _ in self.d_pens), *DIAGNOSTICS_D,
                           "g_loss", *(f"g/{n}" for n, _ in self.g_pens), *DIAGNOSTICS_G])
        # the running log window is part of the state: a resumed run logs the same rows
        self.window_sums = torch.zeros(len(self.log_names), device=self.device)
        self.window_n = 0
        self.first_bad = torch.full((), -1, dtype=torch.long, device=self.device)

    # -- the step: reads top to bottom; no host sync, no plugin-manager call -----------

    def train_step(self) -> torch.Tensor:
        """n_critic D updates and one G update (or a technique's own order of them), in the
        run's precision; returns the logged values, detached."""
        with self.precision():
            if self.step_owner is not None:
                return self.step_owner.train_step(self)
            if self.cfg.update == "simultaneous":  # PacGAN's code: both sides from one batch and noise
                real, z = self.next_real(), self.noise()
                fake = self.G(z)  # one G forward: its batch statistics move once per step
                g = self.g_update(real, z, fake, apply=False)  # G's gradient against D before D moves
                d = self.d_update(real, z, fake.detach())
                return self.log_row(d, self.apply_g(g))
            for _ in range(self.cfg.n_critic):
                d = self.d_update()
            g = self.g_update()
            return self.log_row(d, g)

    def d_update(self, real=None, z=None, fake=None) -> DStep:
        G, D = self.G, self.D
        D.requires_grad_(True)
        real = self.next_real() if real is None else real
        if fake is None:
            z = self.noise() if z is None else z
            with torch.no_grad(), self.frozen_generator_stats():
                fake = G(z)
        real_in, fake_in = self.seen_by_d(real), self.seen_by_d(fake)
        real_out, fake_out = D(real_in), D(fake_in)
        ctx = DStep(G, D, real, fake, real_out, fake_out, z, self.step, real_in, fake_in)
        d_loss = self.loss.d_loss(real_out, fake_out)
        pens = [_as_penalty(t.d_penalty(ctx), d_loss) for _, t in self.d_pens]
        self.opt_d.zero_grad(set_to_none=True)
        _total(d_loss, pens).backward()
        self.world.average_gradients(D)
        d_grad = _grad_norm(D)
        self.opt_d.step()
        with torch.no_grad():
            for t in self.after_d:
                t.after_d_step(ctx)
        ctx.log = torch.stack([d_loss.detach(), *(p.detach() for p in pens),
                               *_separation(real_out.detach(), fake_out.detach()), d_grad])
        return ctx

    def g_update(self, real=None, z=None, fake=None, apply=True) -> GStep:
        G, D = self.G, self.D
        D.requires_grad_(False)  # the G step needs gradients through D, not for D
        real = self.last_real if real is None else real
        z = self.noise() if z is None else z
        fake = G(z) if fake is None else fake
        fake_in = self.seen_by_d(fake)
        feats = D.features(fake_in)
        fake_out = D.classify(feats)
        real_out = None
        if self.g_needs_real:
            with torch.no_grad():
                real_out = D(self.seen_by_d(real))
        ctx = GStep(G, D, real, fake, feats, fake_out, z, self.step, real_out, fake_in)
        for t in self.selectors:
            fake_out = t.generator_logits(fake_out, self.step)
        g_loss = self.g_loss(fake_out, real_out)
        pens = [_as_penalty(t.g_penalty(ctx), g_loss) for _, t in self.g_pens]
        self.opt_g.zero_grad(set_to_none=True)
        _total(g_loss * self.cfg.loss_g_weight, pens).backward()
        self.world.average_gradients(G)
        D.requires_grad_(True)
        ctx.log = torch.stack([g_loss.detach(), *(p.detach() for p in pens), _grad_norm(G)])
        return self.apply_g(ctx) if apply else ctx

    def apply_g(self, ctx: GStep) -> GStep:
        """G's optimizer step from the gradients its update left, then the after-G hooks."""
        self.opt_g.step()
        with torch.no_grad():
            for t in self.after_g:
                t.after_g_step(ctx)
        return ctx

    def precision(self) -> contextlib.AbstractContextManager:
        """bfloat16 autocast when ``precision = "bf16"`` (weights and optimizer state stay fp32)."""
        if self.cfg.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def frozen_generator_stats(self) -> contextlib.AbstractContextManager:
        """With ``generator_stats = "own-update"`` (PacGAN's code), G's batch-norm running
        statistics move only in G's own update, not when D's update draws fakes."""
        return frozen_batchnorm_stats(self.G.modules(), self.cfg.generator_stats == "own-update")

    def seen_by_d(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` through the run's input transforms, in the order the techniques were given."""
        for t in self.transforms:
            x = t.transform(x, self.step)
        return x

    def next_real(self) -> torch.Tensor:
        self.last_real = self.world.local(self.source.next())  # every process draws the global batch
        return self.last_real

    def noise(self) -> torch.Tensor:
        return self.world.local(self.G.sample_noise(self.cfg.batch_size))

    def log_row(self, d: DStep, g: GStep) -> torch.Tensor:
        return torch.cat([d.log, g.log])

    def technique_logs(self) -> dict[str, float]:
        """What techniques log (``NAME/key``), read at the end of a log window."""
        return {f"{name}/{key}": float(value) for name, tech in self.loggers
                for key, value in tech.log_values().items()}

    # -- around the step ------------------------------------------------------------------

    def fit(self, progress: bool | None = None) -> TrainResult:
        self.begin()
        with Progress(self.cfg.steps, start=self.step, enabled=progress, label=self.rd.root.name) as bar:
            while self.step < self.cfg.steps:
                if not self.end_step(self.train_step(), bar):
                    break
        return self.finish()

    def begin(self) -> None:
        """Mark the run as running and start its first log window's clock."""
        self.world.check_identical(self)
        if self.world.writes:
            self.rd.write_status("running", self.step, self.cfg.steps)
        self.last: dict[str, float | None] = {}
        self.status, self.status_extra = "completed", {}
        self.final_eval: dict[str, Any] | None = None  # the evaluation at the last step
        self.t0 = time.perf_counter()

    def end_step(self, row: torch.Tensor, bar: Progress | None = None,
                 sync: Callable[[], None] | None = None) -> bool:
        """Everything after one step's update: the log window, and at their intervals the
        metrics row, evaluation, checkpoint and samples. ``sync`` (the seed-batched trainer's)
        brings the networks and optimizer state up to date before anything reads them.
        Returns False when the run stopped (diverged)."""
        cfg, rd = self.cfg, self.rd
        row = self.world.mean(row)  # every process logs, and stops on, the same values
        self.window_sums += row
        # the first non-finite step, kept on the device: no host sync per step
        self.first_bad.masked_fill_(~row.isfinite().all() & (self.first_bad < 0), self.step + 1)
        self.step += 1
        self.window_n += 1
        if bar is not None:
            bar.advance()
        at_end = self.step == cfg.steps
        if self.step % cfg.log_every == 0 or at_end:
            values = (self.window_sums / self.window_n).tolist()  # the host sync of a window
            elapsed = time.perf_counter() - self.t0
            rate = self.window_n / elapsed if elapsed > 0 else None
            self.last = last = {**dict(zip(self.log_names, values)), **self.technique_logs()}
            # strict JSON: a non-finite value is written as null and named in "nonfinite"
            if self.world.writes:
                append_jsonl(rd.metrics, {"step": self.step, **last, "steps_per_s": rate,
                                          "time_s": elapsed})
            if bar is not None:
                bar.show(last, rate or 0.0)
            self.window_sums.zero_()
            self.window_n, self.t0 = 0, time.perf_counter()
            if not all(math.isfinite(v) for v in values):
                self.status, self.status_extra = "diverged", {"diverged_at": int(self.first_bad)}
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
                self.rd.write_status("running", self.step, cfg.steps)  # the step a resume starts from
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
            self.rd.write_status(self.status, self.step, self.cfg.steps, **self.status_extra)
        return TrainResult(self.status, self.step, self.rd.root, self.last)

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
        save_samples(self.sample(self.preview_noise), self.dataset,
                     self.rd.samples / f"step_{self.step:07d}.png", title=f"step {self.step}")

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "techniques": self.run.technique_state(),
            "log_window": {"sums": self.window_sums, "n": self.window_n, "first_bad": self.first_bad},
            "source": self.source.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.run.load_technique_state(state.get("techniques") or {})
        window = state["log_window"]
        self.window_sums.copy_(window["sums"])
        self.window_n = int(window["n"])
        self.first_bad.copy_(window["first_bad"])
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
            rows = [r for r in read_jsonl(self.rd.metrics) if r.get("step", 0) <= self.step]
            write_jsonl(self.rd.metrics, rows)


def with_steps(cfg: RunConfig, steps: int, rd: RunDir) -> RunConfig:
    """The run's config with the step count of a ``--resume``: checked like any config, and
    never below the step the run has reached."""
    done = rd.read_status().get("step", 0)
    if isinstance(done, int) and steps < done:
        raise UsageError(f"--steps {steps} is below step {done}, which the run in {rd.root} has "
                         f"reached; give --steps {done} or more")
    return RunConfig.from_dict({**cfg.to_dict(), "steps": steps})


#: training-health columns of every log row (means over the window; no extra host sync):
#: D's logit gap E[D(real)] - E[D(fake)], its accuracy at the midpoint of the two means
#: (meaningful for any loss), and the gradient norms of D and G before each optimizer step
DIAGNOSTICS_D = ("diag/d_gap", "diag/d_accuracy", "diag/d_grad_norm")
DIAGNOSTICS_G = ("diag/g_grad_norm",)


def _separation(real_out: torch.Tensor, fake_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    real_mean, fake_mean = real_out.float().mean(), fake_out.float().mean()
    middle = (real_mean + fake_mean) / 2
    accuracy = ((real_out > middle).float().mean() + (fake_out < middle).float().mean()) / 2
    return real_mean - fake_mean, accuracy


def _grad_norm(net: torch.nn.Module) -> torch.Tensor:
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(net.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


def _compile(G: torch.nn.Module, D: torch.nn.Module) -> None:
    """torch.compile G's forward and D's two halves (G's update calls them apart), in place:
    parameters, state_dict keys and checkpoints stay those of the eager networks."""
    G.compile()
    D.features, D.classify = torch.compile(D.features), torch.compile(D.classify)


@contextlib.contextmanager
def frozen_batchnorm_stats(modules: Iterable[torch.nn.Module], frozen: bool = True) -> Iterator[None]:
    """While inside, the batch-norm layers among ``modules`` keep their running statistics."""
    saved = []
    if frozen:
        for m in modules:
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.momentum:
                saved.append((m, m.momentum))
                m.momentum = 0.0  # running = 1 * running + 0 * batch
    try:
        yield
    finally:
        for m, momentum in saved:
            m.momentum = momentum


def _as_penalty(value: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(()) if value is None else value


def _total(loss: torch.Tensor, penalties: list[torch.Tensor]) -> torch.Tensor:
    for pen in penalties:
        loss = loss + pen
    return loss


def train(
    cfg: RunConfig,
    registry: Registry,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train one run into ``out``: config.json first, then metrics, checkpoints, samples."""
    trainer = prepare(cfg, registry, out, resume=resume)
    try:
        return trainer.fit(progress=progress)
    except RuntimeError as exc:  # torch.compile fails in the first step, e.g. on a gradient penalty
        if not cfg.compile:
            raise
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UsageError(f"compile=true: torch.compile failed on this run ({type(exc).__name__}: {first}); "
                         "train it without compile, into a new --out") from None


def prepare(cfg: RunConfig, registry: Registry, out: str | Path, *, resume: bool = False) -> Trainer:
    """A trainer for ``out``, resumed from its checkpoint when asked, with config.json written."""
    rd = RunDir(Path(out))
    if rd.root.exists() and not rd.root.is_dir():
        raise UsageError(f"--out {rd.root} is a file; choose a directory")
    if not resume and (rd.config.exists() or rd.checkpoint_dir.exists() or rd.metrics.exists()):
        raise UsageError(
            f"{rd.root} already holds a run; pass --resume to continue it or choose another --out"
        )
    trainer = Trainer(cfg, registry, rd.root)  # fails on bad data before anything is written
    writes = trainer.world.writes  # under torchrun rank 0 alone, once every process checked --out
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
    return trainer


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
