"""Building one run's components from its config: each once, in a fixed order."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch

from ..components import (
    Architecture,
    Dataset,
    DataSplit,
    Discriminator,
    Generator,
    Technique,
    describe_value,
    expect_tensor,
    implements,
)
from ..config import COMPONENT_FIELDS, RunConfig, limits_lifted
from ..errors import PluginFault, UsageError
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


def build_networks(arch: Architecture, shape: tuple[int, ...],
                   num_classes: int | None = None) -> tuple[Generator, Discriminator]:
    """``arch.build(shape)``, told the dataset's ``num_classes`` where its ``build`` takes them
    (a conditional architecture sizes its class embeddings by it); an architecture whose
    ``build(shape)`` takes no classes is called as before."""
    params = inspect.signature(arch.build).parameters
    if "num_classes" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return arch.build(shape, num_classes=num_classes)
    return arch.build(shape)


def generates_by_class(cfg: RunConfig, registry: Registry) -> bool | None:
    """Whether the run's generator is conditional (``G(z, y)``), read from its networks built
    on the meta device (nothing allocated, no weights drawn); None when they cannot be built
    there (the run itself then says why)."""
    try:
        dataset = build_dataset(cfg, registry)
        arch = registry.create("architecture", cfg.arch.name, cfg.arch.options)
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            g, _ = build_networks(arch, tuple(dataset.shape), dataset.num_classes)
    except Exception:  # noqa: BLE001 - any failure here is the run's to report
        return None
    return bool(getattr(g, "conditional", False))


def _out_of_memory(exc: RuntimeError) -> bool:
    """Whether a RuntimeError is torch's CPU allocator refusing an allocation."""
    return "can't allocate memory" in str(exc) or "not enough memory" in str(exc)


def build_dataset(cfg: RunConfig, registry: Registry) -> Dataset:
    return registry.create("dataset", cfg.dataset.name, cfg.dataset.options)


def run_parts(cfg: RunConfig, registry: Registry) -> list[tuple[str, str]]:
    """Every component a run builds, as (kind, name): what an exception raised in plugin code
    during the run is blamed on (``Registry.blame``). Metrics: the run's, else every one."""
    parts = [(kind, getattr(cfg, name).name) for name, kind in COMPONENT_FIELDS.items()]
    parts += [("regularizer", spec.name) for spec in cfg.regularizers]
    metrics = [ComponentSpec.parse(m, "metric").name for m in cfg.eval_metrics]
    return parts + [("metric", m) for m in metrics or registry.names("metric")]


def load_split(dataset: Dataset, split: str, name: str) -> DataSplit:
    """``dataset.load(split)``, checked: samples a float tensor ``[N, *shape]`` with N >= 1,
    labels None or N integers; a PluginFault naming the dataset otherwise."""
    data = dataset.load(split)
    what = f"load('{split}')"
    x = getattr(data, "x", None)
    if not isinstance(x, torch.Tensor):
        raise PluginFault("dataset", name, f"{what} returned {describe_value(data)}, not a DataSplit "
                          "whose x is a tensor")
    shape = tuple(dataset.shape)
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape or len(x) == 0:
        raise PluginFault("dataset", name, f"{what} returned samples of shape {tuple(x.shape)}, not "
                          f"[N, {', '.join(map(str, shape))}] with N >= 1 (its declared shape)")
    expect_tensor(x, "dataset", name, f"{what} (its samples)")
    y = getattr(data, "y", None)
    if y is not None and not (isinstance(y, torch.Tensor) and not y.is_floating_point()
                              and not y.is_complex() and tuple(y.shape) == (len(x),)):
        raise PluginFault("dataset", name, f"{what} returned labels {describe_value(y)}, not None or "
                          f"{len(x)} integers")
    return data


def _networks(built: Any, name: str) -> tuple[Generator, Discriminator]:
    """What ``Architecture.build`` returned, if it is (generator, discriminator) modules."""
    if not (isinstance(built, tuple) and len(built) == 2
            and all(isinstance(net, torch.nn.Module) for net in built)):
        raise PluginFault("architecture", name, f"build returned {describe_value(built)}, not "
                          "(generator, discriminator) modules")
    return built


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
    classes = dataset.num_classes
    _check_size(arch, cfg, shape, d_shape, classes)
    torch.manual_seed(cfg.seed)
    try:
        generator, discriminator = _networks(build_networks(arch, shape, classes), cfg.arch.name)
        if d_shape != shape:  # a technique feeds D something else (PacGAN's packed samples)
            discriminator = _networks(build_networks(arch, d_shape, classes), cfg.arch.name)[1]
        generator, discriminator = generator.to(device), discriminator.to(device)
    except ValueError as exc:
        raise UsageError(f"architecture '{cfg.arch.name}': {exc}") from None
    except (MemoryError, torch.OutOfMemoryError, RuntimeError) as exc:
        # torch's CPU allocator raises a RuntimeError where CUDA's raises OutOfMemoryError
        if isinstance(exc, RuntimeError) and not _out_of_memory(exc):
            raise
        raise UsageError(f"the networks do not fit in memory ({str(exc).splitlines()[0][:220]}); "
                         f"lower the sizes of architecture '{cfg.arch.name}' (--set arch.OPTION)") from None
    generator.prior = registry.create("prior", cfg.prior.name, cfg.prior.options)
    for _, tech in techniques:
        if implements(tech, "setup"):
            tech.setup(generator, discriminator)
    return BuiltRun(dataset, generator, discriminator, techniques)


#: parameters beyond which a typo (``arch.g_width=1000000000``) is refused before allocating
MAX_PARAMETERS = 1_000_000_000


def _check_size(arch: Any, cfg: RunConfig, shape: tuple[int, ...], d_shape: tuple[int, ...],
                num_classes: int | None = None) -> None:
    """Count the networks' parameters on the meta device (no memory) and refuse absurd sizes."""
    if limits_lifted():
        return
    try:
        with torch.device("meta"), torch.random.fork_rng(devices=[]):
            g, d = build_networks(arch, shape, num_classes)
            if d_shape != shape:
                d = build_networks(arch, d_shape, num_classes)[1]
    except Exception as exc:  # an architecture that cannot be built on the meta device: no estimate
        if "overflow" not in str(exc):
            return
        raise UsageError(f"architecture '{cfg.arch.name}' with {cfg.arch.options} has more parameters "
                         "than a tensor can index; lower its sizes (--set arch.OPTION)") from None
    count = sum(p.numel() for net in (g, d) for p in net.parameters())
    if count > MAX_PARAMETERS:
        raise UsageError(f"architecture '{cfg.arch.name}' with {cfg.arch.options} has {count:,} "
                         f"parameters (over {MAX_PARAMETERS:,}); lower its sizes (--set arch.OPTION), "
                         "or set GANAGERIE_NO_LIMITS=1 if you mean it")
    need, have = memory_needed(g, d, cfg.batch_size, d_shape, num_classes), memory_free(cfg.device)
    if have is not None and need > have:
        raise UsageError(f"a run of architecture '{cfg.arch.name}' at batch {cfg.batch_size:,} needs "
                         f"about {need / 2**30:,.1f} GiB (weights, gradients, two optimizer moments "
                         f"and one step's activations) and {cfg.device} has {have / 2**30:,.1f} GiB "
                         "free; lower batch_size or the architecture's sizes (--set arch.OPTION), or "
                         "set GANAGERIE_NO_LIMITS=1 if you mean it")


def memory_needed(g: Generator, d: Discriminator, batch: int, d_shape: tuple[int, ...],
                  num_classes: int | None) -> int:
    """Bytes one run holds at its peak, by formula over networks built on the meta device
    (nothing allocated): each parameter four times (weight, gradient, Adam's two moments),
    plus the outputs of every module in one forward of G at the batch size and two of D
    (real and fake), which backward keeps. An estimate to refuse the impossible before it is
    allocated, not a measurement: techniques' extra passes and the allocator's slack are not
    counted."""
    weights = sum(p.numel() * p.element_size() for net in (g, d) for p in net.parameters())
    kept = [0]

    def count(_module: torch.nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            kept[0] += output.numel() * output.element_size()

    hooks = [m.register_forward_hook(count) for net in (g, d) for m in net.modules()]
    try:
        with torch.device("meta"), torch.no_grad():
            y = torch.zeros(batch, dtype=torch.long) if num_classes else None
            z = torch.zeros(batch, g.latent_dim)
            g(*((z, y) if y is not None and g.conditional else (z,)))
            g_kept, kept[0] = kept[0], 0
            x = torch.zeros(batch, *d_shape)
            d(*((x, y) if y is not None and d.conditional else (x,)))
            d_kept = kept[0]
    except Exception:  # a network that cannot run on the meta device: its weights alone
        g_kept = d_kept = 0
    finally:
        for hook in hooks:
            hook.remove()
    return 4 * weights + g_kept + 2 * d_kept


def memory_free(device: str) -> int | None:
    """Bytes free on ``device`` for a run: CUDA's free memory, or the machine's available
    memory (``/proc/meminfo``'s MemAvailable) for the CPU; None where it cannot be read."""
    try:
        if device.startswith("cuda"):
            return torch.cuda.mem_get_info(torch.device(device))[0] if torch.cuda.is_available() else None
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, RuntimeError):
        return None
    return None


def build_optimizer(
    registry: Registry, spec: ComponentSpec, params: Any, lr: float, betas: tuple[float, float]
) -> torch.optim.Optimizer:
    optimizer = registry.create("optimizer", spec.name, spec.options)
    try:
        return optimizer.build(params, lr=lr, betas=tuple(betas))
    except ValueError as exc:
        raise UsageError(f"optimizer '{spec.name}': {exc}") from None
