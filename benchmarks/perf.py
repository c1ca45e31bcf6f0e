"""The performance report: every figure a ratio of two things measured side by side, in one run.

    python benchmarks/perf.py [--out benchmarks/results/perf.md] [--device cpu] [--repeats 3]
                              [--suites quick ...] [--suite-repeats 1] [--suite-seeds N ...]
                              [--suites-only [--keep]]

``--suites-only`` measures section 5 alone and rewrites only its measured block in ``--out``
(between ``<!-- suites -->`` markers; the prose around it stays; ``--keep`` adds the new
measurements after the block's earlier ones).

What it measures, on whatever machine runs it (the report names the machine):

1. the machine's matmul rate (fp32, torch.mm of 1024x1024, the threads given), the yardstick
   for the rest;
2. the trainer's step against a hand-written loop (``benchmarks/overhead.py``): 2-D MLP, DCGAN;
3. steps/s of single runs and the share of the matmul rate they reach, from the matmul FLOPs
   of one step counted by ``torch.utils.flop_counter``;
4. S seeds trained together (``ganagerie.train.batched``) against the same S one by one, for
   S = 1, 2, 4, 8, 16, on the default 2-D MLP and on PacGAN's 2-D networks, and the crossover
   in network size on this device at S = 4;
5. the wall time of whole suites with ``--batch-seeds on`` and ``off`` (``--jobs`` = cores,
   ``--suite-repeats`` off/on pairs, each into a fresh directory; ``--suite-seeds`` reruns each
   suite with other seed counts), and whether their statistics agree.

Timed loops alternate A, B, A, B (``--repeats`` pairs) so that a change in the machine's load
hits both; the ratio reported is the median over pairs. Absolute times are printed only for
scale. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
import overhead  # noqa: E402  (the trainer-vs-hand-loop measurement, shared)

from ganagerie.config import resolve_config  # noqa: E402
from ganagerie.plugin_loader import get_registry  # noqa: E402
from ganagerie.train.batched import SeedBatch, why_not  # noqa: E402
from ganagerie.train.trainer import prepare  # noqa: E402

#: the 2-D networks of the comparisons: the default MLP (G, D 3x128, batch 64) and PacGAN's
#: (G 4x400 BN, D 3x200 maxout-5, batch 100, app. D of Lin et al. 2018)
MODELS = {
    "default MLP, batch 64": dict(dataset="ring8", arch="mlp", sets=[]),
    "PacGAN's 2-D networks, batch 100": dict(
        dataset="ring8", arch="mlp",
        sets=["arch.g_width=400", "arch.g_depth=4", "arch.g_batchnorm=true", "arch.g_hidden_bias=false",
              "arch.d_width=200", "arch.d_maxout=5", "batch_size=100"]),
    "DCGAN on mnist-5k, batch 64": dict(dataset="mnist-5k", arch="dcgan", sets=[]),
}


def config(model: str, seed: int = 0, device: str = "cpu", extra=()):
    spec = MODELS[model]
    return resolve_config(get_registry(), dataset=spec["dataset"], variant="vanilla", arch=spec["arch"],
                          overrides={"seed": seed, "device": device},
                          sets=[*spec["sets"], "dataset.n=20000", *extra]
                          if spec["dataset"] == "ring8" else [*spec["sets"], *extra])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_rate(device: str, n: int = 1024, repeats: int = 20) -> float:
    """FLOP/s of an n x n fp32 matmul (best of ``repeats``)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def trainers(model: str, seeds: int, tmp: Path, device: str, extra=()):
    where = Path(tempfile.mkdtemp(dir=tmp))
    return [prepare(config(model, s, device, extra), get_registry(), where / f"seed-{s}")
            for s in range(seeds)]


def step_flops(trainer) -> float:
    with FlopCounterMode(display=False) as counter:
        trainer.stepper.train_step()
    return float(counter.get_total_flops())


def time_steps(step, n: int, device: str) -> float:
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return time.perf_counter() - t0


def paired(a, b, repeats: int) -> tuple[float, float, float]:
    """Median of b/a over interleaved pairs, and the median times of a and b."""
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(a())
        tb.append(b())
    return (statistics.median(y / x for x, y in zip(ta, tb)), statistics.median(ta), statistics.median(tb))


def single_runs(device: str, repeats: int, rate: float, tmp: Path) -> list[str]:
    lines = ["| model | ms/step | matmul GFLOP per step | GFLOP/s reached | share of the matmul rate |",
             "|---|---|---|---|---|"]
    for model in MODELS:
        (t,) = trainers(model, 1, tmp, device)
        flops = step_flops(t)
        n = 200 if "DCGAN" not in model else 30
        time_steps(t.stepper.train_step, 10, device)
        seconds = statistics.median(time_steps(t.stepper.train_step, n, device) for _ in range(repeats)) / n
        lines.append(f"| {model} | {seconds * 1e3:.2f} | {flops / 1e9:.4f} | {flops / seconds / 1e9:.1f} "
                     f"| {flops / seconds / rate:.0%} |")
    return lines


def together_vs_alone(make, n: int, device: str, repeats: int) -> tuple[float, float, float]:
    """Speed-up of training seeds together over one by one, and the two times (n steps each).
    ``make()`` builds the seeds' trainers; the stack gets its own (its seeds' networks become
    views of the stack, so the same trainers cannot also train alone)."""
    ts, batch = make(), SeedBatch(make())

    def one_by_one() -> float:
        return sum(time_steps(t.stepper.train_step, n, device) for t in ts)

    def together() -> float:
        return time_steps(batch.stepper.train_step, n, device)

    one_by_one(), together()  # warm-up
    speedup, t_together, t_alone = paired(together, one_by_one, repeats)
    return speedup, t_alone, t_together


def seed_batching(device: str, repeats: int, tmp: Path, sizes=(1, 2, 4, 8, 16)) -> list[str]:
    lines = ["| model | S | one by one, ms per seed-step | together, ms per seed-step "
             "| speed-up (one by one / together) |", "|---|---|---|---|---|"]
    for model in list(MODELS)[:2]:
        for S in sizes:
            n = 60 if "PacGAN" in model else 150
            ratio, t1, t2 = together_vs_alone(lambda m=model, k=S: trainers(m, k, tmp, device), n, device,
                                              repeats)
            per_step = [f"{t / n / S * 1e3:.2f}" for t in (t1, t2)]
            lines.append(f"| {model} | {S} | {per_step[0]} | {per_step[1]} | {ratio:.2f}x |")
            print(lines[-1], flush=True)
    return lines


def crossover(device: str, repeats: int, tmp: Path, S: int = 4) -> list[str]:
    lines = ["| G and D width (depth 3, batch 64) | parameters x batch | speed-up at S = 4 | auto batches? |",
             "|---|---|---|---|"]
    registry = get_registry()
    for width in (64, 128, 192, 256, 384):
        extra = [f"arch.g_width={width}", f"arch.d_width={width}"]
        ts = trainers("default MLP, batch 64", S, tmp, device, extra)
        size = sum(p.numel() for net in (ts[0].G, ts[0].D) for p in net.parameters()) * ts[0].cfg.batch_size
        ratio, _, _ = together_vs_alone(lambda e=extra: trainers("default MLP, batch 64", S, tmp, device, e),
                                        150, device, repeats)
        auto = why_not(ts[0].cfg, registry, "auto") is None
        lines.append(f"| {width} | {size:.2g} | {ratio:.2f}x | {'yes' if auto else 'no'} |")
        print(lines[-1], flush=True)
    return lines


def run_suite(name: str, mode: str, out: Path, jobs: int, seeds: int | None = None,
              steps: int | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(["ganagerie", "bench", "run", name, "--out", str(out), "--quiet", "--jobs", str(jobs),
                    "--batch-seeds", mode, *(["--seeds", str(seeds)] if seeds else []),
                    *(["--steps", str(steps)] if steps else [])],
                   check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def suites(names: list[str], tmp: Path, jobs: int, repeats: int = 1,
           seed_counts: Sequence[int | None] = (None,), steps: int | None = None) -> list[str]:
    """One row per suite, seed count (None: the suite's own) and off/on pair (alternating, each
    into a fresh directory), then, for several pairs, the median speed-up."""
    lines = ["| suite | seeds | steps | pair | wall time, one by one | wall time, seeds together "
             "| speed-up | statistics agree |", "|---|---|---|---|---|---|---|---|"]
    budget = str(steps) if steps else "the suite's"
    for name in names:
        for seeds in seed_counts:
            ratios, label = [], str(seeds) if seeds else "the suite's"
            for i in range(repeats):
                off_dir, on_dir = tmp / f"{name}-{seeds}-off-{i}", tmp / f"{name}-{seeds}-on-{i}"
                off = run_suite(name, "off", off_dir, jobs, seeds, steps)
                on = run_suite(name, "on", on_dir, jobs, seeds, steps)
                ratios.append(off / on)
                agree = compare(off_dir / "results.json", on_dir / "results.json")
                lines.append(f"| {name} | {label} | {budget} | {i + 1} | {off / 60:.1f} min | "
                             f"{on / 60:.1f} min | "
                             f"{off / on:.2f}x | {agree} |")
                print(lines[-1], flush=True)
            if repeats > 1:
                median = statistics.median(ratios)
                lines.append(f"| {name} | {label} | {budget} | median of {repeats} | | | {median:.2f}x "
                             f"(range {min(ratios):.2f}-{max(ratios):.2f}x) | |")
                print(lines[-1], flush=True)
    return lines


BEGIN, END = "<!-- suites: written by perf.py -->", "<!-- /suites -->"


def suites_section(lines: list[str], started: str, machine: str) -> list[str]:
    """The measured part of the "Whole suites" section, between markers that ``--suites-only``
    finds again; what a person writes around it stays."""
    return [BEGIN,
            f"`ganagerie bench run SUITE --jobs {os.cpu_count()} --batch-seeds off|on`, off then on in "
            f"each pair, evaluations and reports included; measured {started} on {machine}:", "",
            *lines, END]


def replace_block(text: str, block: list[str], keep: bool = False) -> str:
    """``text`` with the block between the markers replaced (with ``keep``, the old block's
    measurements stay and the new ones follow them); without markers, the block goes first
    under the "## Whole suites" heading (a new section at the end if there is none)."""
    lines = text.splitlines()
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        if keep:
            block = [BEGIN, *lines[start + 1:end], "", *block[1:]]
        return "\n".join([*lines[:start], *block, *lines[end + 1:]]) + "\n"
    if "## Whole suites" in lines:
        at = lines.index("## Whole suites") + 1
        return "\n".join([*lines[:at], "", *block, *lines[at:]]) + "\n"
    return "\n".join([*lines, "", "## Whole suites", "", *block]) + "\n"


def compare(a_path: Path, b_path: Path) -> str:
    """Whether every (dataset, variant, metric) mean of one suite lies inside the other's 95%
    interval, and the ranks are the same."""
    a, b = json.loads(a_path.read_text()), json.loads(b_path.read_text())
    inside, total, worst = 0, 0, 0.0
    for (ds, va, m), sa in _summaries(a).items():
        sb = _summaries(b).get((ds, va, m))
        if sb is None or sa.get("mean") is None or sb.get("mean") is None:
            continue
        total += 1
        low, high = sa.get("ci_low"), sa.get("ci_high")
        if low is None or high is None:
            low = high = sa["mean"]
        inside += low - 1e-9 <= sb["mean"] <= high + 1e-9
        worst = max(worst, abs(sb["mean"] - sa["mean"]))
    return (f"{inside}/{total} means inside the other's interval (largest difference {worst:.3g}); "
            f"{rank_changes(_ranks(a), _ranks(b))}")


def rank_changes(a: dict, b: dict) -> str:
    """The (dataset, variant) cells whose rank differs between two suites' rankings, as
    ``ranks differ in 2 of 64: ring8 ragan 1 -> 13, ...`` (or ``ranks identical``)."""
    cells = [(ds, va) for ds, ranks in a.items() for va in (ranks or {})]
    cells += [(ds, va) for ds, ranks in b.items() for va in (ranks or {}) if (ds, va) not in cells]
    changed = [f"{ds} {va} {_rank(a, ds, va)} -> {_rank(b, ds, va)}" for ds, va in cells
               if _rank(a, ds, va) != _rank(b, ds, va)]
    if not changed:
        return "ranks identical"
    return f"ranks differ in {len(changed)} of {len(cells)}: {', '.join(changed)}"


def _summaries(results: dict) -> dict:
    out = {}
    for ds, block in results.get("datasets", {}).items():
        for va, metrics in block.get("variants", {}).items():
            for m, s in metrics.get("metrics", {}).items():
                if isinstance(s, dict):
                    out[(ds, va, m)] = s
    return out


def _rank(ranks: dict, dataset: str, variant: str) -> int | str:
    return (ranks.get(dataset) or {}).get(variant, "none")


def _ranks(results: dict) -> dict:
    datasets = results.get("datasets", {})
    return {ds: (block.get("ranking") or {}).get("ranks") for ds, block in datasets.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "perf.md")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--suites", nargs="*", default=["quick"])
    parser.add_argument("--suite-repeats", type=int, default=1, help="off/on pairs per suite")
    parser.add_argument("--suite-seeds", type=int, nargs="+", metavar="N",
                        help="run each suite with N seeds (bench run --seeds N), once per N given")
    parser.add_argument("--suite-steps", type=int, metavar="N",
                        help="train every run of the suites N steps (bench run --steps N)")
    parser.add_argument("--suites-only", action="store_true",
                        help="measure the suites alone and rewrite only that section of --out")
    parser.add_argument("--keep", action="store_true",
                        help="with --suites-only: keep the earlier measurements, add these after them")
    parser.add_argument("--extra", type=Path,
                        help="a markdown file appended as is (e.g. speed_flags.py's table)")
    args = parser.parse_args()
    if args.suite_repeats < 1:
        parser.error("--suite-repeats must be at least 1")
    if args.suite_seeds and min(args.suite_seeds) < 1:
        parser.error("--suite-seeds must be at least 1")
    seed_counts = args.suite_seeds or [None]
    if args.keep and not args.suites_only:
        parser.error("--keep goes with --suites-only")
    if args.suites_only and not args.out.is_file():
        parser.error(f"--suites-only rewrites a section of {args.out}, which does not exist")
    torch.set_num_threads(args.threads)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    machine = (torch.cuda.get_device_name() if args.device.startswith("cuda")
               else f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    if args.suites_only:
        before = args.out.read_text()
        with tempfile.TemporaryDirectory() as tmp_name:
            lines = suites(args.suites, Path(tmp_name), os.cpu_count() or 1, args.suite_repeats, seed_counts,
                           args.suite_steps)
        args.out.write_text(replace_block(before, suites_section(lines, started, machine), args.keep))
        print(f"rewrote the suites section of {args.out}")
        return
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rate = matmul_rate(args.device)
        print(f"matmul: {rate / 1e9:.1f} GFLOP/s", flush=True)
        over = {name: overhead.measure(name, 300, args.repeats + 2, args.device) for name in overhead.CASES}
        single = single_runs(args.device, args.repeats, rate, tmp)
        print("\n".join(single), flush=True)
        batching = seed_batching(args.device, args.repeats, tmp)
        cross = crossover(args.device, args.repeats, tmp)
        suite_lines = (suites(args.suites, tmp, os.cpu_count() or 1, args.suite_repeats, seed_counts,
                              args.suite_steps) if args.suites else [])
    text = [
        "# Performance report",
        "",
        f"Written by `python benchmarks/perf.py` on {started}: {args.device} ({machine}), torch "
        f"{torch.__version__}, {args.threads} torch thread(s) in the in-process measurements. Every "
        "figure below is a ratio of two measurements taken side by side in this one run (interleaved "
        f"A/B pairs, median over {args.repeats} pairs); times are given for scale only.",
        "",
        f"**Matmul rate** (fp32 1024x1024 `torch.mm`, best of 20): {rate / 1e9:.1f} GFLOP/s.",
        "",
        "## The trainer against a hand-written loop",
        "",
        "Same networks, data and loss; `benchmarks/overhead.py` (trainer time / hand time):",
        "",
        *[f"- {name}: {ratio:.3f}" for name, ratio in over.items()],
        "",
        "## Single runs against the matmul rate",
        "",
        *single,
        "",
        "## Seeds trained together (`--batch-seeds`)",
        "",
        "S runs of one cell (vanilla GAN, seeds 0..S-1) trained one after another, against the same "
        "S trained together by `ganagerie.train.batched`; time per seed-step (one generator step of "
        "one seed). The speed-up is the time of the S runs one by one over their time together.",
        "",
        *batching,
        "",
        "Where it stops paying on this device, at S = 4 (the default MLP made wider); `auto` is "
        "the default `--batch-seeds` rule (`ganagerie.train.batched.CPU_CROSSOVER`):",
        "",
        *cross,
        "",
    ]
    if suite_lines:
        text += ["## Whole suites", "", *suites_section(suite_lines, started, machine), ""]
    if args.extra:
        text += [args.extra.read_text().rstrip(), ""]
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
