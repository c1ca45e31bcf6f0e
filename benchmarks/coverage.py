"""How often a 95% interval over seeds contains the true mean, for the metrics' kinds of spread.

    python benchmarks/coverage.py [--reps 2000] [--out benchmarks/results/coverage.md]

Seeds are simulated from distributions like the ones benchmark cells show (a mode count that is
8 for some seeds and 1 for the others, a heavy-tailed FID, a percentage piled up near 100), for
n = 3, 5, 8 and 16 seeds, and each candidate interval (``ganagerie.bench.stats.INTERVALS``) is
scored by ``ganagerie.bench.stats.coverage``: the share of simulated studies whose interval holds
the true mean, and the share whose interval leaves the metric's range. The reports use the one
that covers best without leaving the range.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from ganagerie.bench.stats import INTERVALS, coverage

#: name -> (draw(rng, n), true mean, the metric's range)
DISTRIBUTIONS = {
    "mode count: 8 (p = 1/3) or 1, in [0, 8]":
        (lambda rng, n: np.where(rng.random(n) < 1 / 3, 8.0, 1.0), 8 / 3 + 2 / 3, (0.0, 8.0)),
    "FID: 20 + lognormal(4, 1), >= 0":
        (lambda rng, n: 20 + rng.lognormal(4.0, 1.0, n), 20 + math.exp(4.5), (0.0, None)),
    "percentage: 100 * Beta(20, 1), in [0, 100]":
        (lambda rng, n: 100 * rng.beta(20.0, 1.0, n), 100 * 20 / 21, (0.0, 100.0)),
}
SEED_COUNTS = (3, 5, 8, 16)


def table(reps: int) -> list[str]:
    lines = ["| distribution | seeds | " + " | ".join(INTERVALS) + " |",
             "|---|---|" + "---|" * len(INTERVALS)]
    for name, (draw, mean, bounds) in DISTRIBUTIONS.items():
        for n in SEED_COUNTS:
            cells = []
            for method in INTERVALS:
                covered, outside = coverage(draw, mean, n, method, bounds, reps=reps, seed=n)
                cells.append(f"{covered:.3f} ({outside:.0%} out)")
            lines.append(f"| {name} | {n} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "coverage.md")
    args = parser.parse_args()
    lines = table(args.reps)
    se = math.sqrt(0.95 * 0.05 / args.reps)
    args.out.write_text("\n".join([
        "# Coverage of 95% intervals over seeds", "",
        f"`python benchmarks/coverage.py --reps {args.reps}`: each cell is the share of {args.reps} "
        "simulated studies whose interval contains the true mean (nominal 0.95; its Monte Carlo "
        f"standard error is about {se:.3f}), and in brackets the share whose interval leaves the "
        "metric's range. `t`: Student-t; `t-in-range`: the same cut to the range (what reports "
        "use); `percentile`, `BCa`: scipy.stats.bootstrap, 999 resamples.", "", *lines, ""]))


if __name__ == "__main__":
    main()
