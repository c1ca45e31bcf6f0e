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

Where the metrics include conditional ones (``Metric.conditional``: intra-FID, CAS, class
agreement) on labelled data, the rows are conditional "generators", asked for classes as a
conditional G is: the real-data row draws the *train* split class by class with its true
labels (each sample of a class once before any repeats), so that CAS is a classifier
trained on real train samples and tested on the held-out test split, intra-FID compares
real with real, and class agreement is the classifier's reading of its own training data;
every metric of that row, FID included, then scores train samples. The floors ignore the
class they are asked for (noise; the first class for every class).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .. import schemas
from ..components import Dataset, Generator
from ..config import RunConfig
from ..evaluation.score import evaluate_generator
from ..evaluation.select import scores_classes
from ..files import write_json
from ..registry import Registry
from ..train.build import build_dataset
from .suite import RunSpec

CEILING = "real data"
FLOORS = ("uniform noise", "one mode")
#: directory names of the references under ``OUT/references/DATASET/``
SLUGS = {CEILING: "real-data", "uniform noise": "uniform-noise", "one mode": "one-mode"}


class Sampler(Generator):
    """A "generator" that draws from a fixed distribution: ``z`` picks the sample."""

    def __init__(self, latent_dim: int, draw: Callable[[Tensor], Tensor], conditional: bool = False):
        super().__init__()
        self.latent_dim = latent_dim
        self.draw = draw
        #: asked for classes by a conditional evaluation, which it ignores
        self.conditional = conditional
        self.register_buffer("anchor", torch.zeros(0))  # gives the module a device

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.rand(n, self.latent_dim, generator=generator)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.draw(z)


class Bank(Sampler):
    """The rows of ``x`` in a random order, each once before any repeats (the order drawn
    from the evaluation's seeded noise): a sample count above ``len(x)`` cycles."""

    def __init__(self, x: Tensor, conditional: bool = False):
        super().__init__(1, lambda z: x[z[:, 0].long()], conditional)
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


class ClassBank(Sampler):
    """Labelled rows drawn by the class asked for: each row of a class once before any of
    that class repeats, in orders drawn from the evaluation's seeded noise."""

    def __init__(self, x: Tensor, y: Tensor, num_classes: int):
        super().__init__(1, lambda z: z, conditional=True)
        self.x = x
        self.rows = [torch.nonzero(y == c).flatten() for c in range(num_classes)]
        empty = [c for c, rows in enumerate(self.rows) if len(rows) == 0]
        if empty:
            raise ValueError(f"the labelled reference has no sample of class {empty[0]}")
        self.orders = [torch.zeros(0, dtype=torch.long) for _ in self.rows]
        self.at = [0] * len(self.rows)
        self.rng: torch.Generator | None = None

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if self.rng is None:  # the classes' orders come from the evaluation's noise
            self.rng = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        return torch.zeros(n, 1)

    def _take(self, c: int, k: int) -> Tensor:
        picked = []
        while k > 0:
            if self.at[c] == len(self.orders[c]):
                shuffled = torch.randperm(len(self.rows[c]), generator=self.rng)
                self.orders[c], self.at[c] = self.rows[c][shuffled], 0
            take = self.orders[c][self.at[c]:self.at[c] + k]
            self.at[c] += len(take)
            k -= len(take)
            picked.append(take)
        return torch.cat(picked)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None:
            raise ValueError("a labelled reference is asked for classes")
        y = y.cpu()
        idx = torch.empty(len(y), dtype=torch.long)
        for c in y.unique().tolist():
            where = torch.nonzero(y == c).flatten()
            idx[where] = self._take(c, len(where))
        return self.x[idx].to(z.device)


def references(dataset: Dataset, labelled: bool = False) -> dict[str, Sampler]:
    """The reference samplers that apply to ``dataset``, by name; with ``labelled`` (and
    labels), conditional ones: the real data by class from the train split (see the module)."""
    train, test = dataset.load("train"), dataset.load("test")
    labelled = labelled and bool(dataset.num_classes) and train.y is not None
    lo, hi = train.x.amin(0), train.x.amax(0)
    dim = lo.numel()
    ceiling = ClassBank(train.x, train.y, int(dataset.num_classes)) if labelled else Bank(test.x)
    out = {CEILING: ceiling,
           "uniform noise": Sampler(dim, lambda z: lo + z.view(-1, *lo.shape) * (hi - lo), labelled)}
    if dataset.centers is not None and dataset.mode_std is not None:
        center, std = dataset.centers[0], dataset.mode_std
        # z is uniform; the inverse normal CDF turns it into the mode's Gaussian
        normal = torch.distributions.Normal(0.0, 1.0)
        out["one mode"] = Sampler(dim, lambda z: center + std * normal.icdf(
            z.clamp(1e-7, 1 - 1e-7)).view(-1, *center.shape), labelled)
    elif test.y is not None:
        first = test.x[test.y == test.y.min()]
        out["one mode"] = Bank(first, labelled)
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
        # every metric of the suite, those an unconditional variant was not scored by too
        metrics = [*cfg.eval_metrics, *spec.not_scored]
        if not metrics:
            continue
        dataset = build_dataset(cfg, registry)
        labelled = scores_classes(registry, metrics)
        for seed in sorted(seeds[label]):
            # fresh samplers for every seed: a bank's order belongs to one evaluation
            for name, sampler in references(dataset, labelled).items():
                path = reference_dir(out, label, name, seed) / "eval.json"
                if path.exists():
                    continue
                result = evaluate_generator(sampler, dataset, registry, metrics=metrics,
                                            n_samples=cfg.eval_samples, seed=seed, device="cpu")
                write_json(path, {"reference": name, "dataset": label, "seed": seed, **result})


def read_references(out: Path, label: str) -> dict[str, dict[int, dict[str, Any]]]:
    """``{name: {seed: eval.json's metrics}}`` of one dataset's references."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for name, slug in SLUGS.items():
        for path in sorted((Path(out) / "references" / label / slug).glob("seed-*/eval.json")):
            try:
                data = schemas.read(path, schemas.Evaluation)
                seed = int(path.parent.name.removeprefix("seed-"))
            except (OSError, ValueError):
                continue  # scored again, as if never written
            found.setdefault(name, {})[seed] = data["metrics"]
    return found
