"""RunConfig: the plain, fully resolved, JSON-able description of one training run.

Resolution order, later wins: defaults, the variant preset, explicit flags
(``--loss``, ``--reg``, ``--arch``, ``--steps``...), then ``--set key=value``.
Every component's options are filled with their defaults, so ``config.json``
alone reproduces the run.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schemas
from .errors import UsageError, did_you_mean
from .evaluation.select import resolve_eval
from .registry import ComponentSpec, Registry, check_name
from .values import coerce_like, parse_value


@dataclass
class RunConfig:
    """Everything that determines a run. Written to ``config.json`` before step 1."""

    dataset: ComponentSpec
    loss: ComponentSpec
    arch: ComponentSpec
    #: techniques (``--reg``), one instance each per run, applied in this order
    regularizers: list[ComponentSpec] = field(default_factory=list)
    prior: ComponentSpec = field(default_factory=lambda: ComponentSpec(DEFAULT_PRIOR))
    optimizer_g: ComponentSpec = field(default_factory=lambda: ComponentSpec(DEFAULT_OPTIMIZER))
    optimizer_d: ComponentSpec = field(default_factory=lambda: ComponentSpec(DEFAULT_OPTIMIZER))
    #: each side's learning-rate schedule: the factor its lr is multiplied by at each step (a
    #: config written before the fields reads as constant, what it trained with)
    schedule_g: ComponentSpec = field(default_factory=lambda: ComponentSpec(DEFAULT_SCHEDULE))
    schedule_d: ComponentSpec = field(default_factory=lambda: ComponentSpec(DEFAULT_SCHEDULE))
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
    #: "alternating": n_critic D updates, then G on fresh noise; "simultaneous": D and G from
    #: one real batch and one noise draw, G's gradient taken before D moves (PacGAN's code)
    update: str = "alternating"
    #: G's batch-norm running statistics: "every-forward" (PyTorch's train mode: also when D's
    #: update draws fakes) or "own-update" (only in G's update, as PacGAN's code)
    generator_stats: str = "every-forward"
    #: draw the training data from the run's seed (datasets with a ``seed`` option; PacGAN
    #: draws new data for every trial) instead of the dataset's own seed
    data_per_seed: bool = False
    seed: int = 0
    device: str = "cpu"
    #: torch CPU threads (results on a CPU depend on it); 1 unless set: small models gain little
    #: from more, and a busy machine loses much (oversubscription)
    threads: int = 1
    #: torch.compile G's and D's forwards (slower than eager on small models on a CPU:
    #: benchmarks/speed_flags.py measures it per device)
    compile: bool = False
    #: "fp32", or "bf16": the step's forwards under bfloat16 autocast (weights, optimizer
    #: state and evaluation stay fp32)
    precision: str = "fp32"
    log_every: int = 50
    #: the training-health diagnostics (``diag/*``) are measured every N steps and on the last
    #: step of each log window (``ganagerie.train.step``); 1 measures every step. A config
    #: written before the field (ganagerie 0.2) reads as 1, what it measured
    diag_every: int = 10
    checkpoint_every: int = 500
    sample_every: int = 0
    #: samples in the pictures of ``samples/``; 0 picks 64 images or 1000 points
    n_preview: int = 0
    #: score the generator with the metrics every N steps and at the end; 0 never
    eval_every: int = 0
    #: metric specs for evaluations; resolved to the metrics that apply to the dataset
    eval_metrics: list[str] = field(default_factory=list)
    #: generated samples per evaluation; resolved to the largest the metrics call for
    eval_samples: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, written: bool = True) -> RunConfig:
        """A config from its fields: ``written`` ones (a config.json, a suite's recorded runs)
        are read as the version that wrote them meant them; the rest take their defaults."""
        data = _migrate(data, written)
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
        for key in COMPONENT_FIELDS:
            if key in kwargs:
                kwargs[key] = ComponentSpec.parse(kwargs[key], key)
        regs = kwargs.get("regularizers") or []
        if not isinstance(regs, list):
            raise UsageError(f"regularizers must be a list, got {regs!r}")
        kwargs["regularizers"] = [ComponentSpec.parse(r, "regularizer") for r in regs]
        kwargs["eval_metrics"] = _metric_specs(kwargs.get("eval_metrics"))
        cfg = cls(**kwargs)
        _coerce_scalars(cfg)
        return cfg


#: sanity limits on sizes a typo could blow up (10^23 steps); GANAGERIE_NO_LIMITS=1 lifts them
#: the largest float32: a learning rate or weight above it overflows in the step's tensors
FLOAT32_MAX = 3.4028234663852886e38
MAX_STEPS = 100_000_000
MAX_BATCH = 1_000_000
MAX_SAMPLES = 1_000_000
MAX_PREVIEW = 10_000
MAX_SEED = 2**63 - 1
MAX_INT = 2**63 - 1
LIFT = "GANAGERIE_NO_LIMITS=1"
_DEVICE = re.compile(r"^(cpu|cuda|cuda:[0-9]{1,3})$")
DEFAULT_PRIOR = "normal"
DEFAULT_OPTIMIZER = "adam"
DEFAULT_SCHEDULE = "constant"
SCALAR_FIELDS = {
    f.name: f.default
    for f in dataclasses.fields(RunConfig)
    if f.default is not dataclasses.MISSING and f.name != "variant"
}
#: run fields that name one component, with the registry kind of each
COMPONENT_FIELDS = {"dataset": "dataset", "loss": "loss", "arch": "architecture",
                    "prior": "prior", "optimizer_g": "optimizer", "optimizer_d": "optimizer",
                    "schedule_g": "schedule", "schedule_d": "schedule"}
#: fields a variant preset may set: every run field but the dataset, the seed, and how this
#: machine runs it (device, threads, compile, precision)
PRESET_FIELDS = sorted({*COMPONENT_FIELDS, "regularizers", *SCALAR_FIELDS}
                       - {"dataset", "seed", "device", "threads", "compile", "precision"})
#: values of the ``precision`` field
PRECISIONS = ("fp32", "bf16")
MIGRATION = "docs/plugins.md#migrating-from-ganagerie-01"


def _migrate(data: Mapping[str, Any], written: bool = True) -> dict[str, Any]:
    """Read a config.json written by an earlier ganagerie (0.1: renamed fields, EMA became a
    technique; 0.2: no ``diag_every``)."""
    if not isinstance(data, Mapping):
        raise UsageError("a run config must be a JSON object")
    data = dict(data)
    if ("n_samples" in data or "ema_decay" in data) and isinstance(data.get("dataset"), Mapping):
        # 0.1 recorded where data lives; that now comes only from the command line or environment
        options = data["dataset"].get("options")
        if isinstance(options, Mapping):
            data["dataset"] = {**data["dataset"], "options": {
                k: v for k, v in options.items() if k not in ("root", "download")}}
    if written and "diag_every" not in data:
        data["diag_every"] = 1  # written before the field: 0.2 measured the diagnostics every step
    if "n_samples" in data and "n_preview" not in data:
        data["n_preview"] = data.pop("n_samples")
    if "ema_decay" in data:
        decay = data.pop("ema_decay")
        if decay:
            raise UsageError(f"config field ema_decay={decay} is now a technique: use "
                             f"--reg ema:decay={decay} ({MIGRATION})")
    return data


def _coerce_scalars(cfg: RunConfig) -> None:
    for name, default in SCALAR_FIELDS.items():
        try:
            value = coerce_like(getattr(cfg, name), default)
        except ValueError as exc:
            raise UsageError(f"{name}: {exc}") from None
        setattr(cfg, name, tuple(value) if isinstance(default, tuple) else value)
    big = limits_lifted()
    checks = [
        ("steps", 1 <= cfg.steps <= (MAX_INT if big else MAX_STEPS),
         f"between 1 and {MAX_STEPS:,} ({LIFT} for more)"),
        ("batch_size", 1 <= cfg.batch_size <= (MAX_INT if big else MAX_BATCH),
         f"between 1 and {MAX_BATCH:,} ({LIFT} for more)"),
        ("n_critic", 1 <= cfg.n_critic <= 1000, "between 1 and 1000"),
        ("lr_g", 0 < cfg.lr_g <= FLOAT32_MAX, "positive and finite in float32 (at most 3.4e38)"),
        ("lr_d", 0 < cfg.lr_d <= FLOAT32_MAX, "positive and finite in float32 (at most 3.4e38)"),
        ("betas_g", all(0 <= b < 1 for b in cfg.betas_g), "two numbers in [0, 1)"),
        ("betas_d", all(0 <= b < 1 for b in cfg.betas_d), "two numbers in [0, 1)"),
        ("log_every", cfg.log_every >= 1, "at least 1"),
        ("diag_every", 1 <= cfg.diag_every <= MAX_INT, "at least 1 (1: every step)"),
        ("checkpoint_every", cfg.checkpoint_every >= 1, "at least 1"),
        ("sample_every", cfg.sample_every >= 0, "0 (only at the end) or more"),
        ("n_preview", 0 <= cfg.n_preview <= MAX_PREVIEW, f"0 (automatic) to {MAX_PREVIEW:,}"),
        ("seed", 0 <= cfg.seed <= MAX_SEED, "an integer from 0 to 2^63 - 1"),
        ("eval_every", cfg.eval_every >= 0, "0 (never) or more"),
        ("eval_samples", 0 <= cfg.eval_samples <= (MAX_INT if big else MAX_SAMPLES),
         f"0 (automatic) to {MAX_SAMPLES:,} ({LIFT} for more)"),
        ("loss_g_weight", 0 <= cfg.loss_g_weight <= FLOAT32_MAX, "0 or more, finite in float32"),
        ("threads", 1 <= cfg.threads <= 1024, "between 1 and 1024"),
        ("update", cfg.update in ("alternating", "simultaneous"), "alternating or simultaneous"),
        ("update", cfg.update == "alternating" or cfg.n_critic == 1,
         "alternating when n_critic > 1 (a simultaneous step has one D update)"),
        ("generator_stats", cfg.generator_stats in ("every-forward", "own-update"),
         "every-forward or own-update"),
        ("precision", cfg.precision in PRECISIONS, " or ".join(PRECISIONS)),
    ]
    for name, ok, must in checks:
        if not ok:
            raise UsageError(f"{name} must be {must}, got {getattr(cfg, name)!r}")
    if cfg.variant is not None:  # it names the default run directory
        check_name(cfg.variant, "variant")
    if not _DEVICE.match(cfg.device):  # whether this machine has it is checked where it is used
        raise UsageError(f"device must be cpu, cuda, cuda:N or auto, got {cfg.device!r}")


def check_device(device: str) -> None:
    """``cpu``, ``cuda`` or ``cuda:N`` with a GPU N this machine has; one line otherwise."""
    if not _DEVICE.match(device):
        raise UsageError(f"device must be cpu, cuda, cuda:N or auto, got {device!r}")
    if device.startswith("cuda"):
        import torch  # here, not at the top: listing suites needs this module, not torch

        if not torch.cuda.is_available():
            raise UsageError(f"device {device} was asked for but no GPU is available; use --device cpu")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise UsageError(f"device {device}: this machine has {torch.cuda.device_count()} GPU(s); "
                             f"use cuda:0 to cuda:{torch.cuda.device_count() - 1}")


def limits_lifted() -> bool:
    """Whether the user lifted the sanity limits (``GANAGERIE_NO_LIMITS=1``)."""
    return os.environ.get("GANAGERIE_NO_LIMITS", "") not in ("", "0")


def _apply_set(data: dict[str, Any], assignment: str, registry: Registry,
               within: str | None = None) -> None:
    """Apply one ``--set key=value``: a run field, or ``arch.width=...``, ``reg.NAME.key=...``."""
    key, eq, raw = assignment.partition("=")
    key = key.strip()
    if not eq or not key:
        raise UsageError(f"bad --set '{assignment}'; write key=value, e.g. --set lr_d=1e-4")
    value = parse_value(raw.strip())
    parts = key.split(".")
    if parts[0] in COMPONENT_FIELDS and len(parts) == 1:
        # NAME[:k=v,...] as typed, or a JSON string (suite files write their values as JSON)
        data[key] = _canonical(registry, COMPONENT_FIELDS[key], ComponentSpec.parse(
            value if isinstance(value, str) else raw.strip(), key), within)
    elif parts[0] in COMPONENT_FIELDS and len(parts) == 2:
        data.setdefault(parts[0], ComponentSpec(_DEFAULTS.get(parts[0], "")))
        data[parts[0]].options[parts[1]] = value
    elif parts[0] in ("reg", "regularizers") and len(parts) == 3:
        name = registry.canonical("regularizer", parts[1], within)
        for reg in data["regularizers"]:
            if reg.name == name:
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
            f"a component ({', '.join(COMPONENT_FIELDS)}) or its option (arch.g_width=64), "
            "or reg.NAME.OPTION"
        )


#: the registered name each defaulted component field starts from
_DEFAULTS = {f.name: f.default_factory().name for f in dataclasses.fields(RunConfig)
             if f.name in COMPONENT_FIELDS and f.default_factory is not dataclasses.MISSING}


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
    within: str | None = None,
) -> RunConfig:
    """Build the fully resolved config from a variant and the user's flags.

    Every component is recorded under its one canonical spelling (``Registry.canonical``), so
    ``dragan`` and ``DIST:dragan`` give one config. The names a preset sets mean its own
    distribution's components first; ``within`` does the same for the caller's names (a suite
    shipped by a distribution passes that distribution).
    """
    data: dict[str, Any] = {"regularizers": []}
    if variant is not None:
        entry = registry.get("variant", variant, within)
        variant = registry.canonical("variant", variant, within)
        preset = registry.create("variant", variant)
        if not isinstance(preset, Mapping):
            raise UsageError(f"variant '{variant}' did not return a dict of config fields")
        data.update(_normalise_preset(variant, preset, registry, entry.provenance.qualifier))
        data["variant"] = variant
    data["dataset"] = _canonical(registry, "dataset", ComponentSpec.parse(dataset, "dataset"), within)
    data["dataset"].options.update(dataset_options or {})
    if loss is not None:
        data["loss"] = _canonical(registry, "loss", ComponentSpec.parse(loss, "loss"), within)
    if "loss" not in data:
        raise UsageError("no loss: give --loss NAME or a --variant that sets one (ganagerie list losses)")
    for spec in regularizers:
        if spec.strip().lower() == "none":
            data["regularizers"] = []
            continue
        reg = _canonical(registry, "regularizer", ComponentSpec.parse(spec, "regularizer"), within)
        for existing in data["regularizers"]:
            if existing.name == reg.name:
                existing.options.update(reg.options)
                break
        else:
            data["regularizers"].append(reg)
    if arch is not None:
        data["arch"] = _canonical(registry, "architecture",
                                  ComponentSpec.parse(arch, "architecture"), within)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    for assignment in sets:
        data.setdefault("arch", ComponentSpec(""))
        _apply_set(data, assignment, registry, within)
    return finalize(registry, data)


def _canonical(registry: Registry, kind: str, spec: ComponentSpec,
               within: str | None = None) -> ComponentSpec:
    """``spec`` under its component's canonical name (an empty name, "pick one", stays)."""
    if not spec.name:
        return spec
    return ComponentSpec(registry.canonical(kind, spec.name, within), spec.options)


def _normalise_preset(variant: str, preset: Mapping[str, Any], registry: Registry,
                      within: str) -> dict[str, Any]:
    out = {}
    for key, value in preset.items():
        if key not in PRESET_FIELDS:
            hint = did_you_mean(str(key), PRESET_FIELDS) or ""
            raise UsageError(f"variant '{variant}' sets unknown field '{key}';{hint} a preset may "
                             f"set {', '.join(PRESET_FIELDS)}")
        try:
            if key in COMPONENT_FIELDS:
                out[key] = _canonical(registry, COMPONENT_FIELDS[key],
                                      ComponentSpec.parse(value, key), within)
            elif key == "regularizers":
                if not isinstance(value, list):
                    raise UsageError("regularizers must be a list")
                out[key] = [_canonical(registry, "regularizer",
                                       ComponentSpec.parse(r, "regularizer"), within) for r in value]
            else:
                out[key] = value
        except UsageError as exc:
            raise UsageError(f"variant '{variant}': {exc}") from None
    return out


def finalize(registry: Registry, data: Mapping[str, Any]) -> RunConfig:
    """Check every name and option, fill defaults, pick the architecture, resolve the device."""
    data = dict(data)
    ds_entry = registry.get("dataset", data["dataset"].name)
    data["dataset"] = _fill(registry, "dataset", data["dataset"])
    try:
        per_seed = coerce_like(data.get("data_per_seed", False), False)
        run_seed = coerce_like(data.get("seed", 0), 0)
    except ValueError as exc:
        raise UsageError(f"data_per_seed or seed: {exc}") from None
    if per_seed and "seed" in ds_entry.options():  # the data of this run, drawn from its seed
        data["dataset"].options["seed"] = run_seed
    dataset = registry.create("dataset", data["dataset"].name, data["dataset"].options)
    is_image = len(dataset.shape) == 3
    arch = data.get("arch")
    if arch is None or not arch.name:
        data["arch"] = ComponentSpec("dcgan" if is_image else "mlp", arch.options if arch else {})
    if not data.get("n_preview"):
        data["n_preview"] = 64 if is_image else 1000
    try:
        eval_samples = coerce_like(data.get("eval_samples") or 0, 0)
    except ValueError as exc:
        raise UsageError(f"eval_samples: {exc}") from None
    data["eval_metrics"], data["eval_samples"] = resolve_eval(
        registry, dataset, _metric_specs(data.get("eval_metrics")), eval_samples or None)
    if data.get("eval_every") and not data["eval_metrics"]:
        raise UsageError("--eval-every: no registered metric applies to this dataset "
                         "(ganagerie list metrics)")
    for key, kind in COMPONENT_FIELDS.items():
        if key != "dataset":
            data[key] = _fill(registry, kind, data.get(key) or ComponentSpec(_DEFAULTS[key]))
    data["regularizers"] = [_fill(registry, "regularizer", r) for r in data["regularizers"]]
    names = [r.name for r in data["regularizers"]]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"technique '{twice[0]}' is given twice; give each once with all its options")
    if data.get("device") == "auto":
        import torch

        data["device"] = "cuda" if torch.cuda.is_available() else "cpu"
    return RunConfig.from_dict({k: v for k, v in data.items()}, written=False)


def _metric_specs(value: Any) -> list[str]:
    """Metric specs from a list or a comma-separated string of names."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"eval_metrics must be metric names, e.g. fid,kid; got {value!r}")
    return [v.strip() for v in value if v.strip()]


def _fill(registry: Registry, kind: str, comp: ComponentSpec) -> ComponentSpec:
    entry = registry.get(kind, comp.name)
    checked = registry.check_options(entry, comp.options)
    defaults = {k: v for k, v in entry.options().items() if v is not inspect.Parameter.empty}
    return ComponentSpec(registry.canonical(kind, comp.name), {**defaults, **checked})


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give a config.json file (e.g. {path / 'config.json'})")
    try:
        data = schemas.read(path, schemas.Config)
    except FileNotFoundError:
        raise UsageError(f"no config at {path}; pass a run directory or its config.json") from None
    except ValueError as exc:  # not JSON, or not an object of fields (schemas.Config)
        raise UsageError(f"{str(exc)[:600]}; restore it from the run") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path} ({exc.strerror}); give a readable config.json") from None
    return RunConfig.from_dict(data)
