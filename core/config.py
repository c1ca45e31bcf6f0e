"""RunConfig: the plain, fully resolved, JSON-able description of one training run.

Resolution order, later wins: defaults, the variant preset, explicit flags
(``--loss``, ``--reg``, ``--arch``, ``--steps``...), then ``--set key=value``.
Every component's options are filled with their defaults, so ``config.json``
alone reproduces the run.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UsageError, did_you_mean
from .registry import Registry
from .values import coerce_like, parse_assignments, parse_value


@dataclass
class Component:
    """A component by registered name, with its options."""

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | Component, what: str) -> Component:
        """Accept ``"name"``, ``"name:key=value,..."``, ``{"name":..., "options":...}``."""
        if isinstance(spec, Component):
            return cls(spec.name, dict(spec.options))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "options"}
            if "name" not in spec or unknown:
                raise UsageError(f"bad {what} {dict(spec)!r}; write {{'name': ..., 'options': {{}}}}")
            return cls(str(spec["name"]), dict(spec.get("options") or {}))
        if not isinstance(spec, str) or not spec.strip():
            raise UsageError(f"bad {what} {spec!r}; write NAME or NAME:key=value,...")
        name, _, opts = spec.partition(":")
        return cls(name.strip(), parse_assignments(opts, f"{what} '{spec}'"))


@dataclass
class RunConfig:
    """Everything that determines a run. Written to ``config.json`` before step 1."""

    dataset: Component
    loss: Component
    arch: Component
    regularizers: list[Component] = field(default_factory=list)
    variant: str | None = None
    steps: int = 2000
    batch_size: int = 64
    n_critic: int = 1
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas_g: tuple[float, float] = (0.5, 0.999)
    betas_d: tuple[float, float] = (0.5, 0.999)
    #: weight of the loss's generator side; 0 leaves the generator to its regularizers
    loss_g_weight: float = 1.0
    #: decay of the generator's exponential moving average; 0 disables it
    ema_decay: float = 0.0
    seed: int = 0
    device: str = "cpu"
    log_every: int = 50
    checkpoint_every: int = 500
    sample_every: int = 0
    #: samples in the fixed evaluation noise for pictures; 0 picks 64 images or 1000 points
    n_samples: int = 0
    #: score the generator with the metrics every N steps and at the end; 0 never
    eval_every: int = 0
    #: metric specs for evaluations; resolved to the metrics that apply to the dataset
    eval_metrics: list[str] = field(default_factory=list)
    #: generated samples per evaluation; resolved to the largest the metrics call for
    eval_samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            hint = did_you_mean(unknown[0], known)
            raise UsageError(f"unknown config field '{unknown[0]}';{hint or ''} (fields: "
                             f"{', '.join(sorted(known))})")
        kwargs = dict(data)
        for key in ("dataset", "loss", "arch"):
            if key not in kwargs:
                raise UsageError(f"config is missing '{key}'")
            kwargs[key] = Component.parse(kwargs[key], key)
        kwargs["regularizers"] = [
            Component.parse(r, "regularizer") for r in kwargs.get("regularizers") or []
        ]
        kwargs["eval_metrics"] = _metric_specs(kwargs.get("eval_metrics"))
        cfg = cls(**kwargs)
        _coerce_scalars(cfg)
        return cfg


SCALAR_FIELDS = {
    f.name: f.default
    for f in dataclasses.fields(RunConfig)
    if f.default is not dataclasses.MISSING and f.name != "variant"
}
COMPONENT_FIELDS = ("dataset", "loss", "arch")


def _coerce_scalars(cfg: RunConfig) -> None:
    for name, default in SCALAR_FIELDS.items():
        try:
            value = coerce_like(getattr(cfg, name), default)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        setattr(cfg, name, tuple(value) if isinstance(default, tuple) else value)
    checks = [
        ("steps", cfg.steps >= 1, "at least 1"),
        ("batch_size", cfg.batch_size >= 1, "at least 1"),
        ("n_critic", cfg.n_critic >= 1, "at least 1"),
        ("lr_g", cfg.lr_g > 0, "positive"),
        ("lr_d", cfg.lr_d > 0, "positive"),
        ("betas_g", all(0 <= b < 1 for b in cfg.betas_g), "two numbers in [0, 1)"),
        ("betas_d", all(0 <= b < 1 for b in cfg.betas_d), "two numbers in [0, 1)"),
        ("ema_decay", 0 <= cfg.ema_decay < 1, "in [0, 1)"),
        ("log_every", cfg.log_every >= 1, "at least 1"),
        ("checkpoint_every", cfg.checkpoint_every >= 1, "at least 1"),
        ("sample_every", cfg.sample_every >= 0, "0 (only at the end) or more"),
        ("n_samples", cfg.n_samples >= 0, "0 (automatic) or more"),
        ("seed", cfg.seed >= 0, "0 or more"),
        ("eval_every", cfg.eval_every >= 0, "0 (never) or more"),
        ("eval_samples", cfg.eval_samples >= 0, "0 (automatic) or more"),
    ]
    for name, ok, must in checks:
        if not ok:
            raise UsageError(f"{name} must be {must}, got {getattr(cfg, name)!r}")
    if cfg.device not in ("cpu", "cuda") and not cfg.device.startswith("cuda:"):
        raise UsageError(f"device must be cpu, cuda, cuda:N or auto, got {cfg.device!r}")


def _apply_set(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``--set key=value``: a run field, or ``arch.width=...``, ``reg.NAME.key=...``."""
    key, eq, raw = assignment.partition("=")
    key = key.strip()
    if not eq or not key:
        raise UsageError(f"bad --set '{assignment}'; write key=value, e.g. --set lr_d=1e-4")
    value = parse_value(raw.strip())
    parts = key.split(".")
    if parts[0] in COMPONENT_FIELDS and len(parts) == 2:
        data[parts[0]].options[parts[1]] = value
    elif parts[0] in ("reg", "regularizers") and len(parts) == 3:
        for reg in data["regularizers"]:
            if reg.name == parts[1]:
                reg.options[parts[2]] = value
                return
        active = ", ".join(r.name for r in data["regularizers"]) or "none"
        raise UsageError(f"--set {key}: regularizer '{parts[1]}' is not in this run "
                         f"(active: {active}); add it with --reg {parts[1]}")
    elif len(parts) == 1 and (parts[0] in SCALAR_FIELDS or parts[0] == "eval_metrics"):
        data[parts[0]] = value
    else:
        fields = sorted(SCALAR_FIELDS)
        hint = did_you_mean(key, fields)
        raise UsageError(
            f"--set: unknown key '{key}';{hint or ''} use a run field ({', '.join(fields)}), "
            "COMPONENT.OPTION (dataset., loss., arch.) or reg.NAME.OPTION"
        )


def resolve_config(
    registry: Registry,
    *,
    dataset: str,
    variant: str | None = "vanilla",
    loss: str | None = None,
    arch: str | None = None,
    regularizers: Iterable[str] = (),
    overrides: Mapping[str, Any] | None = None,
    sets: Iterable[str] = (),
    dataset_options: Mapping[str, Any] | None = None,
) -> RunConfig:
    """Build the fully resolved config from a variant and the user's flags."""
    data: dict[str, Any] = {"regularizers": []}
    if variant is not None:
        preset = registry.create("variant", variant)
        if not isinstance(preset, Mapping):
            raise UsageError(f"variant '{variant}' did not return a dict of config fields")
        data.update(_normalise_preset(variant, preset))
        data["variant"] = variant
    data["dataset"] = Component.parse(dataset, "dataset")
    data["dataset"].options.update(dataset_options or {})
    if loss is not None:
        data["loss"] = Component.parse(loss, "loss")
    data.setdefault("loss", Component("non-saturating"))
    for spec in regularizers:
        if spec.strip().lower() == "none":
            data["regularizers"] = []
            continue
        reg = Component.parse(spec, "regularizer")
        for existing in data["regularizers"]:
            if existing.name == reg.name:
                existing.options.update(reg.options)
                break
        else:
            data["regularizers"].append(reg)
    if arch is not None:
        data["arch"] = Component.parse(arch, "architecture")
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    for assignment in sets:
        data.setdefault("arch", Component(""))
        _apply_set(data, assignment)
    return finalize(registry, data)


def _normalise_preset(variant: str, preset: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in preset.items():
        if key in COMPONENT_FIELDS:
            out[key] = Component.parse(value, key)
        elif key == "regularizers":
            out[key] = [Component.parse(r, "regularizer") for r in value]
        elif key in SCALAR_FIELDS:
            out[key] = value
        else:
            raise UsageError(f"variant '{variant}' sets unknown field '{key}'")
    return out


def finalize(registry: Registry, data: Mapping[str, Any]) -> RunConfig:
    """Check every name and option, fill defaults, pick the architecture, resolve the device."""
    data = dict(data)
    ds_entry = registry.get("dataset", data["dataset"].name)
    data["dataset"] = _fill(registry, "dataset", data["dataset"])
    dataset = registry.create("dataset", ds_entry.name, data["dataset"].options)
    is_image = len(dataset.shape) == 3
    arch = data.get("arch")
    if arch is None or not arch.name:
        data["arch"] = Component("dcgan" if is_image else "mlp", arch.options if arch else {})
    if not data.get("n_samples"):
        data["n_samples"] = 64 if is_image else 1000
    from .evaluate import resolve_eval  # evaluate builds on this module

    data["eval_metrics"], data["eval_samples"] = resolve_eval(
        registry, dataset, _metric_specs(data.get("eval_metrics")), data.get("eval_samples") or None)
    if data.get("eval_every") and not data["eval_metrics"]:
        raise UsageError("--eval-every: no registered metric applies to this dataset "
                         "(ganagerie list metrics)")
    data["arch"] = _fill(registry, "architecture", data["arch"])
    data["loss"] = _fill(registry, "loss", data["loss"])
    data["regularizers"] = [_fill(registry, "regularizer", r) for r in data["regularizers"]]
    if data.get("device") == "auto":
        import torch

        data["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    return RunConfig.from_dict({k: v for k, v in data.items()})


def _metric_specs(value: Any) -> list[str]:
    """Metric specs from a list or a comma-separated string of names."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"eval_metrics must be metric names, e.g. fid,kid; got {value!r}")
    return [v.strip() for v in value if v.strip()]


def _fill(registry: Registry, kind: str, comp: Component) -> Component:
    entry = registry.get(kind, comp.name)
    checked = registry.check_options(entry, comp.options)
    defaults = {k: v for k, v in entry.options().items() if v is not inspect.Parameter.empty}
    return Component(comp.name, {**defaults, **checked})


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"no config at {path}; pass a run directory or its config.json") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not valid JSON ({exc}); restore it from the run") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path} does not hold a run config")
    return RunConfig.from_dict(data)
