"""Learning-rate schedules: each factor against hand-computed values, the rates a real run
sets and logs, a bit-identical resume between two decays, and seeds trained together."""

from __future__ import annotations

import math

import helpers
import pytest
import torch

from ganagerie.config import RunConfig, resolve_config
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.plugins.schedules import Constant, Cosine, Linear, StepDecay
from ganagerie.testing import assert_resumes_bit_identically
from ganagerie.train.batched import SeedBatch, why_not
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import Trainer, prepare, train

STEPS = 24
#: G decays linearly to a quarter over the run, D halves every 5 steps
DECAYING = ["schedule_g=linear:end=0.25", "schedule_d=step:gamma=0.5,every=5"]


def tiny(registry, steps=STEPS, extra=(), seed=0, variant="vanilla"):
    return resolve_config(registry, dataset="ring8", variant=variant,
                          overrides={"steps": steps, "seed": seed},
                          sets=[*helpers.tiny(width=16, n=512, log_every=4), *extra])


def logged(run_dir):
    return [r for r in read_jsonl(RunDir(run_dir).metrics) if "d_loss" in r]


# -- the factors ------------------------------------------------------------------------------


def test_constant_is_one_throughout():
    assert [Constant().factor(t, 10) for t in (0, 5, 9, 50)] == [1.0] * 4


def test_linear_decays_from_start_step_to_end_at_the_end_of_the_run():
    # 1 - (1 - end) * (t - start) / (T - start)
    assert [Linear().factor(t, 10) for t in (0, 5, 9, 10, 30)] == pytest.approx([1, 0.5, 0.1, 0, 0])
    late = Linear(end=0.2, start_step=4)
    assert [late.factor(t, 12) for t in (0, 3, 4, 8, 12, 20)] == pytest.approx([1, 1, 1, 0.6, 0.2, 0.2])
    assert Linear(steps=6).factor(3, 100) == pytest.approx(0.5)  # its own span, not the run's
    assert Linear(start_step=10).factor(20, 10) == 1.0  # a decay that never starts


def test_cosine_anneals_as_sgdr_without_restarts():
    # eta_min + (1 - eta_min) * (1 + cos(pi * t / T)) / 2
    half_way_up = (1 + math.cos(math.pi / 4)) / 2
    assert [Cosine().factor(t, 4) for t in (0, 1, 2, 4, 9)] == pytest.approx([1, half_way_up, 0.5, 0, 0])
    assert Cosine(eta_min=0.1).factor(2, 4) == pytest.approx(0.55)
    assert Cosine(eta_min=0.1, steps=8).factor(4, 1000) == pytest.approx(0.55)


def test_step_decay_multiplies_by_gamma_every_every_steps():
    decay = StepDecay(gamma=0.5, every=3)
    assert [decay.factor(t, 100) for t in (0, 2, 3, 5, 6, 8, 9)] == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125]


@pytest.mark.parametrize("spec,message", [
    ("linear:end=-0.1", "end"), ("linear:start_step=-1", "start_step"), ("cosine:eta_min=-1", "eta_min"),
    ("step:gamma=0", "gamma"), ("step:every=0", "every"), ("cosine:steps=-2", "steps"),
])
def test_bad_options_are_one_line_usage_errors(registry, tmp_path, spec, message):
    cfg = tiny(registry, extra=[f"schedule_d={spec}"])
    with pytest.raises(UsageError, match=f"schedule '{spec.partition(':')[0]}': {message}"):
        Trainer(cfg, registry, tmp_path / "run")  # refused before anything is written
    assert not (tmp_path / "run").exists()


# -- in a run ------------------------------------------------------------------------------------


def test_the_rates_a_run_logs_follow_its_schedules(registry, tmp_path):
    cfg = tiny(registry, extra=DECAYING)
    assert cfg.schedule_g.name == "linear" and cfg.schedule_g.options["end"] == 0.25
    train(cfg, registry, tmp_path / "run", progress=False)
    rows = logged(tmp_path / "run")
    assert [r["step"] for r in rows] == [4, 8, 12, 16, 20, 24]
    for r in rows:  # the rates of the row's last step, t = step - 1
        t = r["step"] - 1
        assert r["lr_g"] == pytest.approx(2e-4 * (1 - 0.75 * t / STEPS))
        assert r["lr_d"] == pytest.approx(2e-4 * 0.5 ** (t // 5))
    state = read_checkpoint(RunDir(tmp_path / "run").checkpoint)
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(rows[-1]["lr_g"])
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.5 ** 4)


def test_the_rate_reaches_the_optimizer(registry, tmp_path):
    # a rate of 0 after the first step: G stays where its first update took it, D goes on
    frozen = ["schedule_g=linear:steps=1"]
    for steps in (1, 6):
        train(tiny(registry, steps, extra=frozen), registry, tmp_path / f"r{steps}", progress=False)
    one, six = (read_checkpoint(RunDir(tmp_path / f"r{n}").checkpoint) for n in (1, 6))
    for k, v in one["generator"].items():
        assert torch.equal(v, six["generator"][k]), k
    assert any(not torch.equal(v, six["discriminator"][k]) for k, v in one["discriminator"].items())


def test_constant_leaves_the_run_as_it_was_and_old_configs_read_as_constant(registry, tmp_path):
    cfg = tiny(registry, 8)
    assert (cfg.schedule_g.name, cfg.schedule_d.name) == ("constant", "constant")
    old = cfg.to_dict()
    del old["schedule_g"], old["schedule_d"]  # a config.json written before the fields
    read = RunConfig.from_dict(old)
    assert read.schedule_g.name == read.schedule_d.name == "constant"
    train(read, registry, tmp_path / "old", progress=False)
    train(cfg, registry, tmp_path / "new", progress=False)
    timing = ("steps_per_s", "time_s")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]  # noqa: E731
    assert strip(logged(tmp_path / "old")) == strip(logged(tmp_path / "new"))
    assert {r["lr_g"] for r in logged(tmp_path / "new")} == {2e-4}
    state = read_checkpoint(RunDir(tmp_path / "new").checkpoint)
    assert state["opt_g"]["param_groups"][0]["lr"] == 2e-4  # never touched: exactly as built


def test_a_resume_between_two_decays_equals_the_straight_run(registry, tmp_path):
    # stopped at step 7 (D's rate halves at 5 and 10) and resumed; G decays over all 24 steps
    cfg = tiny(registry, extra=[*DECAYING, "log_every=1"])
    state = assert_resumes_bit_identically(cfg, registry, tmp_path, stop=7)
    assert state["opt_d"]["param_groups"][0]["lr"] == pytest.approx(2e-4 * 0.5 ** 4)


def test_seeds_trained_together_set_and_log_the_rates_of_one_by_one(registry, tmp_path):
    seeds = (0, 1, 2)
    configs = [tiny(registry, 20, DECAYING, seed=s) for s in seeds]
    assert why_not(configs[0], registry) is None
    for s, c in zip(seeds, configs):
        train(c, registry, tmp_path / f"one-{s}", progress=False)
    SeedBatch([prepare(c, registry, tmp_path / f"batch-{s}") for s, c in zip(seeds, configs)]).fit()
    for s in seeds:
        a, b = logged(tmp_path / f"one-{s}"), logged(tmp_path / f"batch-{s}")
        assert [(r["lr_g"], r["lr_d"]) for r in a] == [(r["lr_g"], r["lr_d"]) for r in b]
        for ra, rb in zip(a, b):  # equal up to the order of floating-point sums
            for k in ("d_loss", "g_loss", "diag/d_gap"):
                assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-6), (s, ra["step"], k)
        ca, cb = (read_checkpoint(RunDir(tmp_path / f"{how}-{s}").checkpoint) for how in ("one", "batch"))
        for opt in ("opt_g", "opt_d"):  # the stack's rates are written back with its state
            assert cb[opt]["param_groups"][0]["lr"] == ca[opt]["param_groups"][0]["lr"]
        for net in ("generator", "discriminator"):
            for k, v in ca[net].items():
                torch.testing.assert_close(cb[net][k], v, rtol=1e-4, atol=2e-4)
