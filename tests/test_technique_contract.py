"""The technique contract: one instance per run, the extension points, old plugins, resume.

Each technique here is a test plugin written against the contract as a third party would.
"""

import json
import types

import helpers
import pytest
import torch
import torch.nn.functional as F

from ganagerie import hookimpl
from ganagerie.components import Loss, Technique
from ganagerie.config import RunConfig, resolve_config
from ganagerie.errors import UsageError
from ganagerie.plugin_loader import load_plugins
from ganagerie.testing import assert_resumes_bit_identically as resumes_bit_identically
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.trainer import Trainer, train

TINY = helpers.tiny(width=16, n=1000, checkpoint_every=50)


class RelativisticAverage(Loss):
    """RaSGAN (Jolicoeur-Martineau 2018): each side compares its logits to the other's mean."""

    g_needs_real = True

    def d_loss(self, real_out, fake_out):
        return (F.softplus(-(real_out - fake_out.mean())).mean()
                + F.softplus(fake_out - real_out.mean()).mean())

    def g_loss(self, fake_out, real_out=None):
        return (F.softplus(-(fake_out - real_out.mean())).mean()
                + F.softplus(real_out - fake_out.mean()).mean())


class LegacyLoss(Loss):
    """Written against ganagerie 0.1: g_loss sees only the generated logits."""

    def d_loss(self, real_out, fake_out):
        return fake_out.mean() - real_out.mean()

    def g_loss(self, fake_out):
        return -fake_out.mean()


class Clip(Technique):
    """Weight clipping of D after each of its updates (Arjovsky et al. 2017)."""

    def __init__(self, c: float = 0.01):
        self.c = c

    def after_d_step(self, step):
        for p in step.discriminator.parameters():
            p.clamp_(-self.c, self.c)


class SignNoise(Technique):
    """An input transform with state: noise whose scale halves every 20 steps, counted on device."""

    def __init__(self, sigma: float = 0.1):
        self.sigma = sigma
        self.seen = torch.zeros(())

    def transform(self, x, step):
        return x + torch.randn_like(x) * (self.sigma * 0.5 ** (step // 20))

    def after_d_step(self, step):
        self.seen += step.real.shape[0]

    def log_values(self):
        return {"seen": self.seen}

    def state_dict(self):
        return {"seen": self.seen.clone()}

    def load_state_dict(self, state):
        self.seen = state["seen"].clone()


class RemembersSetup(Technique):
    """Records the networks it was set up on; its penalty fails on any other instance."""

    def setup(self, generator, discriminator):
        self.discriminator = discriminator

    def d_penalty(self, step):
        assert step.discriminator is self.discriminator, "penalty runs on an instance never set up"
        return step.real_out.square().mean() * 0.0


class DuckPenalty:
    """Not a Technique subclass: a duck-typed penalty with only the method it needs."""

    def d_penalty(self, step):
        return 0.1 * step.real_out.square().mean()


class TwoDThenG(Technique):
    """Replaces the step: two D updates on one shared batch, then one G update."""

    def __init__(self):
        self.steps = torch.zeros((), dtype=torch.long)

    def train_step(self, run):
        real = run.next_real()
        d = run.d_update(real=real)
        d = run.d_update(real=real)
        g = run.g_update()
        self.steps += 1
        return run.log_row(d, g)

    def state_dict(self):
        return {"steps": self.steps.clone()}

    def load_state_dict(self, state):
        self.steps = state["steps"].clone()


def _plugin():
    mod = types.ModuleType("ganagerie_contract_tests")

    @hookimpl
    def register_losses(register):
        register("ragan-test", RelativisticAverage)
        register("legacy", LegacyLoss)

    @hookimpl
    def register_regularizers(register):
        register("clip", Clip)
        register("sign-noise", SignNoise)
        register("remembers", RemembersSetup)
        register("duck", DuckPenalty)
        register("two-d", TwoDThenG)

    mod.register_losses = register_losses
    mod.register_regularizers = register_regularizers
    return mod


@pytest.fixture(scope="module")
def reg():
    return load_plugins(extra=[_plugin()]).registry


def cfg_for(reg, steps, **kw):
    sets = [*TINY, *kw.pop("sets", [])]
    return resolve_config(reg, dataset="ring8", variant="vanilla", overrides={"steps": steps},
                          sets=sets, **kw)


def assert_resumes_bit_identically(reg, tmp_path, steps=100, **kw):
    """N steps in one go equal N/2, a stop, and a resume to N: weights, optimizers, technique state."""
    return resumes_bit_identically(cfg_for(reg, steps, **kw), reg, tmp_path)


def test_relativistic_average_loss_sees_real_logits_trains_and_resumes(reg, tmp_path):
    trainer = Trainer(cfg_for(reg, 1, loss="ragan-test"), reg, tmp_path / "t")
    seen = []
    trainer.stepper.lanes.g_loss = lambda fake_out, real_out: (seen.append(real_out), trainer.loss.g_loss(
        fake_out, real_out))[1]
    trainer.stepper.train_step()
    assert seen[0] is not None and seen[0].shape == (32,) and not seen[0].requires_grad
    assert_resumes_bit_identically(reg, tmp_path, loss="ragan-test")


def test_relativistic_average_g_loss_matches_hand_computation():
    fake, real = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])  # means 1 and 2
    # softplus(-(f - 2)) over f = 0, 2: softplus(2), softplus(0); softplus(r - 1): softplus(0), softplus(2)
    sp = F.softplus
    expected = (sp(torch.tensor(2.0)) + sp(torch.tensor(0.0))) / 2 * 2
    assert torch.isclose(RelativisticAverage().g_loss(fake, real), expected)


def test_weight_clipping_with_rmsprop_bounds_d_trains_and_resumes(reg, tmp_path):
    kw = {"loss": "wasserstein", "regularizers": ["clip:c=0.01"],
          "sets": ["optimizer_d=rmsprop", "optimizer_g=rmsprop", "lr_d=5e-5", "lr_g=5e-5",
                   "n_critic=5"]}
    trainer = Trainer(cfg_for(reg, 1, **kw), reg, tmp_path / "t")
    assert isinstance(trainer.opt_d, torch.optim.RMSprop) and isinstance(trainer.opt_g, torch.optim.RMSprop)
    state = assert_resumes_bit_identically(reg, tmp_path, **kw)
    weights = torch.cat([t.flatten() for t in state["discriminator"].values()])
    assert weights.abs().max() <= 0.01 and weights.abs().max() > 0.009  # clipped, and at the bound
    assert "square_avg" in state["opt_d"]["state"][0]  # RMSprop's own state is checkpointed


def test_input_transform_reaches_everything_d_sees_and_resumes_with_its_state(reg, tmp_path):
    trainer = Trainer(cfg_for(reg, 1, regularizers=["sign-noise:sigma=0.5"]), reg, tmp_path / "t")
    d = trainer.stepper.d_update()
    assert not torch.equal(d.real_input, d.real) and not torch.equal(d.fake_input, d.fake)
    g = trainer.stepper.g_update()
    assert not torch.equal(g.fake_input, g.fake) and g.fake_input.grad_fn is not None
    state = assert_resumes_bit_identically(reg, tmp_path, regularizers=["sign-noise"])
    assert state["techniques"]["sign-noise"]["seen"] == 100 * 32
    rows = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["sign-noise/seen"] == 100 * 32


def test_technique_is_built_once_and_set_up_on_the_networks_it_regularizes(reg, tmp_path):
    train(cfg_for(reg, 5, regularizers=["remembers"]), reg, tmp_path / "r", progress=False)


def test_duck_typed_technique_is_dispatched(reg, tmp_path):
    result = train(cfg_for(reg, 10, regularizers=["duck"]), reg, tmp_path / "r", progress=False)
    assert result.status == "completed" and result.last["d/duck"] > 0


def test_loss_written_against_the_old_contract_still_trains(reg, tmp_path):
    result = train(cfg_for(reg, 10, loss="legacy"), reg, tmp_path / "r", progress=False)
    assert result.status == "completed"


def test_a_technique_can_replace_the_step(reg, tmp_path):
    trainer = Trainer(cfg_for(reg, 1, regularizers=["two-d"]), reg, tmp_path / "t")
    calls = {"d": 0, "g": 0}
    for side, opt in (("d", trainer.opt_d), ("g", trainer.opt_g)):
        step = opt.step

        def counted(*a, _side=side, _step=step, **k):
            calls[_side] += 1
            return _step(*a, **k)

        opt.step = counted
    trainer.stepper.train_step()
    assert calls == {"d": 2, "g": 1}
    assert_resumes_bit_identically(reg, tmp_path, steps=20, regularizers=["two-d"])


def test_two_techniques_replacing_the_step_is_a_usage_error(reg, tmp_path):
    class Other(TwoDThenG):
        pass

    mod = types.ModuleType("ganagerie_other_step")
    mod.register_regularizers = hookimpl(lambda register: register("other-step", Other))
    both = load_plugins(extra=[_plugin(), mod]).registry
    with pytest.raises(UsageError, match="both replace the training step"):
        Trainer(cfg_for(both, 1, regularizers=["two-d", "other-step"]), both, tmp_path / "t")


def test_ema_is_a_technique_whose_average_samples(reg, tmp_path):
    cfg = cfg_for(reg, 20, regularizers=["ema:decay=0.5"])
    trainer = Trainer(cfg, reg, tmp_path / "t")
    (ema,) = [t for n, t in trainer.run.techniques if n == "ema"]
    trainer.stepper.train_step()
    assert trainer.run.sampling_generator() is ema.average is not trainer.G
    with pytest.raises(UsageError, match="--reg ema:decay=0.999"):
        RunConfig.from_dict({**cfg.to_dict(), "ema_decay": 0.999})


def test_ema_average_matches_hand_computation(reg, tmp_path):
    trainer = Trainer(cfg_for(reg, 1, regularizers=["ema:decay=0.75"]), reg, tmp_path / "t")
    before = [p.clone() for p in trainer.G.parameters()]
    trainer.stepper.train_step()
    (ema,) = [t for n, t in trainer.run.techniques if n == "ema"]
    for b, p, a in zip(before, trainer.G.parameters(), ema.average.parameters()):
        assert torch.allclose(a, 0.75 * b + 0.25 * p)


def test_optimizer_and_prior_come_from_the_config(reg, tmp_path):
    cfg = cfg_for(reg, 1, sets=["prior=uniform", "optimizer_d=rmsprop:alpha=0.9"])
    assert cfg.to_dict()["prior"] == {"name": "uniform", "options": {}}
    assert cfg.optimizer_d.options["alpha"] == 0.9 and cfg.optimizer_g.name == "adam"
    trainer = Trainer(cfg, reg, tmp_path / "t")
    z, _ = trainer.noise()
    assert z.min() >= -1 and z.max() <= 1
    assert trainer.opt_d.param_groups[0]["alpha"] == 0.9


def test_old_checkpoints_are_refused_with_a_message(reg, tmp_path):
    torch.save({"format": 1, "step": 3}, tmp_path / "last.pt")
    with pytest.raises(UsageError, match="ganagerie 0.1"):
        read_checkpoint(tmp_path / "last.json")
