"""Building one run's components from its config: each once, in a fixed order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..components import Dataset, Discriminator, Generator, Technique, implements
from ..config import RunConfig, limits_lifted
from ..errors import UsageError
from ..registry import ComponentSpec, Registry


@dataclass
class BuiltRun:
    """The dataset, the networks on their device, and the run's technique instances."""

    dataset: Dataset
    generator: Generator
    discriminator: Discriminator
    #: (name, instance) in the order of ``cfg.regularizers``; the only instances of the run
    techniques: list[tuple[str, Technique]]

    def sampling_generator(self) -> Generator:
        """The generator that samples: a technique's (the EMA's average), else the trained one."""
        for _, tech in self.techniques:
            if implements(tech, "sampling_generator"):
                net = tech.sampling_generator()
                if net is not None:
                    return net
        return self.generator

    def technique_state(self) -> dict[str, Any]:
        return {name: tech.state_dict() for name, tech in self.techniques
                if implements(tech, "state_dict")}

    def load_technique_state(self, state: dict[str, Any]) -> None:
        for name, tech in self.techniques:
            if implements(tech, "load_state_dict") and name in state:
                tech.load_state_dict(state[name])


def all_finite(*nets: torch.nn.Module) -> bool:
    """Whether every parameter of ``nets`` is finite (one host sync)."""
    return bool(torch.stack([p.isfinite().all() for net in nets for p in net.parameters()]).all())


def build_dataset(cfg: RunConfig, registry: Registry) -> Dataset:
    return registry.create("dataset", cfg.dataset.name, cfg.dataset.options)


def build_run(
    cfg: RunConfig, registry: Registry, device: torch.device | str = "cpu",
    dataset: Dataset | None = None,
) -> BuiltRun:
    """Seeded networks on ``device`` with the run's prior, then every technique built once
    and set up on them (before any optimizer exists)."""
    dataset = dataset or build_dataset(cfg, registry)
    techniques = [(spec.name, registry.create("regularizer", spec.name, spec.options))
                  for spec in cfg.regularizers]
    shape = d_shape = tuple(dataset.shape)
    for name, tech in techniques:
        if implements(tech, "discriminator_shape"):
            try:
                d_shape = tuple(tech.discriminator_shape(d_shape))
            except ValueError as exc:  # e.g. an image-only technique on vector data
                raise UsageError(f"regularizer '{name}': {exc}") from None
    arch = registry.create("architecture", cfg.arch.name, cfg.arch.options)
    _check_size(arch, cfg, shape, d_shape)
    torch.manual_seed(cfg.seed)
    try:
        generator, discriminator = arch.build(shape)
        if d_shape != shape:  # a technique feeds D something else (PacGAN's packed samples)
            discriminator = arch.build(d_shape)[1]
        generator, discriminator = generator.to(device), discriminator.to(device)
    except ValueError as exc:
        raise UsageError(f"architecture '{cfg.arch.name}': {exc}") from None
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise UsageError(f"the networks do not fit in memory ({str(exc).splitlines()[0][:120]}); "
                         f"lower the sizes of architecture '{cfg.arch.name}' (--set arch.OPTION)") from None
    generator.prior = registry.create("prior", cfg.prior.name, cfg.prior.options)
    for _, tech in techniques:
        if implements(tech, "setup"):
            tech.setup(generator, discriminator)
    return BuiltRun(dataset, generator, discriminator, techniques)


#: parameters beyond which a typo (``arch.g_width=1000000000``) is refused before allocating
MAX_PARAMETERS = 1_000_000_000


def _check_size(arch: Any, cfg: RunConfig, shape: tuple[int, ...], d_shape: tuple[int, ...]) -> None:
    """Count the networks' parameters on the meta device (no memory) and refuse absurd sizes."""
    if limits_lifted():
        return
    try:
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            g, d = arch.build(shape)
            if d_shape != shape:
                d = arch.build(d_shape)[1]
    except Exception:  # an architecture that cannot be built on the meta device: no estimate
        return
    count = sum(p.numel() for net in (g, d) for p in net.parameters())
    if count > MAX_PARAMETERS:
        raise UsageError(f"architecture '{cfg.arch.name}' with {cfg.arch.options} has {count:,} "
                         f"parameters (over {MAX_PARAMETERS:,}); lower its sizes (--set arch.OPTION), "
                         "or set GANAGERIE_NO_LIMITS=1 if you mean it")


def build_optimizer(
    registry: Registry, spec: ComponentSpec, params: Any, lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    optimizer = registry.create("optimizer", spec.name, spec.options)
    try:
        return optimizer.build(params, lr=lr, betas=tuple(betas))
    except ValueError as exc:
        raise UsageError(f"optimizer '{spec.name}': {exc}") from None
