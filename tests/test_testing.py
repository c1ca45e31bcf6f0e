"""The conformance kit passes every built-in component and catches broken ones."""

import types

import pytest
import torch

from ganagerie import hookimpl
from ganagerie.components import Loss, Metric, Optimizer, Technique
from ganagerie.plugin_loader import load_plugins
from ganagerie.testing import ConformanceError, check_component, components


@pytest.mark.parametrize("kind,name", components())
def test_every_built_in_component_conforms(kind, name):
    report = check_component(kind, name)
    # data that needs a download, or the user's own files, is checked only where it is present
    assert report.passed or all("--download" in why or "--data-root" in why
                                for why in report.skipped.values())


class CountingSchedule(Technique):
    """Broken: its schedule lives in a Python counter that is not in state_dict."""

    def __init__(self):
        self.calls = 0

    def d_penalty(self, step):
        self.calls += 1
        return (step.real_out.square().mean()) * (0.1 * self.calls)


class LeakyPenalty(Technique):
    """Broken: its D penalty regenerates fakes with gradient to G."""

    def d_penalty(self, step):
        return step.discriminator(step.generator(step.z)).square().mean()


class LeakyGPenalty(Technique):
    """Broken: its G penalty switches D's gradients back on and so trains D through G's loss."""

    def g_penalty(self, step):
        step.discriminator.requires_grad_(True)
        return step.discriminator(step.fake).square().mean()


class LazyCounter(Technique):
    """Broken: lazy every 8 D updates by its own count, which it saves rounded down to its
    period: right when stopped at a multiple of 8, wrong elsewhere (a few-step kit run that
    stops at step 2 never sees it)."""

    def __init__(self, every: int = 8):
        self.every, self.updates = every, 0

    def periods(self):
        return (self.every,)

    def d_penalty(self, step):
        self.updates += 1
        if self.updates % self.every:
            return None
        return step.real_out.square().mean()

    def state_dict(self):
        return {"updates": self.updates // self.every * self.every}

    def load_state_dict(self, state):
        self.updates = int(state["updates"])


class ForgetfulSGD(torch.optim.SGD):
    """Broken: its step size decays with a step count kept outside state_dict."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.count = 0

    def step(self, closure=None):
        self.count += 1
        for group in self.param_groups:
            group["lr"] = group["lr"] * 0.9 if self.count > 1 else group["lr"]
        return super().step(closure)

    def state_dict(self):
        state = super().state_dict()
        for group in state["param_groups"]:
            group["lr"] = self.defaults["lr"]  # the decayed rate is not what it saves
        return state


class Forgetful(Optimizer):
    def build(self, params, lr, betas):
        return ForgetfulSGD(params, lr)


class SyncingPenalty(Technique):
    """Broken: reads its penalty's value back to the host every step (a GPU sync)."""

    def d_penalty(self, step):
        value = step.real_out.square().mean()
        return value * (1.0 if value.item() < 1e9 else 0.0)


class DetachingTransform(Technique):
    """Broken: its transform cuts the gradient."""

    def transform(self, x, step):
        return x.detach() + 0.01


class PickledState(Technique):
    """Broken: its state is an object a checkpoint cannot hold."""

    def setup(self, generator, discriminator):
        self.rng = torch.Generator()

    def state_dict(self):
        return {"rng": self.rng}

    def load_state_dict(self, state):
        self.rng = state["rng"]


class CoupledSeeds(Technique):
    """Broken: declares seed_batched but draws one random number for every seed of a stack."""

    seed_batched = True

    def d_penalty(self, step):
        return torch.rand(()) * step.batch_mean(step.real_out.square())


class PerSampleLoss(Loss):
    """Broken: returns one value per sample instead of a scalar."""

    def d_loss(self, real_out, fake_out):
        return fake_out - real_out

    def g_loss(self, fake_out, real_out=None):
        return -fake_out


class PercentAsFraction(Metric):
    """Broken: declares its value a fraction in [0, 1] but returns a percentage."""

    value_range = {"hit_pct": (0, 1)}

    def update(self, fake):
        self.n = getattr(self, "n", 0) + len(fake)

    def compute(self):
        return {"hit_pct": 100.0}


class HalfALoss:
    """Broken: duck-types a loss with a D side only."""

    def d_loss(self, real_out, fake_out):
        return (fake_out - real_out).mean()


def _broken_registry():
    mod = types.ModuleType("ganagerie_broken")

    @hookimpl
    def register_regularizers(register):
        register("counting", CountingSchedule)
        register("leaky", LeakyPenalty)
        register("detaching", DetachingTransform)
        register("pickled", PickledState)
        register("coupled", CoupledSeeds)
        register("leaky-g", LeakyGPenalty)
        register("lazy-counter", LazyCounter)
        register("syncing", SyncingPenalty)

    @hookimpl
    def register_losses(register):
        register("per-sample", PerSampleLoss)
        register("half-a-loss", HalfALoss)

    @hookimpl
    def register_metrics(register):
        register("percent-as-fraction", PercentAsFraction)

    @hookimpl
    def register_optimizers(register):
        register("forgetful", Forgetful)

    mod.register_regularizers = register_regularizers
    mod.register_losses = register_losses
    mod.register_metrics = register_metrics
    mod.register_optimizers = register_optimizers
    return load_plugins(extra=[mod]).registry


@pytest.mark.parametrize("kind,name,defect", [
    ("regularizer", "counting", "resumes to the same weights"),
    ("regularizer", "leaky", "leaks gradient into the other network"),
    ("regularizer", "detaching", "not differentiable"),
    ("regularizer", "pickled", "state_dict holds what a checkpoint cannot hold"),
    ("loss", "per-sample", "not a scalar"),
    ("regularizer", "coupled", "the seeds are coupled"),
    ("metric", "percent-as-fraction", "lies outside its declared range"),
    ("regularizer", "leaky-g", "g_penalty leaks gradient into the other network"),
    ("regularizer", "lazy-counter", "resumes to the same weights"),
    ("optimizer", "forgetful", "is all of its state in state_dict"),
    ("loss", "half-a-loss", "neither a Loss nor an object with its g_loss"),
])
def test_the_kit_finds_the_defect_of_a_broken_component(kind, name, defect):
    with pytest.raises(ConformanceError, match=defect):
        check_component(kind, name, registry=_broken_registry())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host syncs are counted on CUDA only")
def test_the_kit_counts_a_host_sync_inside_the_step_on_a_gpu():
    with pytest.raises(ConformanceError, match="host synchronisation"):
        check_component("regularizer", "syncing", registry=_broken_registry())


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the check runs")
def test_without_a_gpu_the_host_sync_count_is_named_as_skipped():
    report = check_component("regularizer", "syncing", registry=_broken_registry())
    assert report.skipped["host syncs per step"].startswith("no GPU")


def test_components_of_one_distribution_by_the_names_runs_record():
    registry = _broken_registry()
    mine = components(registry, distribution=None)
    assert ("loss", "per-sample") in mine and ("loss", "hinge") in mine
    assert components(registry, distribution="ganagerie") == [
        (kind, name) for kind, name in mine
        if registry.get(kind, name).provenance.distribution == "ganagerie"]
    # plugins passed in code have no distribution; the filter names installed ones
    assert components(registry, distribution="ganagerie-nowhere") == []
    assert components(registry, kinds=["loss"], distribution="ganagerie") == [
        ("loss", n) for n in registry.names("loss") if registry.get("loss", n).provenance.distribution]
