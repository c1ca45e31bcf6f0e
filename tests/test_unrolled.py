"""Unrolled GAN: one step against a hand-written reference, D restored, a real run and resume."""

import copy

import pytest
import torch
import torch.nn.functional as F
from test_top_k import assert_resume_is_bit_identical
from test_trainer import tiny

from ganagerie.errors import UsageError
from ganagerie.train.trainer import Trainer


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_one_step_matches_a_hand_written_unrolled_step(registry, tmp_path):
    k, batch = 3, 32
    cfg = tiny(registry, 1, variant="unrolled-5", regularizers=[f"unrolled:k={k}"])
    trainer = Trainer(cfg, registry, tmp_path)
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    rng, data = torch.get_rng_state(), trainer.source.state_dict()
    trainer.stepper.train_step()

    # the same step by hand: torch.optim, the minimax loss, the same batches and noise
    torch.set_rng_state(rng)
    trainer.source.load_state_dict(data)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=cfg.betas_g)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=cfg.betas_d)

    def d_step():
        real = trainer.source.next()
        with torch.no_grad():
            fake = G(G.sample_noise(batch))
        loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()

    d_step()
    kept_d, kept_opt = copy.deepcopy(D), copy.deepcopy(opt_d.state_dict())
    for _ in range(k):
        d_step()
    z = G.sample_noise(batch)
    G_plain = copy.deepcopy(G)  # G stepped against the kept D instead, to show the test can tell
    for gen, disc in ((G, D), (G_plain, kept_d)):
        opt = torch.optim.Adam(gen.parameters(), lr=cfg.lr_g, betas=cfg.betas_g) if gen is G_plain else opt_g
        opt.zero_grad(set_to_none=True)
        (-F.softplus(disc(gen(z))).mean()).backward()  # minimax: G minimises log(1 - D(G(z)))
        opt.step()

    assert same(trainer.G, G) and not same(trainer.G, G_plain)
    # D and its optimizer are back to where the one kept update left them
    assert same(trainer.D, kept_d) and not same(trainer.D, D)
    state = trainer.opt_d.state_dict()["state"]
    assert all(torch.equal(state[i][key], kept_opt["state"][i][key])
               for i in state for key in ("step", "exp_avg", "exp_avg_sq"))
    assert state[0]["step"] == 1


def test_zero_unrolling_is_the_plain_step(registry, tmp_path):
    trainers = []
    for name, regs in (("plain", []), ("unrolled", ["unrolled:k=0"])):
        trainer = Trainer(tiny(registry, 3, variant="vanilla", regularizers=regs), registry, tmp_path / name)
        for _ in range(3):  # built, then stepped, before the next one seeds the global RNG again
            trainer.stepper.train_step()
        trainers.append(trainer)
    plain, unrolled = trainers
    assert same(plain.G, unrolled.G) and same(plain.D, unrolled.D)


def test_a_run_trains_and_resumes_bit_identically(registry, tmp_path):
    assert_resume_is_bit_identical(registry, tmp_path, 200, variant="unrolled-5")


def test_negative_k_is_a_usage_error(registry):
    with pytest.raises(UsageError, match="k"):
        registry.create("regularizer", "unrolled", {"k": -1})
