"""The speed flags side by side: ``compile`` and ``precision=bf16`` against eager fp32.

    OMP_NUM_THREADS=1 python benchmarks/speed_flags.py [--device cpu] [--threads 1]
                                                       [--repeats 5] [--seconds 1.0]

For each model, three trainers of the same run are built in this process: eager fp32 (the
default), ``compile=true`` and ``precision=bf16``. Each is warmed up first (compilation is
a one-off cost, reported on its own: the extra time of the first steps, which torch's
on-disk compilation cache shortens after a first run), then the three are timed in turn,
A B C A B C ... (``--repeats`` rounds, each timing about ``--seconds`` long), so that a
change in the machine's load hits all three. The table gives each flag's steps/s as a ratio to eager
fp32's in the same round, median (and range) over the rounds; the eager steps/s is there
for scale only. A step is ``Trainer.train_step``: one D update and one G update.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ganagerie.bench.environment import cpu_name
from ganagerie.config import resolve_config
from ganagerie.plugin_loader import get_registry
from ganagerie.train.trainer import Trainer

#: the models of the comparison: the default 2-D MLP (G, D 3x128) and DCGAN on mnist-5k
MODELS = {
    "default MLP on ring8, batch 64": dict(dataset="ring8", sets=["dataset.n=20000"]),
    "DCGAN on mnist-5k, batch 64": dict(dataset="mnist-5k", sets=[]),
}
#: the arms: eager fp32 first (the reference of every ratio)
ARMS = {"eager fp32": [], "compile": ["compile=true"], "bf16": ["precision=bf16"]}


def trainer(model: str, arm: str, device: str, threads: int, root: Path) -> Trainer:
    spec = MODELS[model]
    cfg = resolve_config(get_registry(), dataset=spec["dataset"], variant="vanilla",
                         overrides={"device": device, "threads": threads, "batch_size": 64},
                         sets=[*spec["sets"], *ARMS[arm]])
    return Trainer(cfg, get_registry(), root / f"{model}-{arm}")


def run(t: Trainer, steps: int) -> float:
    """Seconds for ``steps`` training steps, finished on the device."""
    start = time.perf_counter()
    for _ in range(steps):
        row = t.stepper.train_step()[0]
    row.tolist()  # waits for the device
    return time.perf_counter() - start


def measure(model: str, device: str, threads: int, repeats: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {arm: trainer(model, arm, device, threads, Path(tmp)) for arm in ARMS}
        warmup = {arm: run(t, 3) for arm, t in trainers.items()}  # compiles the compiled arm
        per_step = run(trainers["eager fp32"], 5) / 5
        steps = max(5, round(seconds / per_step))
        rates: dict[str, list[float]] = {arm: [] for arm in ARMS}
        for _ in range(repeats):
            for arm, t in trainers.items():
                rates[arm].append(steps / run(t, steps))
    eager = rates["eager fp32"]
    ratios = {arm: [r / e for r, e in zip(rates[arm], eager)] for arm in ARMS if arm != "eager fp32"}
    return {"eager": statistics.median(eager), "ratios": ratios, "steps": steps,
            "compile_s": warmup["compile"] - warmup["eager fp32"]}


def table(results: dict[str, dict]) -> str:
    lines = ["| model, batch | eager fp32 steps/s | compile / eager | bf16 / eager | compiling, one-off* |",
             "|---|---|---|---|---|"]
    for model, r in results.items():
        cells = [f"{statistics.median(v):.2f}x ({min(v):.2f}-{max(v):.2f})" for v in r["ratios"].values()]
        lines.append(f"| {model} | {r['eager']:.1f} | {' | '.join(cells)} | {r['compile_s']:.0f} s |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timing")
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    where = (torch.cuda.get_device_name(args.device) if args.device.startswith("cuda")
             else cpu_name())
    results = {m: measure(m, args.device, args.threads, args.repeats, args.seconds) for m in args.models}
    print(f"torch {torch.__version__}, {args.device} ({where}), {args.threads} thread(s), "
          f"{args.repeats} interleaved rounds; ratios: median (range) of steps/s against eager fp32 "
          "in the same round\n")
    print(table(results))
    print("\n*the extra time of the first 3 steps with compile; torch's on-disk cache shortens it after "
          "a first run")


if __name__ == "__main__":
    main()
