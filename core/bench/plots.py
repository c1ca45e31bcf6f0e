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
