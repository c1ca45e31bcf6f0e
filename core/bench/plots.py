"""The report's figures, as PNG bytes: curves with a band over seeds, and sample panels.

matplotlib's object API only (``Figure``): no pyplot global state, no GUI backend,
safe in worker processes and tests.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.figure import Figure

from .stats import mean_ci

#: one series of one seed: (step, value) pairs
Series = Sequence[tuple[int, float]]
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf"]


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def curves_figure(
    panels: Mapping[str, Mapping[str, Sequence[Series]]], title: str, xlabel: str = "step",
    levels: Mapping[str, Mapping[str, float]] | None = None,
) -> bytes:
    """One panel per quantity; in each, one line per variant: the mean over seeds and its 95%
    interval as a band. ``panels`` is ``{quantity: {variant: [series of each seed]}}``;
    ``levels`` (``{quantity: {reference: value}}``) are drawn as dashed horizontal lines."""
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows))
    fig.suptitle(title, fontsize=10)
    for i, (quantity, by_variant) in enumerate(panels.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        for j, (variant, seeds) in enumerate(by_variant.items()):
            steps, mean, low, high = _band(seeds)
            if not steps:
                continue
            color = COLORS[j % len(COLORS)]
            ax.plot(steps, mean, color=color, label=variant, linewidth=1.3)
            ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
        for k, (name, value) in enumerate((levels or {}).get(quantity, {}).items()):
            ax.axhline(value, color="black", linestyle=("--", ":", "-.")[k % 3], linewidth=0.9,
                       label=name)
        ax.set_title(quantity, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)


def _band(seeds: Sequence[Series]) -> tuple[list[int], list[float], list[float], list[float]]:
    """Mean and 95% interval over seeds at every logged step (non-finite values skipped)."""
    by_step: dict[int, list[float]] = {}
    for series in seeds:
        for step, value in series:
            if math.isfinite(value):
                by_step.setdefault(step, []).append(value)
    steps, mean, low, high = [], [], [], []
    for step in sorted(by_step):
        ci = mean_ci(by_step[step])
        steps.append(step)
        mean.append(ci.mean)
        # one seed alone has no interval: draw no band there
        low.append(ci.mean if ci.n < 2 else ci.low)
        high.append(ci.mean if ci.n < 2 else ci.high)
    return steps, mean, low, high


def samples_figure(images: Mapping[str, Path], title: str) -> bytes:
    """The final sample picture of each variant (a PNG the run wrote), side by side."""
    return to_png(samples_layout(images, title))


def samples_layout(images: Mapping[str, Path], title: str) -> Figure:
    """``samples_figure``'s figure. Constrained layout places each title above its own
    picture; tight_layout let square pictures cover the titles of the row below them."""
    from matplotlib.image import imread

    cols = min(4, max(1, len(images)))
    rows = math.ceil(len(images) / cols)
    fig = Figure(figsize=(3.2 * cols, 3.4 * rows), layout="constrained")
    fig.suptitle(title, fontsize=10)
    for i, (variant, path) in enumerate(images.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(imread(path))
        ax.set_title(variant, fontsize=9)
        ax.axis("off")
    return fig


def critical_difference_figure(average_ranks: Mapping[str, float], cd: float,
                               groups: Sequence[Sequence[str]], title: str) -> bytes:
    """Demšar's critical-difference diagram: an axis of average ranks (1, the best, on the
    left), each variant's name at its rank, the CD as a bar of its length above the axis,
    and a thick line under each group of variants that the Nemenyi test cannot separate."""
    names = sorted(average_ranks, key=average_ranks.get)
    k = len(names)
    half = math.ceil(k / 2)
    fig = Figure(figsize=(10, 1.4 + 0.28 * half))
    ax = fig.add_axes((0.24, 0.05, 0.52, 0.8))
    ax.set_xlim(1 - 0.1, k + 0.1)
    ax.set_ylim(-(half + 1.5), 2.2)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", linewidth=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.25, color="black", linewidth=1)
        ax.text(r, 0.4, str(r), ha="center", va="bottom", fontsize=8)
    shown = min(cd, k - 1)  # a CD longer than the axis: every variant is in one group
    ax.hlines(1.5, 1, 1 + shown, color="black", linewidth=1.5)
    ax.text(1 + shown / 2, 1.65, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for i, name in enumerate(names):
        r = average_ranks[name]
        left = i < half
        y = -(i + 1) if left else -(k - i)
        x_text = 1 - 0.15 if left else k + 0.15
        ax.plot([r, r, x_text], [0, y, y], color="gray", linewidth=0.8)
        ax.text(x_text, y, f"{name} ({r:.2f})", ha="right" if left else "left", va="center",
                fontsize=8)
    for j, group in enumerate(groups):
        ranks = [average_ranks[n] for n in group]
        y = -0.35 - 0.18 * j
        ax.hlines(y, min(ranks) - 0.03, max(ranks) + 0.03, color="black", linewidth=3)
    fig.suptitle(title, fontsize=10)
    return to_png(fig)


def budget_figure(curves: Mapping[str, Mapping[str, Sequence[float | None]]], title: str,
                  ylabel: str) -> bytes:
    """Best score against budget: per variant the median over orderings as a line and the
    band between the low and high quantiles (``{variant: {median, low, high}}``; None where
    no ordering has a score yet is left out)."""
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    for j, (variant, curve) in enumerate(curves.items()):
        color = COLORS[j % len(COLORS)]
        budget = range(1, len(curve["median"]) + 1)

        def nan(row: Sequence[float | None]) -> list[float]:
            return [math.nan if v is None else v for v in row]

        ax.plot(budget, nan(curve["median"]), color=color, label=variant, linewidth=1.3)
        ax.fill_between(budget, nan(curve["low"]), nan(curve["high"]), color=color, alpha=0.15,
                        linewidth=0)
    ax.set_xlabel("budget (settings tried)", fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)


def box_figure(scores: Mapping[str, Sequence[float]], title: str, ylabel: str) -> bytes:
    """One box per variant: the scores of all its settings (whiskers at 1.5 IQR, every
    setting also drawn as a point)."""
    names = list(scores)
    fig = Figure(figsize=(max(4.0, 0.9 * len(names) + 1.5), 3.8))
    ax = fig.add_subplot(1, 1, 1)
    ax.boxplot([list(scores[n]) or [math.nan] for n in names], showfliers=False)
    for i, n in enumerate(names, start=1):
        ax.plot([i] * len(scores[n]), list(scores[n]), "o", color=COLORS[(i - 1) % len(COLORS)],
                alpha=0.5, markersize=3)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return to_png(fig)
