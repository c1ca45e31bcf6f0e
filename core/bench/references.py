"""Reference rows: what the metrics give for samples no GAN made, scored like the variants.

Every dataset of a benchmark gets, with the same metrics, sample counts and seeds as its
runs:

* ``real data``: the test split scored as if generated (each test sample once before any
  repeats; a sample count above the split's size cycles it, which lowers nearest-neighbour
  metrics such as recall and coverage): the ceiling;
* ``uniform noise``: uniform over the bounding box of the training data (per coordinate,
  per pixel for images): a floor;
* ``one mode``: samples of one mode only (the first mixture component, or the test images
  of the first class): a floor, the mode collapse a GAN can fall into.

A variant is only worth reading where it beats the floors; the report marks it where it
does not, with the same paired test as the ranking.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ..components import Dataset, Generator
from ..config import RunConfig
from ..evaluation.score import evaluate_generator
from ..files import read_json, write_json
from ..registry import Registry
from ..train.build import build_dataset
from .suite import RunSpec

CEILING = "real data"
FLOORS = ("uniform noise", "one mode")
#: directory names of the references under ``OUT/references/DATASET/``
SLUGS = {CEILING: "real-data", "uniform noise": "uniform-noise", "one mode": "one-mode"}


class Sampler(Generator):
    """A "generator" that draws from a fixed distribution: ``z`` picks the sample."""

    def __init__(self, latent_dim: int, draw: Callable[[Tensor], Tensor]):
        super().__init__()
        self.latent_dim = latent_dim
        self.draw = draw
        self.register_buffer("anchor", torch.zeros(0))  # gives the module a device

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.rand(n, self.latent_dim, generator=generator)

    def forward(self, z: Tensor) -> Tensor:
        return self.draw(z)


class Bank(Sampler):
    """The rows of ``x`` in a random order, each once before any repeats (the order drawn
    from the evaluation's seeded noise): a sample count above ``len(x)`` cycles."""

    def __init__(self, x: Tensor):
        super().__init__(1, lambda z: x[z[:, 0].long()])
        self.n, self.order, self.at = x.shape[0], torch.zeros(0, dtype=torch.long), 0

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        picked = []
        while n > 0:
            if self.at == len(self.order):
                self.order, self.at = torch.randperm(self.n, generator=generator), 0
            take = self.order[self.at:self.at + n]
            self.at += len(take)
            n -= len(take)
            picked.append(take)
        return torch.cat(picked).float().unsqueeze(1)


def references(dataset: Dataset) -> dict[str, Sampler]:
    """The reference samplers that apply to ``dataset``, by name."""
    train, test = dataset.load("train"), dataset.load("test")
    lo, hi = train.x.amin(0), train.x.amax(0)
    dim = lo.numel()
    out = {CEILING: Bank(test.x),
           "uniform noise": Sampler(dim, lambda z: lo + z.view(-1, *lo.shape) * (hi - lo))}
    if dataset.centers is not None and dataset.mode_std is not None:
        center, std = dataset.centers[0], dataset.mode_std
        # z is uniform; the inverse normal CDF turns it into the mode's Gaussian
        normal = torch.distributions.Normal(0.0, 1.0)
        out["one mode"] = Sampler(dim, lambda z: center + std * normal.icdf(
            z.clamp(1e-7, 1 - 1e-7)).view(-1, *center.shape))
    elif test.y is not None:
        first = test.x[test.y == test.y.min()]
        out["one mode"] = Bank(first)
    return out


def reference_dir(out: Path, label: str, name: str, seed: int) -> Path:
    return Path(out) / "references" / label / SLUGS[name] / f"seed-{seed}"


def evaluate_references(specs: list[RunSpec], out: Path, registry: Registry) -> None:
    """Score the references of every dataset of ``specs``, per seed, where not done yet."""
    firsts: dict[str, RunSpec] = {}
    seeds: dict[str, set[int]] = {}
    for spec in specs:
        firsts.setdefault(spec.dataset, spec)
        seeds.setdefault(spec.dataset, set()).add(spec.seed)
    for label, spec in firsts.items():
        cfg = RunConfig.from_dict(spec.config)
        if not cfg.eval_metrics:
            continue
        dataset = build_dataset(cfg, registry)
        for seed in sorted(seeds[label]):
            # fresh samplers for every seed: a bank's order belongs to one evaluation
            for name, sampler in references(dataset).items():
                path = reference_dir(out, label, name, seed) / "eval.json"
                if path.exists():
                    continue
                result = evaluate_generator(sampler, dataset, registry, metrics=cfg.eval_metrics,
                                            n_samples=cfg.eval_samples, seed=seed, device="cpu")
                write_json(path, {"reference": name, "dataset": label, "seed": seed, **result})


def read_references(out: Path, label: str) -> dict[str, dict[int, dict[str, Any]]]:
    """``{name: {seed: eval.json's metrics}}`` of one dataset's references."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for name, slug in SLUGS.items():
        for path in sorted((Path(out) / "references" / label / slug).glob("seed-*/eval.json")):
            try:
                data = read_json(path)
                seed = int(path.parent.name.removeprefix("seed-"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and isinstance(data.get("metrics"), dict):
                found.setdefault(name, {})[seed] = data["metrics"]
    return found
