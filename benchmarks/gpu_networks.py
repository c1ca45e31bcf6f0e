"""Steps per second of the 32x32 ResNet and BigGAN-style presets, the networks of the CIFAR-10
suites, on one device: what a ``cifar10-sngan`` or ``cifar10-conditional`` run will cost.

    python benchmarks/gpu_networks.py [--device cuda] [--steps 200] [--set KEY=VALUE ...]
    python benchmarks/gpu_networks.py --device cpu --steps 3 --set arch.width=4   # a check

Each preset (``sngan-resnet``, ``cgan-pd``, ``biggan-32``) trains with its own settings (its
D steps, batch, optimizer) for ``--steps`` generator steps on random 32x32 RGB images with
10 classes (an ``npz`` array in a temporary folder: a step's cost does not depend on what
the images show, so no CIFAR-10 download is needed), with no evaluation and no samples. The
figure is the median of the run's log windows after the first (which holds cuDNN's
autotuning and the allocator's warm-up). The table gives steps/s and the hours the suites'
100,000 steps would take at that rate, without their evaluations (50k samples through the
Inception network every 10k steps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

PRESETS = ("sngan-resnet", "cgan-pd", "biggan-32")
SUITE_STEPS = 100_000


def stand_in(root: Path, n: int = 2_000) -> None:
    """Random uint8 images [N, 32, 32, 3] and labels 0-9, as ``npz:file=standin.npz`` reads."""
    rng = np.random.default_rng(0)
    np.savez(root / "standin.npz", x=rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
             y=np.arange(n) % 10)


def steps_per_s(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["steps_per_s"] for r in rows if "steps_per_s" in r]
    return statistics.median(rates[1:] or rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--set", action="append", default=[], dest="sets")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("no CUDA device here; pass --device cpu for a check")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        stand_in(root)
        for preset in PRESETS:
            out = root / preset
            log_every = max(1, args.steps // 10)
            cmd = [sys.executable, "-m", "ganagerie", "train", "--data-root", str(root),
                   "--dataset", "npz:file=standin.npz", "--variant", preset, "--steps", str(args.steps),
                   "--out", str(out), "--quiet", "--set", f"device={args.device}",
                   "--set", f"log_every={log_every}", "--set", "eval_every=0",
                   "--set", f"checkpoint_every={args.steps}", *(x for s in args.sets for x in ("--set", s))]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            config = json.loads((out / "config.json").read_text())
            rate = steps_per_s(out)
            rows.append((preset, config["n_critic"], config["batch_size"], rate, SUITE_STEPS / rate / 3600))
    print(f"{name}, torch {torch.__version__}, {args.steps} steps each, median log window after the first\n")
    print("| preset | D steps | batch | steps/s | 100k steps (h) |\n|---|---|---|---|---|")
    for preset, n_critic, batch, rate, hours in rows:
        print(f"| {preset} | {n_critic} | {batch} | {rate:.2f} | {hours:.1f} |")


if __name__ == "__main__":
    main()
