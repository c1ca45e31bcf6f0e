"""The trainer: determinism, bit-exact resume, divergence, EMA, run directory contents."""

import copy
import json

import helpers
import torch
import torch.nn.functional as F

from ganagerie.config import resolve_config
from ganagerie.files import read_jsonl
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import Trainer, train

TINY = helpers.tiny()


def tiny(registry, steps, variant="wgan-gp", extra=(), **kw):
    return resolve_config(registry, dataset="ring8", variant=variant,
                          overrides={"steps": steps}, sets=[*TINY, *extra], **kw)


def losses(run_dir):
    return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
            for r in read_jsonl(RunDir(run_dir).metrics)]


def test_same_seed_gives_identical_losses_and_different_seed_does_not(registry, tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = tiny(registry, 40, extra=[f"seed={seed}"])
        train(cfg, registry, tmp_path / name, progress=False)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")
    assert losses(tmp_path / "a") != losses(tmp_path / "c")
    assert [r["step"] for r in losses(tmp_path / "a")] == [10, 20, 30, 40]


def test_resume_gives_the_same_weights_as_an_uninterrupted_run(registry, tmp_path):
    # EMA and BN in G make sure every piece of state is checkpointed
    extra = ["arch.g_batchnorm=true", "checkpoint_every=20"]
    ema = ["ema:decay=0.9"]
    train(tiny(registry, 60, extra=extra, regularizers=ema), registry, tmp_path / "full",
          progress=False)
    train(tiny(registry, 30, extra=extra, regularizers=ema), registry, tmp_path / "part",
          progress=False)
    cfg = json.loads((tmp_path / "part" / "config.json").read_text())
    assert cfg["steps"] == 30
    resumed = tiny(registry, 60, extra=extra, regularizers=ema)
    train(resumed, registry, tmp_path / "part", resume=True, progress=False)
    full = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.json")
    part = read_checkpoint(tmp_path / "part" / "checkpoints" / "last.json")
    assert full["step"] == part["step"] == 60
    full["ema"] = full["techniques"]["ema"]["average"]
    part["ema"] = part["techniques"]["ema"]["average"]
    for key in ("generator", "discriminator", "ema"):
        for name, tensor in full[key].items():
            assert torch.equal(tensor, part[key][name]), (key, name)
    assert losses(tmp_path / "full") == losses(tmp_path / "part")


def test_resume_drops_metrics_logged_after_the_checkpoint(registry, tmp_path):
    cfg = tiny(registry, 30, extra=["checkpoint_every=20"])
    train(cfg, registry, tmp_path / "r", progress=False)
    rd = RunDir(tmp_path / "r")
    # pretend the process died after logging step 30 but before checkpointing it
    trainer = Trainer(cfg, registry, rd.root)
    trainer.step = 20
    trainer.save_checkpoint()
    trainer.resume()
    assert [r["step"] for r in read_jsonl(rd.metrics)] == [10, 20]


def test_divergence_stops_the_run(registry, tmp_path):
    cfg = tiny(registry, 200, variant="vanilla", extra=["lr_d=1e30", "lr_g=1e30", "log_every=5"])
    result = train(cfg, registry, tmp_path / "d", progress=False)
    assert result.status == "diverged" and result.step < 200
    assert RunDir(tmp_path / "d").read_status()["status"] == "diverged"


def test_run_directory_contents(registry, tmp_path):
    cfg = tiny(registry, 20, variant="feature-matching", extra=["sample_every=10"])
    result = train(cfg, registry, tmp_path / "r", progress=False)
    rd = RunDir(tmp_path / "r")
    assert result.status == "completed"
    assert json.loads(rd.config.read_text()) == json.loads(json.dumps(cfg.to_dict()))
    rows = read_jsonl(rd.metrics)
    assert {"d_loss", "g_loss", "g/feature-matching", "steps_per_s"} <= set(rows[-1])
    assert sorted(p.name for p in rd.samples.iterdir()) == ["step_0000010.png", "step_0000020.png"]
    assert rd.read_status() == {"status": "completed", "step": 20, "steps": 20}
    assert not list(rd.root.rglob("*.tmp"))


def test_status_follows_the_checkpoints(registry, tmp_path, monkeypatch):
    """status.json says running at the step a resume would start from, then how the run ended."""
    written = []
    original = RunDir.write_status
    monkeypatch.setattr(RunDir, "write_status",
                        lambda rd, status, step, steps, **kw: (written.append((status, step)),
                                                               original(rd, status, step, steps, **kw)))
    train(tiny(registry, 30, variant="vanilla", extra=["checkpoint_every=10"]), registry, tmp_path / "r",
          progress=False)
    assert written == [("running", 0), ("running", 10), ("running", 20), ("running", 30), ("completed", 30)]


def test_feature_matching_alone_drives_the_generator(registry, tmp_path):
    cfg = tiny(registry, 1, variant="feature-matching")
    trainer = Trainer(cfg, registry, tmp_path)
    before = [p.clone() for p in trainer.G.parameters()]
    trainer.stepper.train_step()
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))


def test_generator_step_leaves_discriminator_gradients_alone(registry, tmp_path):
    trainer = Trainer(tiny(registry, 1, variant="vanilla"), registry, tmp_path)
    snapshots = []
    d_step = trainer.opt_d.step

    def record_then_step(*args, **kwargs):
        snapshots.append([p.grad.clone() for p in trainer.D.parameters()])
        return d_step(*args, **kwargs)

    trainer.opt_d.step = record_then_step
    trainer.stepper.train_step()
    # the G step backpropagates through D but must not add to D's gradients
    assert len(snapshots) == 1
    assert all(torch.equal(a, p.grad) for a, p in zip(snapshots[0], trainer.D.parameters()))


def test_simultaneous_step_takes_both_gradients_before_either_side_moves(registry, tmp_path):
    cfg = tiny(registry, 1, variant="vanilla", extra=["update=simultaneous", "arch.g_batchnorm=true",
                                                      "generator_stats=own-update"])
    trainer = Trainer(cfg, registry, tmp_path)
    G0, D0 = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    state = torch.get_rng_state()
    source = copy.deepcopy(trainer.source.state_dict())
    trainer.stepper.train_step()
    # the same step by hand: one batch, one noise draw, both losses against the old networks
    torch.set_rng_state(state)
    trainer.source.load_state_dict(source)
    real, z = trainer.source.next(), G0.sample_noise(cfg.batch_size)
    fake = G0(z)
    g_loss = F.softplus(-D0(fake)).mean()
    g_grads = torch.autograd.grad(g_loss, list(G0.parameters()))
    d_loss = F.softplus(-D0(real)).mean() + F.softplus(D0(fake.detach())).mean()
    d_grads = torch.autograd.grad(d_loss, list(D0.parameters()))
    for net, grads, lr in ((G0, g_grads, cfg.lr_g), (D0, d_grads, cfg.lr_d)):
        opt = torch.optim.Adam(net.parameters(), lr=lr, betas=cfg.betas_g)
        for p, g in zip(net.parameters(), grads):
            p.grad = g
        opt.step()
    for a, b in zip([*G0.parameters(), *D0.parameters()], [*trainer.G.parameters(), *trainer.D.parameters()]):
        assert torch.allclose(a, b, atol=1e-6)
    # G's batch-norm statistics moved once: by its own forward
    bn0 = [m for m in G0.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    bn = [m for m in trainer.G.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    assert torch.equal(bn0.running_mean, bn.running_mean)


def test_generator_statistics_move_only_in_its_own_update(registry, tmp_path):
    for stats, moved in (("every-forward", True), ("own-update", False)):
        cfg = tiny(registry, 1, variant="vanilla", extra=["arch.g_batchnorm=true",
                                                          f"generator_stats={stats}"])
        trainer = Trainer(cfg, registry, tmp_path / stats)
        bn = [m for m in trainer.G.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
        before = bn.running_mean.clone()
        trainer.stepper.d_update()  # draws fakes from G in train mode
        assert (not torch.equal(before, bn.running_mean)) == moved, stats
        trainer.stepper.g_update()  # G's own update moves them in both modes
        assert not torch.equal(before, bn.running_mean)


def test_the_log_window_finds_the_first_bad_step_only_when_asked_and_across_a_checkpoint():
    """Rows of steps 1..6, step 4's not finite: the sums are one addition a step, the first
    bad step is 4 whether found at a checkpoint (state) or at the window's end, and it stays
    the run's through a reset and a reload."""
    import math

    from ganagerie.train.window import LogWindow

    window = LogWindow(2, 1, "cpu")
    rows = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [math.inf, 0.0], [1.0, math.nan], [0.0, 0.0]]
    for step, row in enumerate(rows[:2], start=1):
        window.add(torch.tensor(row), torch.tensor([float(step)]) if step == 2 else None, step)
    assert window.means().tolist() == [2.0, 3.0, 2.0]  # diagnostics: the mean over measured steps
    state = window.state_dict()
    assert int(state["first_bad"]) == -1 and state["n"] == 2 and state["diag_n"] == 1
    for step, row in enumerate(rows[2:], start=3):
        window.add(torch.tensor(row), None, step)
    assert window.first_bad() == 4
    again = LogWindow(2, 1, "cpu")
    again.load_state_dict(state)  # the checkpoint at step 2, then steps 3..6 once more
    for step, row in enumerate(rows[2:], start=3):
        again.add(torch.tensor(row), None, step)
    assert not math.isfinite(again.means()[0]) and again.n == 6
    again.reset(finite=False)
    assert again.first_bad() == 4 and again.n == 0 and again.sums.tolist() == [0.0, 0.0]
    again.add(torch.tensor([math.nan, 1.0]), None, 7)
    assert again.first_bad() == 4  # the first stays the first
    clean = LogWindow(1, 1, "cpu")
    clean.add(torch.tensor([1.0]), None, 1)
    clean.reset(finite=True)
    assert clean.first_bad() == -1
