"""The conformance kit: one call checks a registered component against its contract.

    from ganagerie.testing import check_component
    check_component("regularizer", "my-penalty")          # raises ConformanceError on failure

or, over everything a registry holds, as a pytest parametrization::

    @pytest.mark.parametrize("kind,name", components())
    def test_conforms(kind, name):
        check_component(kind, name)

Checks, by kind (each applies only where the component implements the method):
shapes and dtypes of outputs, finite values, gradients where they must flow and nowhere
else, device placement (on a GPU when there is one), determinism under a seed, the state
round trip through ``state_dict`` and ``torch.load(weights_only=True)``, a few
training steps through the real trainer (optimizers too, on both sides), stopped and resumed
to the same weights at a step that is a multiple of no period the run's techniques declare,
3 seeds trained together equal to the same seeds trained one by one, and (on CUDA) no host
synchronisation inside a step.
Training checks run on tiny networks on ``ring8`` (vector data) and fall back to
``digits`` (8x8 images) for components that apply only to images.
"""

from __future__ import annotations

import inspect
import io
import math
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import components as contracts
from .bench.stats import range_bounds
from .components import DStep, GStep, Technique, generator_loss, implements
from .config import RunConfig, resolve_config
from .errors import UsageError
from .files import read_jsonl
from .hookspecs import EXTENSION_POINTS
from .plugin_loader import get_registry
from .registry import KINDS, Registry
from .train.batched import train_seeds, why_not
from .train.build import build_networks, build_run
from .train.checkpoint import read_checkpoint, save_checkpoint
from .train.rundir import RunDir
from .train.step import _net_call, measures_diagnostics
from .train.trainer import Trainer, prepare, train

#: tiny runs on the built-in test beds: (dataset, run settings, settings of the default
#: architecture); the first bed the component fits is used
TEST_BEDS = (
    ("ring8", ["dataset.n=512", "batch_size=32"],
     ["arch.g_width=16", "arch.d_width=16", "arch.g_depth=2", "arch.d_depth=2"]),
    ("digits", ["batch_size=32"], ["arch.width=4", "arch.latent_dim=8"]),
    # conditional networks with class heads, for techniques that need them (ACGAN's, D2D-CE):
    # ring8's labels are its mixture components
    ("ring8", ["dataset.n=512", "batch_size=32"],
     ["arch.g_width=16", "arch.d_width=16", "arch.g_depth=2", "arch.d_depth=2",
      "arch.conditional=true", "arch.aux_classifier=true"]),
)
STEPS = 4
#: seeds trained together against one by one
SEEDS_TOGETHER = 3
#: where probing trainers point; nothing is written before ``fit``
_NOWHERE = Path(tempfile.gettempdir()) / "ganagerie-conformance-unused"


class ConformanceError(AssertionError):
    """A component broke its contract; the message lists every failed check."""


@dataclass
class Report:
    """What ``check_component`` found: the checks that passed, failed or did not apply."""

    kind: str
    name: str
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def components(registry: Registry | None = None, kinds: Iterable[str] = KINDS,
               distribution: str | None = None) -> list[tuple[str, str]]:
    """Every registered ``(kind, name)``, for ``pytest.mark.parametrize``; with
    ``distribution``, only that distribution's components, each by the name runs record it
    under (its plain name where that means it, else ``DISTRIBUTION:NAME``)."""
    registry = registry or get_registry()
    if distribution is None:
        return [(kind, name) for kind in kinds for name in registry.names(kind)]
    return [(kind, registry.canonical(kind, e.qualified_name)) for kind in kinds
            for e in sorted(registry.qualified[kind].values(), key=lambda e: e.name)
            if e.provenance.distribution == distribution]


def check_component(
    kind: str,
    name: str,
    *,
    options: Mapping[str, Any] | None = None,
    registry: Registry | None = None,
) -> Report:
    """Run every check that applies to a registered component; raise ConformanceError on any failure."""
    registry = registry or get_registry()
    report = Report(kind, name)
    # the spelling runs record it under (a clear error for an unknown name)
    subject = _Subject(kind, registry.canonical(kind, name), dict(options or {}), registry)
    for check in _CHECKS[kind]:
        label = check.__name__.removeprefix("_check_").replace("_", " ")
        try:
            outcome = check(subject)
        except _Skip as why:
            report.skipped[label] = str(why)
            continue
        except Exception as exc:  # every failure is reported, not only the first
            report.failed[label] = f"{type(exc).__name__}: {exc}"
            continue
        report.passed.append(label if outcome is None else f"{label} ({outcome})")
    if report.failed:
        lines = "\n".join(f"  - {k}: {v}" for k, v in report.failed.items())
        raise ConformanceError(f"{kind} '{name}' fails {len(report.failed)} check(s):\n{lines}")
    return report


class _Skip(Exception):
    """The check does not apply to this component."""


@dataclass
class _Subject:
    kind: str
    name: str
    options: dict[str, Any]
    registry: Registry
    _config: RunConfig | None = None

    def build(self) -> Any:
        return self.registry.create(self.kind, self.name, self.options)

    def config(self, steps: int = STEPS) -> RunConfig:
        """A tiny run config using the component, on the first test bed it fits."""
        if self._config is None:
            errors = []
            flags = self._flags()
            own_sets = flags.pop("sets", [])
            for dataset, sets, arch_sets in TEST_BEDS:
                own_arch = self.kind == "architecture"
                try:
                    cfg = resolve_config(self.registry, dataset=dataset, **flags, sets=[
                        *sets, *([] if own_arch else arch_sets), "log_every=1", "checkpoint_every=2",
                        *own_sets])
                    trainer = Trainer(cfg, self.registry, _NOWHERE)
                except (UsageError, ValueError) as exc:
                    errors.append(f"{dataset}: {exc}")
                    continue
                try:  # components for other data refuse it with a ValueError at the first step
                    trainer.stepper.train_step()
                except (UsageError, ValueError) as exc:
                    errors.append(f"{dataset}: {exc}")
                    continue
                except Exception:  # a crash is a defect the checks report, not a misfit
                    pass
                self._config = cfg
                break
            else:
                raise AssertionError("no test bed fits: " + "; ".join(errors))
        cfg = RunConfig.from_dict(self._config.to_dict())
        cfg.steps = steps
        return cfg

    def _flags(self) -> dict[str, Any]:
        spec = self.name + (":" + ",".join(f"{k}={v}" for k, v in self.options.items())
                            if self.options else "")
        if self.kind == "loss":
            return {"variant": "vanilla", "loss": spec}
        if self.kind == "regularizer":
            return {"variant": "vanilla", "regularizers": [spec]}
        if self.kind == "variant":
            return {"variant": self.name}
        if self.kind == "architecture":
            return {"variant": "vanilla", "arch": spec}
        if self.kind == "schedule":  # both sides, whose factors are logged as lr_g and lr_d
            return {"variant": "vanilla", "sets": [
                f"{field}={value}" for side in ("schedule_g", "schedule_d")
                for field, value in [(side, self.name),
                                     *((f"{side}.{k}", v) for k, v in self.options.items())]]}
        if self.kind == "optimizer":  # both sides, so the checkpoint holds its state twice
            return {"variant": "vanilla", "sets": [
                f"{field}={value}" for side in ("optimizer_g", "optimizer_d")
                for field, value in [(side, self.name),
                                     *((f"{side}.{k}", v) for k, v in self.options.items())]]}
        raise _Skip(f"{self.kind}s are not trained directly")


# -- checks shared by the kinds that train ---------------------------------------------------


def _check_trains_a_few_steps(s: _Subject) -> str:
    cfg = s.config()
    with tempfile.TemporaryDirectory() as tmp:
        result = train(cfg, s.registry, Path(tmp) / "run", progress=False)
        assert result.status == "completed", f"the run ended {result.status} at step {result.step}"
        assert result.last and all(torch.isfinite(torch.tensor(v)) for v in result.last.values()), \
            f"logged values are not finite: {result.last}"
    return cfg.dataset.name


def _check_deterministic_under_a_seed(s: _Subject) -> None:
    cfg = s.config()
    with tempfile.TemporaryDirectory() as tmp:
        states = []
        for run in ("a", "b"):
            train(cfg, s.registry, Path(tmp) / run, progress=False)
            states.append(read_checkpoint(RunDir(Path(tmp) / run).checkpoint))
        assert_same_state(states[0], states[1], "two runs with one seed differ")


def _check_resumes_to_the_same_weights(s: _Subject) -> str:
    cfg = s.config(STEPS)
    stop, cfg.steps = resume_plan(declared_periods(s, cfg))
    with tempfile.TemporaryDirectory() as tmp:
        assert_resumes_bit_identically(cfg, s.registry, Path(tmp), stop=stop)
    return f"stopped at step {stop} of {cfg.steps}"


def declared_periods(s: _Subject, cfg: RunConfig) -> tuple[int, ...]:
    """The periods the run's techniques declare (``Technique.periods``), those above 1."""
    run = build_run(cfg, s.registry)
    found = set()
    for name, tech in run.techniques:
        periods = tech.periods() if callable(getattr(tech, "periods", None)) else ()
        if not (isinstance(periods, (tuple, list)) and all(type(p) is int and p >= 1 for p in periods)):
            raise AssertionError(f"{name}.periods() must return positive ints, got {periods!r}")
        found.update(p for p in periods if p > 1)
    return tuple(sorted(found))


def resume_plan(periods: Sequence[int]) -> tuple[int, int]:
    """Where to stop and how long to run: a stop that is a multiple of no period (and past the
    first boundary of each), and enough steps after it for every period to come round again."""
    longest = max(periods, default=1)
    stop = max(STEPS // 2, longest + 1)
    while any(stop % p == 0 for p in periods):
        stop += 1
    return stop, max(STEPS, stop + longest + 1)


def assert_resumes_bit_identically(cfg: RunConfig, registry: Registry, workdir: Path,
                                   stop: int | None = None) -> dict[str, Any]:
    """Train ``cfg`` in one go, and again stopped at ``stop`` (default: halfway) and resumed:
    the two checkpoints (networks, optimizers, techniques, RNG, data order) and metrics.jsonl
    rows must be equal. Returns the final state. For plugin authors' own tests of stateful
    components."""
    stop = max(1, cfg.steps // 2) if stop is None else stop
    whole = RunConfig.from_dict({**cfg.to_dict(), "checkpoint_every": stop})
    train(whole, registry, workdir / "full", progress=False)
    train_until(whole, registry, workdir / "part", stop)
    train(whole, registry, workdir / "part", resume=True, progress=False)
    a = read_checkpoint(RunDir(workdir / "full").checkpoint)
    b = read_checkpoint(RunDir(workdir / "part").checkpoint)
    assert_same_state(a, b, "stopped and resumed, the run ends elsewhere than an uninterrupted one "
                      "(is all state in state_dict?)")
    rows = [[{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
             for r in read_jsonl(RunDir(workdir / run).metrics)] for run in ("full", "part")]
    assert rows[0] == rows[1], "stopped and resumed, the run logs other rows than an uninterrupted one"
    return a


def train_until(cfg: RunConfig, registry: Registry, out: Path, stop: int) -> None:
    """Train ``cfg`` into ``out`` and leave it after step ``stop`` as a process killed there
    leaves it (its checkpoints where ``checkpoint_every`` put them): a run of ``cfg.steps``
    throughout, so what depends on the run's length (a decaying learning rate) is the run's."""
    trainer = prepare(cfg, registry, out)
    try:
        trainer.begin()
        while trainer.step < stop:
            row, diag = trainer.stepper.train_step(measures_diagnostics(trainer.step, cfg))
            if not trainer.end_step(row, diag):
                break
    finally:
        trainer.close()


def _check_seeds_together_equal_one_by_one(s: _Subject) -> str:
    """S = 3 seeds trained together (``ganagerie.train.batched``) against one by one: every
    logged value and final weight agrees within float32 rounding, or the component couples
    the seeds (one random draw shared by all, state kept for one seed) or breaks under the
    stack."""
    cfg = s.config()
    reason = why_not(cfg, s.registry, "on", seeds=SEEDS_TOGETHER)
    if reason is not None:
        raise _Skip(f"seeds train one at a time: {reason}")
    seeds = [RunConfig.from_dict({**cfg.to_dict(), "seed": cfg.seed + i, "log_every": 1})
             for i in range(SEEDS_TOGETHER)]
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(seeds):
            train(c, s.registry, Path(tmp) / f"one-{i}", progress=False)
        train_seeds([prepare(c, s.registry, Path(tmp) / f"together-{i}") for i, c in enumerate(seeds)])
        for i in range(SEEDS_TOGETHER):
            rows = [[r for r in read_jsonl(RunDir(Path(tmp) / f"{how}-{i}").metrics) if "d_loss" in r]
                    for how in ("one", "together")]
            for alone, together in zip(*rows):
                for key, value in alone.items():
                    if key in ("step", "steps_per_s", "time_s") or not isinstance(value, float):
                        continue
                    other = together.get(key)
                    assert other is not None and abs(other - value) <= 1e-3 * abs(value) + 1e-4, (
                        f"seed {i} of {SEEDS_TOGETHER} trained together logs {key} = {other} at step "
                        f"{alone['step']}, alone {value}: the seeds are coupled (a random draw or "
                        "state shared by the seeds?) or the stack changes the computation; see "
                        "'Seeds trained together' in docs/plugins.md")
            weights = [read_checkpoint(RunDir(Path(tmp) / f"{how}-{i}").checkpoint)
                       for how in ("one", "together")]
            # Adam moves an element whose gradient is rounding noise (a bias before batch norm)
            # by up to lr a step, whatever the noise's size: that far is rounding, not coupling
            moved = 2 * max(cfg.lr_g, cfg.lr_d) * cfg.steps
            for net in ("generator", "discriminator"):
                for key, value in weights[0][net].items():
                    other = weights[1][net][key]
                    assert torch.allclose(other, value, rtol=1e-3, atol=moved + 1e-5), (
                        f"seed {i} trained together ends with other {net} weights ({key}) than alone")
    return f"{SEEDS_TOGETHER} seeds"


def _check_runs_on_the_gpu(s: _Subject) -> None:
    if not torch.cuda.is_available():
        raise _Skip("no GPU")
    cfg = s.config()
    cfg.device = "cuda"
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, s.registry, tmp)
        values, _ = trainer.stepper.train_step()
        assert values.device.type == "cuda", f"logged values on {values.device}"
        for net in (trainer.G, trainer.D):
            devices = {p.device.type for p in net.parameters()}
            assert devices == {"cuda"}, f"parameters on {devices}"


def _check_host_syncs_per_step(s: _Subject) -> str:
    """No step waits for the GPU: in steps that measure no diagnostics and write nothing, no
    operation synchronises the host with the device (``.item()``, ``float(t)``, ``.cpu()``,
    a data-dependent shape), counted by torch's sync debug mode. CUDA only."""
    if not torch.cuda.is_available():
        raise _Skip("no GPU: host synchronisations are counted on CUDA only")
    cfg = s.config()
    cfg.device = "cuda"
    steps = 3
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, s.registry, tmp)
        trainer.stepper.train_step(False)  # the first step may build lazily, which may sync
        trainer.step += 1
        torch.cuda.synchronize()
        old = torch.cuda.get_sync_debug_mode()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                for _ in range(steps):
                    trainer.stepper.train_step(False)
                    trainer.step += 1
            finally:
                torch.cuda.set_sync_debug_mode(old)
        syncs = [str(w.message) for w in caught if "synchroniz" in str(w.message).lower()]
        assert not syncs, (f"{len(syncs)} host synchronisation(s) in {steps} steps (the first: "
                           f"{syncs[0].splitlines()[0]}): keep values as tensors inside the step")
    return f"0 in {steps} steps"


# -- losses --------------------------------------------------------------------------------


def _check_loss_values_and_gradients(s: _Subject) -> None:
    loss = s.build()
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(16, generator=gen).requires_grad_(True)
    fake = torch.randn(16, generator=gen).requires_grad_(True)
    d = loss.d_loss(real, fake)
    _assert_scalar(d, "d_loss")
    d.backward()
    for what, t in (("real", real), ("fake", fake)):
        assert t.grad is not None and t.grad.abs().sum() > 0, f"d_loss gives no gradient to the {what} logits"
    real_out = real.detach() if getattr(loss, "g_needs_real", False) else None
    fake.grad = None
    g = generator_loss(loss)(fake, real_out)
    _assert_scalar(g, "g_loss")
    g.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0, "g_loss gives no gradient to the fake logits"
    again = generator_loss(loss)(fake.detach(), real_out)
    assert torch.equal(again, g.detach()), "g_loss differs on equal inputs"
    assert torch.equal(loss.d_loss(real.detach(), fake.detach()), d.detach()), \
        "d_loss differs on equal inputs"


# -- techniques ----------------------------------------------------------------------------


def _technique_at_work(s: _Subject) -> tuple[Trainer, Technique]:
    trainer = Trainer(s.config(), s.registry, _NOWHERE)
    trainer.step = 1
    (tech,) = [t for n, t in trainer.run.techniques if n == s.name]
    return trainer, tech


def _check_one_instance_per_run(s: _Subject) -> None:
    trainer, tech = _technique_at_work(s)
    assert isinstance(tech, type(s.build())), "the run's technique is not what the factory builds"
    st = trainer.stepper
    kinds = {"d_penalty": st.d_pens, "g_penalty": st.g_pens, "transform": st.transforms,
             "after_d_step": st.after_d, "after_g_step": st.after_g}
    for method, users in kinds.items():
        if implements(tech, method):
            assert any(ts[0] is tech for _, ts in users), f"{method} is not called on the built instance"


def _check_transform(s: _Subject) -> None:
    trainer, tech = _technique_at_work(s)
    if not implements(tech, "transform"):
        raise _Skip("no transform")
    x = trainer.stepper.next_real().clone().requires_grad_(True)
    y = tech.transform(x, 1)
    assert isinstance(y, torch.Tensor) and y.dtype == x.dtype, "transform must return a tensor of x's dtype"
    assert y.device == x.device, f"transform moved the batch to {y.device}"
    assert torch.isfinite(y).all(), "transform gives non-finite values"
    assert y.requires_grad, "transform is not differentiable: its output carries no gradient"
    y.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0, \
        "transform is not differentiable: no gradient reaches its input"


def _contexts(trainer: Trainer) -> tuple[DStep, GStep]:
    """A D and a G context as the step builds them, with the classes where the networks are
    conditional."""
    G, D, st = trainer.G, trainer.D, trainer.stepper
    real, z = st.next_real(), st.noise()
    real_y, fake_y = st.real_y, st.fake_y
    with torch.no_grad():
        fake = _net_call(G, z, fake_y)
    real_in, fake_in = st.seen_by_d(real), st.seen_by_d(fake)
    d = DStep(G, D, real, fake, _net_call(D, real_in, real_y), _net_call(D, fake_in, fake_y), z,
              trainer.step, real_in, fake_in, real_labels=real_y, fake_labels=fake_y)
    z = st.noise()
    fake_y = st.fake_y
    fake_g = _net_call(G, z, fake_y)
    fake_g_in = st.seen_by_d(fake_g)
    feats = _net_call(D, fake_g_in, fake_y, "features")
    with torch.no_grad():
        real_out = _net_call(D, real_in, real_y)
    g = GStep(G, D, real, fake_g, feats, _net_call(D, feats, fake_y, "classify"), z, trainer.step,
              real_out, fake_g_in, real_labels=real_y, fake_labels=fake_y)
    return d, g


def _check_penalties(s: _Subject) -> str:
    trainer, tech = _technique_at_work(s)
    sides = [m for m in ("d_penalty", "g_penalty") if implements(tech, m)]
    if not sides:
        raise _Skip("no penalty")
    done = []
    for step in (0, 1, 2, 3):  # lazy penalties skip some steps
        trainer.step = step
        for side in sides:
            if side in done:
                continue
            owner, other = (trainer.D, trainer.G) if side == "d_penalty" else (trainer.G, trainer.D)
            trainer.D.requires_grad_(side == "d_penalty")
            d_ctx, g_ctx = _contexts(trainer)
            pen = getattr(tech, side)(d_ctx if side == "d_penalty" else g_ctx)
            if pen is None:
                continue
            _assert_scalar(pen, side)
            for p in [*trainer.G.parameters(), *trainer.D.parameters()]:
                p.grad = None
            pen.backward()
            # a one-sided penalty whose bound is not reached is exactly 0, with a zero gradient
            reached = any(p.grad is not None and p.grad.abs().sum() > 0 for p in owner.parameters())
            at_zero = float(pen.detach()) == 0 and any(p.grad is not None for p in owner.parameters())
            assert reached or at_zero, f"{side} gives no gradient to the network it regularizes"
            leaked = [n for n, p in other.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
            assert not leaked, f"{side} leaks gradient into the other network ({leaked[0]})"
            done.append(side)
    trainer.D.requires_grad_(True)
    missing = set(sides) - set(done)
    assert not missing, f"{', '.join(sorted(missing))} returned None on 4 steps in a row"
    return ", ".join(done)


def _check_generator_logits(s: _Subject) -> None:
    trainer, tech = _technique_at_work(s)
    if not implements(tech, "generator_logits"):
        raise _Skip("no generator_logits")
    fake_out = torch.randn(trainer.cfg.batch_size, requires_grad=True)
    out = tech.generator_logits(fake_out, 1)
    assert out.dim() == 1 and 0 < out.shape[0] <= fake_out.shape[0], f"shape {tuple(out.shape)}"
    out.sum().backward()
    assert fake_out.grad is not None and fake_out.grad.abs().sum() > 0, "no gradient to the logits"


def _check_state_round_trip(s: _Subject) -> None:
    trainer, tech = _technique_at_work(s)
    if not implements(tech, "state_dict"):
        raise _Skip("stateless")
    state = tech.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            save_checkpoint(Path(tmp), {"state": state}, 0)
        except TypeError as exc:
            raise AssertionError(f"state_dict holds what a checkpoint cannot hold: {exc}") from None
        loaded = read_checkpoint(Path(tmp) / "last.json")["state"]
    fresh_run = build_run(trainer.cfg, s.registry)
    (fresh,) = [t for n, t in fresh_run.techniques if n == s.name]
    fresh.load_state_dict(loaded)
    assert_same_state(state, fresh.state_dict(),
                      "state_dict -> load_state_dict -> state_dict changes the state")


# -- architectures, datasets, metrics, optimizers, priors, variants --------------------------


#: the classes an architecture is told of where its ``build`` takes them (conditional networks)
_CLASSES = 10


def _check_networks(s: _Subject) -> str:
    arch, fits = s.build(), []
    for shape in ((2,), (1, 8, 8), (3, 32, 32)):
        try:
            torch.manual_seed(0)
            G, D = build_networks(arch, shape, _CLASSES)
        except ValueError:
            continue
        torch.manual_seed(0)
        G2, _ = build_networks(arch, shape, _CLASSES)
        assert_same_state(G.state_dict(), G2.state_dict(), "two builds under one seed differ")
        z = G.sample_noise(4)
        x = G(z)
        assert tuple(x.shape) == (4, *shape), f"G gives {tuple(x.shape)} for samples of {shape}"
        assert x.dtype == torch.float32 and torch.isfinite(x).all(), "G's samples are not finite float32"
        h = D.features(x.detach())
        out = D.classify(h)
        assert h.dim() == 2 and h.shape[0] == 4, f"features have shape {tuple(h.shape)}, not [B, F]"
        assert tuple(out.shape) == (4,), f"D gives logits of shape {tuple(out.shape)}, not [B]"
        assert torch.allclose(D(x.detach()), out), "forward differs from classify(features)"
        out.sum().backward()
        assert all(p.grad is None for p in G.parameters()), "scoring a detached batch reached G"
        fits.append("x".join(map(str, shape)))
    assert fits, "builds for none of the shapes (2,), (1, 8, 8), (3, 32, 32)"
    return ", ".join(fits)


def _check_dataset(s: _Subject) -> None:
    for split in ("train", "test"):
        try:
            ds = s.build()
            data = ds.load(split)
        except UsageError as exc:  # data that must be downloaded first says so in one line
            raise _Skip(str(exc)) from None
        x = data.x
        assert tuple(x.shape[1:]) == tuple(ds.shape), f"{split} samples have shape {tuple(x.shape[1:])}"
        assert x.is_floating_point() and torch.isfinite(x).all(), f"{split} samples are not finite floats"
        assert data.y is None or len(data.y) == len(x), f"{split} labels and samples differ in number"
        again = s.build().load(split)
        assert torch.equal(again.x, x), f"two loads of {split} differ"


def _check_metric(s: _Subject) -> str:
    for dataset_name, _, _ in TEST_BEDS:
        dataset = s.registry.create("dataset", dataset_name, {"n": 2000} if dataset_name == "ring8" else {})
        if s.build().applies_to(dataset):
            break
    else:
        raise _Skip("applies to none of the test beds")
    test = dataset.load("test")
    real = test.x[:400]
    # a conditional metric is given the real samples' own classes, as if they were asked for
    labels = test.y[:400].split(100) if getattr(s.build(), "conditional", False) else None
    values = []
    for _ in range(2):
        metric = s.build()
        torch.manual_seed(0)
        with torch.no_grad():
            metric.setup(dataset, torch.device("cpu"))
            for i, batch in enumerate(real.split(100)):
                metric.update(*((batch,) if labels is None else (batch, labels[i])))
            values.append(metric.compute())
    assert values[0] and all(isinstance(v, float) for v in values[0].values()), \
        f"compute must return named floats, got {values[0]!r}"
    assert values[0] == values[1], "two evaluations under one seed differ"
    assert isinstance(metric.protocol(), dict), "protocol() must return a dict"
    ranges = metric.value_ranges()
    assert isinstance(ranges, dict), "value_ranges() must return a dict"
    for key, bounds in ranges.items():
        checked = range_bounds(bounds)
        assert checked is not None, (f"the range of '{key}' must be (low, high) with numbers or "
                                     f"None and low <= high, got {bounds!r}")
        value, (low, high) = values[0].get(key), checked
        assert value is None or ((low is None or value >= low) and (high is None or value <= high)), \
            f"'{key}' = {value} on real data lies outside its declared range {bounds!r}"
    return dataset_name


def _check_optimizer(s: _Subject) -> None:
    """Trains a quadratic; 30 steps in one go equal 15, a state_dict round trip through
    ``torch.load(weights_only=True)`` into a fresh optimizer, and 15 more (bit for bit)."""
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))

    def fit(net, opt, steps):
        losses = []
        for _ in range(steps):
            loss = (net(x) - 1).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return losses

    def fresh():
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 1)
        opt = s.build().build(net.parameters(), lr=1e-2, betas=(0.5, 0.999))
        assert isinstance(opt, torch.optim.Optimizer), "build must return a torch.optim.Optimizer"
        return net, opt

    net, opt = fresh()
    losses = fit(net, opt, 30)
    assert losses[-1] < losses[0], "30 steps do not reduce a quadratic"
    part, opt = fresh()
    fit(part, opt, 15)
    buffer = io.BytesIO()
    torch.save({"net": part.state_dict(), "opt": opt.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)
    resumed, opt = fresh()
    resumed.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    fit(resumed, opt, 15)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), resumed.parameters())), (
        "15 steps, state_dict -> load_state_dict into a fresh optimizer, 15 more steps end "
        "elsewhere than 30 in one go: is all of its state in state_dict?")


def _check_prior(s: _Subject) -> None:
    prior = s.build()
    cpu = torch.device("cpu")
    z = prior.sample(256, 3, cpu, torch.Generator().manual_seed(0))
    assert tuple(z.shape) == (256, 3) and z.dtype == torch.float32, f"shape {tuple(z.shape)}, {z.dtype}"
    assert torch.isfinite(z).all() and z.std() > 0, "noise is not finite, or constant"
    assert torch.equal(z, prior.sample(256, 3, cpu, torch.Generator().manual_seed(0))), \
        "one seed gives two different draws"


def _check_tracker(s: _Subject) -> None:
    tracker = s.build()  # cheap: the tracker's library is imported by start, not here
    for method, arity in (("start", 3), ("log_scalars", 2), ("log_image", 3), ("finish", 1)):
        fn = getattr(tracker, method, None)
        assert callable(fn), f"a tracker has a {method} method"
        try:
            inspect.signature(fn).bind(*range(arity))
        except TypeError as exc:
            raise AssertionError(f"{method} does not take the contract's {arity} arguments: {exc}") from None


def _check_schedule(s: _Subject) -> str:
    """Factors are finite floats >= 0, a function of (step, total_steps) alone: the same in
    any order and from a fresh instance (so a resumed run and a seed stack apply the same)."""
    grid = [(t, total) for total in (1, 7, 100, 5000) for t in sorted({0, 1, total // 2, total - 1})]
    first = s.build()
    values = [first.factor(t, total) for t, total in grid]
    for (t, total), v in zip(grid, values):
        assert isinstance(v, (int, float)) and not isinstance(v, bool), \
            f"factor({t}, {total}) returned {type(v).__name__}, not a float"
        assert math.isfinite(v) and v >= 0, f"factor({t}, {total}) = {v} is not finite and >= 0"
    again = [s.build().factor(t, total) for t, total in reversed(grid)][::-1]
    assert again == values == [first.factor(t, total) for t, total in grid], \
        "factor differs between calls with the same arguments: it must keep no state"
    return f"{first.factor(0, 100):.3g} at the first of 100 steps, {first.factor(99, 100):.3g} at the last"


def _check_variant_resolves(s: _Subject) -> None:
    s.config()


_POINTS = {point.kind: point for point in EXTENSION_POINTS}


def _check_builds_its_contract(s: _Subject) -> str:
    """The factory builds what its kind's contract (``ganagerie.hookspecs.EXTENSION_POINTS``)
    says: an instance of the contract's class, or an object with each of its abstract methods."""
    point = _POINTS[s.kind]
    try:
        built = s.build()
    except UsageError as exc:  # data that must be downloaded first says so in one line
        raise _Skip(str(exc)) from None
    if point.contract is None:
        assert isinstance(built, Mapping), f"a {s.kind}'s factory returns a dict of run fields, " \
            f"not {type(built).__name__}"
        return "a dict"
    contract = getattr(contracts, point.contract)
    if isinstance(built, contract):
        return point.contract
    missing = [m for m in sorted(getattr(contract, "__abstractmethods__", ()))
               if not callable(getattr(built, m, None))]
    assert not missing, (f"the factory built a {type(built).__name__}: neither a {point.contract} "
                         f"nor an object with its {', '.join(missing)}")
    return f"duck-typed {point.contract}"


_TRAINING = [_check_trains_a_few_steps, _check_deterministic_under_a_seed,
             _check_resumes_to_the_same_weights, _check_seeds_together_equal_one_by_one,
             _check_runs_on_the_gpu, _check_host_syncs_per_step]
_BY_KIND: dict[str, list[Callable[[_Subject], Any]]] = {
    "loss": [_check_loss_values_and_gradients, *_TRAINING],
    "regularizer": [_check_one_instance_per_run, _check_transform, _check_penalties,
                    _check_generator_logits, _check_state_round_trip, *_TRAINING],
    "architecture": [_check_networks, *_TRAINING],
    "dataset": [_check_dataset],
    "metric": [_check_metric],
    "optimizer": [_check_optimizer, *_TRAINING],
    "schedule": [_check_schedule, *_TRAINING],
    "prior": [_check_prior],
    "variant": [_check_variant_resolves, *_TRAINING],
    "tracker": [_check_tracker],
}
if set(_BY_KIND) != set(_POINTS):  # a kind added to EXTENSION_POINTS needs its checks here
    raise ImportError(f"ganagerie.testing has no checks for {sorted(set(_POINTS) - set(_BY_KIND))}")
#: every kind's checks, first that its factory builds what its contract says
_CHECKS = {kind: [_check_builds_its_contract, *_BY_KIND[kind]] for kind in _POINTS}


def _assert_scalar(t: Any, what: str) -> None:
    assert isinstance(t, torch.Tensor), f"{what} returned {type(t).__name__}, not a tensor"
    assert t.dim() == 0, f"{what} returned shape {tuple(t.shape)}, not a scalar"
    assert t.is_floating_point() and torch.isfinite(t), f"{what} is not a finite float ({t})"
    assert t.requires_grad, f"{what} carries no gradient"


def assert_same_state(a: Any, b: Any, message: str = "states differ", where: str = "") -> None:
    """Nested dicts, lists and tensors equal exactly (tensors with ``torch.equal``)."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b), \
            f"{message} (at {where or 'top'})"
    elif isinstance(a, Mapping):
        assert isinstance(b, Mapping) and set(a) == set(b), f"{message} (keys at {where or 'top'})"
        for k in a:
            assert_same_state(a[k], b[k], message, f"{where}.{k}" if where else str(k))
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), f"{message} (at {where or 'top'})"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, message, f"{where}[{i}]")
    else:
        assert a == b, f"{message} (at {where or 'top'}: {a!r} != {b!r})"


__all__ = ["ConformanceError", "Report", "assert_resumes_bit_identically", "assert_same_state",
           "check_component", "components"]
