"""Framework overhead: ganagerie's Trainer step against a hand-written loop, same process.

    python benchmarks/overhead.py [--steps 300] [--repeats 5] [--device cpu]

Both loops train the same networks on the same data with the same loss; the ratio
(trainer time / hand time, median over interleaved repeats) is what is reported,
never an absolute time. Roadmap targets: <= 1.10 for the 2-D MLP, <= 1.03 for DCGAN.
The DCGAN case uses the bundled 8x8 digits, where fixed per-step costs weigh most.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from ganagerie.config import resolve_config
from ganagerie.plugin_loader import get_registry
from ganagerie.train.step import DIAGNOSTICS, measures_diagnostics
from ganagerie.train.trainer import Trainer

CASES = {
    "mlp-ring8": dict(dataset="ring8", arch="mlp", sets=["batch_size=100"]),
    "dcgan-digits": dict(dataset="digits", arch="dcgan:width=32",
                        sets=["batch_size=64"]),
}


def hand_loop(trainer: Trainer, steps: int) -> None:
    """The same vanilla GAN step, written out by hand with the trainer's own objects."""
    G, D, opt_g, opt_d = trainer.G, trainer.D, trainer.opt_g, trainer.opt_d
    batch = trainer.cfg.batch_size
    for _ in range(steps):
        D.requires_grad_(True)
        real = trainer.source.next()
        with torch.no_grad():
            fake = G(torch.randn(batch, G.latent_dim, device=real.device))
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        fake = G(torch.randn(batch, G.latent_dim, device=real.device))
        g_loss = F.softplus(-D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    if real.is_cuda:
        torch.cuda.synchronize()


def framework_loop(trainer: Trainer, steps: int) -> None:
    """The trainer's step plus its per-step bookkeeping (loss and diagnostics accumulation),
    with the diagnostics measured on the steps the trainer measures them on (log_every 100)."""
    cfg, stepper = trainer.cfg, trainer.stepper
    sums = torch.zeros(len(stepper.log_names), device=trainer.device)
    diag_sums = torch.zeros(len(DIAGNOSTICS), device=trainer.device)
    for i in range(steps):
        row, diag = stepper.train_step(measures_diagnostics(i, 100, cfg.steps))
        sums += row
        if diag is not None:
            diag_sums += diag
    sums.tolist(), diag_sums.tolist()


def measure(name: str, steps: int, repeats: int, device: str) -> float:
    registry = get_registry()
    spec = CASES[name]
    cfg = resolve_config(registry, dataset=spec["dataset"], variant="vanilla", arch=spec["arch"],
                         overrides={"device": device}, sets=spec["sets"])
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, registry, tmp)
        hand_loop(trainer, 20)  # warm-up both paths
        framework_loop(trainer, 20)
        ratios = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            hand_loop(trainer, steps)
            t_hand = time.perf_counter() - t0
            t0 = time.perf_counter()
            framework_loop(trainer, steps)
            ratios.append((time.perf_counter() - t0) / t_hand)
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    for name in CASES:
        ratio = measure(name, args.steps, args.repeats, args.device)
        print(f"{name:12s} trainer/hand time ratio: {ratio:.3f} (median of {args.repeats})")


if __name__ == "__main__":
    main()
