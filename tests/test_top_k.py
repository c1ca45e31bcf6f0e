"""Top-k generator updates: k's schedule and the kept logits by hand, a real run, resume."""

import copy

import pytest
import torch
import torch.nn.functional as F
from test_trainer import tiny

from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.plugins.top_k import TopK
from ganagerie.testing import assert_resumes_bit_identically
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import Trainer


def assert_resume_is_bit_identical(registry, tmp_path, steps, **kw):
    """``steps`` in one go and in two halves with a resume give the same state and logs."""
    return assert_resumes_bit_identically(tiny(registry, steps, **kw), registry, tmp_path)


@pytest.mark.parametrize("step, batch, k", [
    (0, 32, 32), (9, 32, 32),  # epoch 0: the whole batch
    (10, 32, 31),  # epoch 1: int(0.99 * 32) = int(31.68)
    (100, 32, 28),  # epoch 10: int(0.99^10 * 32) = int(28.94)
    (680, 32, 16),  # epoch 68: int(0.99^68 * 32) = int(16.16)
    (690, 32, 16),  # epoch 69: 0.99^69 * 32 = 15.99 is under the floor 0.5 * 32 = 16
    (10**6, 32, 16), (10**6, 10, 5), (10**6, 1, 1),  # the floor; never 0
])
def test_k_decays_by_gamma_each_epoch_down_to_nu_times_the_batch(step, batch, k):
    assert TopK(gamma=0.99, nu=0.5, decay_every=10).k_at(step, batch) == k


def test_the_k_highest_logits_are_kept_and_only_they_get_gradient():
    logits = torch.tensor([0.5, -1.0, 2.0, 0.0, 3.0, -2.0, 1.0, 0.25, -0.5, 4.0], requires_grad=True)
    top = TopK(decay_every=1)
    assert torch.equal(top.generator_logits(logits, 0), logits.sort(descending=True).values)
    # epoch 1: k = int(9.9) = 9 drops the worst, -2.0
    nine = top.generator_logits(logits, 1)
    assert sorted(nine.tolist()) == [-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 4.0]
    kept = top.generator_logits(logits, 1000)  # the floor: k = 5
    assert sorted(kept.tolist()) == [0.5, 1.0, 2.0, 3.0, 4.0]
    assert top.log_values() == {"k": 5}
    kept.sum().backward()
    assert logits.grad.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_generator_loss_is_the_mean_over_the_kept_fakes(registry, tmp_path):
    cfg = tiny(registry, 1, variant="top-k", regularizers=["top-k:decay_every=1"])
    trainer = Trainer(cfg, registry, tmp_path)
    trainer.step = 1000  # k at its floor: 16 of 32
    rng = torch.get_rng_state()
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    with torch.no_grad():
        out = D(G(G.sample_noise(32)))
    expected = F.softplus(-out.topk(16).values).mean()  # non-saturating: -log sigmoid
    torch.set_rng_state(rng)
    g = trainer.stepper.g_update()
    assert torch.allclose(g.log[0], expected)
    assert not torch.allclose(g.log[0], F.softplus(-out).mean())


def test_a_run_logs_k_and_resumes_bit_identically(registry, tmp_path):
    extra = ["reg.top-k.decay_every=20"]
    assert_resume_is_bit_identical(registry, tmp_path, 200, variant="top-k", extra=extra)
    rows = [r for r in read_jsonl(RunDir(tmp_path / "full").metrics) if "top-k/k" in r]
    # the last G step is step 199, epoch 9: int(0.99^9 * 32) = int(29.23)
    assert rows[0]["top-k/k"] == 32 and rows[-1]["top-k/k"] == 29


@pytest.mark.parametrize("options, message", [
    ({"gamma": 0.0}, "gamma"), ({"gamma": 1.5}, "gamma"), ({"nu": 0}, "nu"),
    ({"decay_every": 0}, "decay_every"),
])
def test_bad_options_are_usage_errors(registry, options, message):
    with pytest.raises(UsageError, match=message):
        registry.create("regularizer", "top-k", options)
