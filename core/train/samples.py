"""Pictures of samples: an image grid (torchvision) or a scatter plot (matplotlib)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from ..components import Dataset
from ..errors import UsageError
from ..files import write_with


def save_samples(samples: Tensor, dataset: Dataset, path: str | Path, title: str = "",
                 classes: int | None = None) -> None:
    """Write ``samples`` as a PNG: a grid for images, a scatter over the real data otherwise.
    ``classes``: the samples of a conditional generator asked for class ``i % classes``
    (sample ``i``), drawn as a per-class grid: column k holds class k."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"cannot write samples to '{path}': give a file name ending in .png")
    samples = samples.detach().float().cpu()
    if samples.dim() == 4:
        _save_grid(samples, path, classes)
    else:
        _save_scatter(samples, dataset, path, title)


def _save_grid(images: Tensor, path: Path, classes: int | None = None) -> None:
    from torchvision.utils import save_image

    images = (images.clamp(-1, 1) + 1) / 2
    if images.shape[-1] < 32:  # small images (8x8 digits) are unreadable at their own size
        scale = math.ceil(32 / images.shape[-1])
        images = torch.nn.functional.interpolate(images, scale_factor=scale, mode="nearest")
    nrow = classes or max(1, math.ceil(math.sqrt(images.shape[0])))
    write_with(path, lambda fh: save_image(images, fh, nrow=nrow, padding=1, format="png"))


def _save_scatter(points: Tensor, dataset: Dataset, path: Path, title: str) -> None:
    # The object API avoids pyplot's global state and needs no GUI backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    real = dataset.load("train").x[:2000].float()
    ax.scatter(real[:, 0], real[:, 1], s=4, c="#bbbbbb", label="real", linewidths=0)
    ax.scatter(points[:, 0], points[:, 1 if points.shape[1] > 1 else 0], s=4, c="#d62728",
               label="generated", linewidths=0)
    if dataset.centers is not None:
        c = dataset.centers
        ax.scatter(c[:, 0], c[:, 1], marker="x", c="black", s=30, label="modes")
    lim = float(torch.cat([real[:, :2].abs().flatten(), torch.tensor([1.0])]).max()) * 1.3
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, markerscale=2)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    write_with(path, lambda fh: fig.savefig(fh, format="png"))
