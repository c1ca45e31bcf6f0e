"""The training loop: D steps, a G step, log, checkpoint. Techniques live in the components."""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .components import (
    Dataset,
    Discriminator,
    DStep,
    Generator,
    GStep,
    Loss,
    Regularizer,
)
from .config import RunConfig
from .data import TensorSource
from .errors import UsageError
from .files import append_jsonl, read_jsonl, write_json, write_jsonl, write_with
from .progress import Progress
from .registry import Registry
from .rundir import CHECKPOINT_FORMAT, RunDir, read_checkpoint
from .samples import save_samples


def derive_seed(seed: int, stream: str) -> int:
    """An independent seed for one random stream (data order, evaluation noise) of a run."""
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def build_dataset(cfg: RunConfig, registry: Registry) -> Dataset:
    return registry.create("dataset", cfg.dataset.name, cfg.dataset.options)


def build_models(
    cfg: RunConfig, registry: Registry, dataset: Dataset | None = None
) -> tuple[Dataset, Generator, Discriminator]:
    """Dataset and freshly initialised networks, with build-time regularizers applied."""
    dataset = dataset or build_dataset(cfg, registry)
    torch.manual_seed(cfg.seed)
    arch = registry.create("architecture", cfg.arch.name, cfg.arch.options)
    try:
        generator, discriminator = arch.build(tuple(dataset.shape))
    except ValueError as exc:
        raise UsageError(f"architecture '{cfg.arch.name}': {exc}") from None
    for reg in build_regularizers(cfg, registry):
        reg.setup(generator, discriminator)
    return dataset, generator, discriminator


def build_regularizers(cfg: RunConfig, registry: Registry) -> list[Regularizer]:
    return [registry.create("regularizer", r.name, r.options) for r in cfg.regularizers]


def _overrides(reg: Regularizer, method: str) -> bool:
    return getattr(type(reg), method, None) is not getattr(Regularizer, method)


@dataclass
class TrainResult:
    status: str  # "completed" or "diverged"
    step: int
    run_dir: Path
    last: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Holds one run's components and state; ``fit`` trains to ``config.steps``."""

    def __init__(self, cfg: RunConfig, registry: Registry, run_dir: str | Path):
        self.cfg = cfg
        self.registry = registry
        self.rd = RunDir(Path(run_dir))
        self.device = torch.device(cfg.device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError("device cuda was asked for but no GPU is available; use --device cpu")
        self.dataset, G, D = build_models(cfg, registry)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.loss: Loss = registry.create("loss", cfg.loss.name, cfg.loss.options)
        regs = build_regularizers(cfg, registry)
        names = [r.name for r in cfg.regularizers]
        self.d_regs = [(n, r) for n, r in zip(names, regs) if _overrides(r, "d_penalty")]
        self.g_regs = [(n, r) for n, r in zip(names, regs) if _overrides(r, "g_penalty")]
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=tuple(cfg.betas_g))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=tuple(cfg.betas_d))
        self.ema = copy.deepcopy(self.G).eval() if cfg.ema_decay > 0 else None
        if self.ema is not None:
            self.ema.requires_grad_(False)
        self.source = TensorSource(
            self.dataset.load("train").x, cfg.batch_size, derive_seed(cfg.seed, "data"), self.device
        )
        eval_gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "eval-noise"))
        self.eval_noise = self.G.sample_noise(cfg.n_samples, generator=eval_gen)
        self.log_names = (
            ["d_loss", "g_loss"]
            + [f"d/{n}" for n, _ in self.d_regs]
            + [f"g/{n}" for n, _ in self.g_regs]
        )
        self.step = 0

    # -- the step: reads top to bottom; no host sync, no plugin-manager call -----------

    def train_step(self) -> torch.Tensor:
        """One D phase (n_critic updates) and one G update; returns detached loss values."""
        cfg, G, D = self.cfg, self.G, self.D
        D.requires_grad_(True)
        for _ in range(cfg.n_critic):
            real = self.source.next()
            with torch.no_grad():
                fake = G(G.sample_noise(cfg.batch_size))
            real_out, fake_out = D(real), D(fake)
            d_loss = self.loss.d_loss(real_out, fake_out)
            d_total, d_pens = d_loss, []
            if self.d_regs:
                ctx = DStep(G, D, real, fake, real_out, fake_out)
                for _, reg in self.d_regs:
                    pen = _as_penalty(reg.d_penalty(ctx), d_loss)
                    d_pens.append(pen.detach())
                    d_total = d_total + pen
            self.opt_d.zero_grad(set_to_none=True)
            d_total.backward()
            self.opt_d.step()

        D.requires_grad_(False)  # the G step needs gradients through D, not for D
        fake = G(G.sample_noise(cfg.batch_size))
        feats = D.features(fake)
        fake_out = D.classify(feats)
        g_loss = self.loss.g_loss(fake_out)
        g_total, g_pens = g_loss * cfg.loss_g_weight, []
        if self.g_regs:
            ctx = GStep(G, D, real, fake, feats, fake_out)
            for _, reg in self.g_regs:
                pen = _as_penalty(reg.g_penalty(ctx), g_loss)
                g_pens.append(pen.detach())
                g_total = g_total + pen
        self.opt_g.zero_grad(set_to_none=True)
        g_total.backward()
        self.opt_g.step()
        if self.ema is not None:
            self._update_ema()
        return torch.stack([d_loss.detach(), g_loss.detach(), *d_pens, *g_pens])

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema_p, g_p = list(self.ema.parameters()), list(self.G.parameters())
        torch._foreach_lerp_(ema_p, g_p, 1.0 - self.cfg.ema_decay)
        for eb, gb in zip(self.ema.buffers(), self.G.buffers()):
            eb.copy_(gb)

    # -- around the step ------------------------------------------------------------------

    def fit(self, progress: bool | None = None) -> TrainResult:
        cfg, rd = self.cfg, self.rd
        rd.write_status("running", self.step, cfg.steps)
        last: dict[str, float] = {}
        status = "completed"
        sums = torch.zeros(len(self.log_names), device=self.device)
        n_in_window, t0 = 0, time.perf_counter()
        with Progress(cfg.steps, start=self.step, enabled=progress, label=rd.root.name) as bar:
            while self.step < cfg.steps:
                sums += self.train_step()
                self.step += 1
                n_in_window += 1
                bar.advance()
                at_end = self.step == cfg.steps
                if self.step % cfg.log_every == 0 or at_end:
                    values = (sums / n_in_window).tolist()  # the only host sync: every log_every
                    elapsed = time.perf_counter() - t0
                    last = dict(zip(self.log_names, values))
                    rate = n_in_window / elapsed if elapsed > 0 else float("nan")
                    append_jsonl(rd.metrics, {"step": self.step, **last,
                                              "steps_per_s": rate, "time_s": elapsed})
                    bar.show(last, rate)
                    sums.zero_()
                    n_in_window, t0 = 0, time.perf_counter()
                    if not all(math.isfinite(v) for v in values):
                        status = "diverged"
                        break
                # before the checkpoint: a resume from it never misses this row
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or at_end):
                    started = time.perf_counter()
                    self.evaluate()
                    t0 += time.perf_counter() - started  # evaluating is not training: keep it out of steps/s
                if self.step % cfg.checkpoint_every == 0 or at_end:
                    self.save_checkpoint()
                if (cfg.sample_every and self.step % cfg.sample_every == 0) or at_end:
                    self.save_samples()
        rd.write_status(status, self.step, cfg.steps)
        return TrainResult(status, self.step, rd.root, last)

    def evaluate(self) -> dict[str, Any]:
        """Score the generator (its EMA if kept) with the run's metrics; append the row to metrics.jsonl.

        The row is ``{"step": s, "eval": {metric: {value: float}}, "eval_time_s": t}``; the
        noise and the metrics are seeded from the run's seed, the training RNG is untouched.
        """
        from .evaluate import evaluate_generator

        cfg = self.cfg
        result = evaluate_generator(
            self.ema if self.ema is not None else self.G, self.dataset, self.registry,
            metrics=cfg.eval_metrics or None, n_samples=cfg.eval_samples or None, seed=cfg.seed,
            device=self.device,
        )
        row = {"step": self.step, "eval": result["metrics"], "eval_time_s": result["protocol"]["time_s"]}
        append_jsonl(self.rd.metrics, row)
        return row

    def sample(self, z: torch.Tensor) -> torch.Tensor:
        """Generated samples for noise ``z`` from the EMA generator if kept, in eval mode."""
        net = self.ema if self.ema is not None else self.G
        was_training = net.training
        net.eval()
        with torch.no_grad():
            out = net(z)
        net.train(was_training)
        return out

    def save_samples(self) -> None:
        save_samples(self.sample(self.eval_noise), self.dataset,
                     self.rd.samples / f"step_{self.step:07d}.png", title=f"step {self.step}")

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
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
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        self.source.load_state_dict(state["source"])
        torch.set_rng_state(state["rng_cpu"])
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng_cuda"])

    def save_checkpoint(self) -> None:
        state = self.state_dict()
        write_with(self.rd.checkpoint, lambda fh: torch.save(state, fh))

    def resume(self) -> None:
        """Continue from the last checkpoint; metrics logged after it are dropped."""
        self.load_state_dict(read_checkpoint(self.rd.checkpoint, self.device))
        rows = [r for r in read_jsonl(self.rd.metrics) if r.get("step", 0) <= self.step]
        write_jsonl(self.rd.metrics, rows)


def _as_penalty(value: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(()) if value is None else value


def train(
    cfg: RunConfig,
    registry: Registry,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train one run into ``out``: config.json first, then metrics, checkpoints, samples."""
    rd = RunDir(Path(out))
    if rd.root.exists() and not rd.root.is_dir():
        raise UsageError(f"--out {rd.root} is a file; choose a directory")
    if not resume and rd.config.exists():
        raise UsageError(
            f"{rd.root} already holds a run; pass --resume to continue it or choose another --out"
        )
    trainer = Trainer(cfg, registry, rd.root)  # fails on bad data before anything is written
    _prepare_run_dir(rd)
    if resume and rd.checkpoint.exists():
        trainer.resume()
    else:
        rd.metrics.unlink(missing_ok=True)
    write_json(rd.config, cfg.to_dict())
    return trainer.fit(progress=progress)


def _prepare_run_dir(rd: RunDir) -> None:
    try:
        rd.root.mkdir(parents=True, exist_ok=True)
        probe = rd.root / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"cannot write to {rd.root} ({exc.strerror}); choose another --out") from None
