"""Framework overhead: ganagerie's Trainer step against a hand-written loop, same process.

    python benchmarks/overhead.py [--steps 300] [--repeats 5] [--device cpu] [--threads 1]

Both loops train the same networks on the same data with the same loss; the ratio
(trainer time / hand time, median over repeats, each repeat the two loops interleaved in
chunks of 10 steps) is what is reported, never an absolute time. The trainer's loop measures
its diagnostics on the steps a run measures them on (``ganagerie.train.step.DIAG_EVERY``).
Target: <= 1.03 on both cases.
The DCGAN case uses the bundled 8x8 digits, where fixed per-step costs weigh most.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from ganagerie.config import resolve_config
from ganagerie.plugin_loader import get_registry
from ganagerie.train.step import measures_diagnostics
from ganagerie.train.trainer import Trainer

CASES = {
    "mlp-ring8": dict(dataset="ring8", arch="mlp", sets=["batch_size=100"]),
    "dcgan-digits": dict(dataset="digits", arch="dcgan:width=32",
                        sets=["batch_size=64"]),
}


#: steps per timed chunk; a repeat alternates the two loops chunk by chunk
CHUNK = 10


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
    """The trainer's step plus its per-step bookkeeping (the run's own log window), with the
    diagnostics measured on the steps a run measures them on; the window closes at the end."""
    cfg, stepper, window = trainer.cfg, trainer.stepper, trainer.window
    for i in range(steps):
        row, diag = stepper.train_step(measures_diagnostics(i, cfg))
        window.add(row, diag, i + 1)
    window.reset(all(math.isfinite(v) for v in window.means().tolist()))


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
            # one repeat: the two loops in chunks of CHUNK steps, alternating A B B A..., so that
            # this machine's drift in speed (seen: 15% from one second to the next) hits both
            times = {hand_loop: 0.0, framework_loop: 0.0}
            for chunk in range(max(1, steps // CHUNK)):
                order = (hand_loop, framework_loop) if chunk % 2 == 0 else (framework_loop, hand_loop)
                for loop in order:
                    t0 = time.perf_counter()
                    loop(trainer, CHUNK)
                    times[loop] += time.perf_counter() - t0
            ratios.append(times[framework_loop] / times[hand_loop])
    return statistics.median(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: as the harness runs each run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in CASES:
        ratio = measure(name, args.steps, args.repeats, args.device)
        print(f"{name:12s} trainer/hand time ratio: {ratio:.3f} (median of {args.repeats})")


if __name__ == "__main__":
    main()
