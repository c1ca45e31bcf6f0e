"""ADA: p's update against a sequence worked out by hand, the pipeline at p = 0 and p = 1,
and a digits run that resumes bit-identically."""

import json

import pytest
import torch

from ganagerie.components import DStep
from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.plugins import augment_ops as aug
from ganagerie.plugins.ada import ADA
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import train

TINY_DIGITS = ["arch.width=8", "arch.latent_dim=16", "batch_size=32", "log_every=5"]


def d_step(signs, batch=8):
    """A discriminator update whose real logits have the given signs (repeated to ``batch``)."""
    out = torch.tensor(signs, dtype=torch.float32).repeat(batch // len(signs)) * 3.0
    return DStep(None, None, torch.zeros(batch, 1, 4, 4), torch.zeros(batch, 1, 4, 4), out, -out)


def test_p_follows_the_sign_of_r_t_minus_target_by_hand():
    # batch 8, interval 2, ada_kimg 0.1: each adjustment moves p by 8 * 2 / 100 = 0.16
    ada = ADA(interval=2, ada_kimg=0.1, target=0.6)
    seen = []
    for signs in ([1], [1], [1], [1], [-1], [-1], [-1], [-1], [-1], [-1]):
        ada.after_d_step(d_step(signs))
        seen.append(ada.p.item())
    # p moves only every second update; it rises to 0.32, falls back and stops at 0
    assert seen == pytest.approx([0, 0.16, 0.16, 0.32, 0.32, 0.16, 0.16, 0, 0, 0], abs=1e-6)


def test_r_t_is_the_mean_sign_over_the_interval():
    ada = ADA(interval=2, ada_kimg=0.1, p=0.5)
    ada.after_d_step(d_step([1, 1, 1, -1]))  # mean sign 0.5
    ada.after_d_step(d_step([1, 1, 1, 1]))  # mean sign 1
    assert ada.r_t.item() == pytest.approx(0.75)
    assert ada.p.item() == pytest.approx(0.66)  # 0.75 > 0.6: up by 0.16
    ada.after_d_step(d_step([1, 1, 1, -1]))
    ada.after_d_step(d_step([1, 1, 1, -1]))
    assert ada.r_t.item() == pytest.approx(0.5) and ada.p.item() == pytest.approx(0.5)  # 0.5 < 0.6


def test_p_reaches_one_and_stays_there():
    ada = ADA(interval=1, ada_kimg=0.008, p=0.9)  # steps of 8 / 8 = 1
    ada.after_d_step(d_step([1]))
    assert ada.p.item() == 1.0


def test_paper_defaults_move_p_by_batch_times_interval_over_500k_images():
    ada = ADA()
    for _ in range(4):
        assert ada.p.item() == 0  # no adjustment before the fourth update
        ada.after_d_step(d_step([1], batch=32))
    assert ada.p.item() == pytest.approx(32 * 4 / 500_000, rel=1e-6)
    assert ada.log_values()["p"].item() == ada.p.item() and ada.log_values()["rt"].item() == 1.0


def test_fixed_p_does_not_adapt():
    ada = ADA(p=0.3, adaptive=False)
    for _ in range(8):
        ada.after_d_step(d_step([1]))
    assert ada.p.item() == pytest.approx(0.3) and ada.r_t.item() == 1.0  # still measured


def test_p_zero_is_the_identity_and_p_one_always_augments():
    x = torch.rand(64, 3, 8, 8) * 2 - 1
    assert torch.equal(ADA(p=0.0).transform(x, 0), x)
    torch.manual_seed(0)
    out = ADA(p=1.0, ops="brightness").transform(x, 0)
    assert ((out - x).flatten(1).std(1) < 1e-6).all() and ((out - x).abs() > 0).all()


def test_rotate90_at_p_one_gives_one_of_the_four_rotations():
    x = torch.randn(200, 1, 4, 4)
    torch.manual_seed(0)
    out = ADA(p=1.0, ops="rotate90").transform(x, 0)
    turns = []
    for o, xi in zip(out, x):
        matches = [k for k in range(4) if torch.equal(o, torch.rot90(xi, k, dims=(1, 2)))]
        assert len(matches) == 1
        turns += matches
    assert set(turns) == {0, 1, 2, 3}


def test_translation_at_p_one_is_an_integer_shift_of_at_most_an_eighth_with_reflection():
    x = torch.randn(300, 1, 8, 8)
    torch.manual_seed(0)
    out = ADA(p=1.0, ops="translation").transform(x, 0)
    shifts = set()
    for o, xi in zip(out, x):
        found = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                 if torch.equal(o, aug.translate(xi[None], torch.tensor([dy]), torch.tensor([dx]),
                                                 padding="reflect")[0])]
        assert len(found) == 1
        shifts.add(found[0])
    assert len(shifts) == 9


def test_color_parameters_have_the_papers_spread():
    torch.manual_seed(0)
    grey = torch.full((20000, 1, 2, 2), 0.5)
    b = (ADA(p=1.0, ops="brightness").transform(grey, 0) - grey)[:, 0, 0, 0]
    assert b.std().item() == pytest.approx(0.2, rel=0.03)
    c = ADA(p=1.0, ops="contrast").transform(grey, 0)[:, 0, 0, 0] / 0.5
    assert c.log2().std().item() == pytest.approx(0.5, rel=0.03)


def test_gradient_reaches_the_input_through_every_operation():
    x = torch.randn(16, 3, 8, 8, requires_grad=True)
    ADA(p=1.0, ops="flip,rotate90,translation,brightness,contrast,saturation,cutout").transform(
        x, 0).pow(2).sum().backward()
    assert x.grad.abs().sum() > 0


def test_state_round_trip_and_bad_options(registry):
    ada = ADA(interval=3)
    for _ in range(4):
        ada.after_d_step(d_step([1]))
    fresh = ADA(interval=3)
    fresh.load_state_dict(ada.state_dict())
    assert fresh.state_dict().keys() == ada.state_dict().keys()
    for key, value in ada.state_dict().items():
        assert torch.equal(torch.as_tensor(fresh.state_dict()[key]), torch.as_tensor(value)), key
    with pytest.raises(UsageError, match="target"):
        registry.create("regularizer", "ada", {"target": 1.5})
    with pytest.raises(UsageError, match="unknown operation 'hue'"):
        registry.create("regularizer", "ada", {"ops": "hue"})
    with pytest.raises(ValueError, match="ada works on images"):
        ADA().discriminator_shape((2,))


def test_digits_run_resumes_bit_identically(registry, tmp_path):
    # ada_kimg 1 makes p move by 0.128 per adjustment; the checkpoint at step 10 falls
    # mid-interval, so the half-collected statistics must be restored too
    def cfg(steps):
        return resolve_config(registry, dataset="digits", variant="ada", overrides={"steps": steps},
                              sets=[*TINY_DIGITS, "checkpoint_every=10", "reg.ada.ada_kimg=1"])

    train(cfg(20), registry, tmp_path / "full", progress=False)
    train(cfg(10), registry, tmp_path / "part", progress=False)
    train(cfg(20), registry, tmp_path / "part", resume=True, progress=False)
    full = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.json")
    part = read_checkpoint(tmp_path / "part" / "checkpoints" / "last.json")
    for key in ("generator", "discriminator"):
        for name, tensor in full[key].items():
            assert torch.equal(tensor, part[key][name]), (key, name)
    assert full["techniques"]["ada"].keys() == part["techniques"]["ada"].keys()
    for key, value in full["techniques"]["ada"].items():
        assert torch.equal(torch.as_tensor(value), torch.as_tensor(part["techniques"]["ada"][key])), key
    rows = [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
            for r in read_jsonl(RunDir(tmp_path / "full").metrics)]
    assert rows == [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
                    for r in read_jsonl(RunDir(tmp_path / "part").metrics)]
    assert {r["ada/p"] for r in rows} != {0.0}  # p did move
    assert json.loads((tmp_path / "full" / "config.json").read_text())["regularizers"][0]["name"] == "ada"
