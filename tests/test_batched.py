"""Seed-batched training: the seeds of a cell trained together equal one-by-one training,
write the same files, resume, and fall back (saying why) where a component cannot be batched."""

from __future__ import annotations

import json

import helpers
import pytest
import torch

from ganagerie.components import DStep
from ganagerie.config import resolve_config
from ganagerie.files import read_jsonl
from ganagerie.train.batched import SeedBatch, SeedRng, Stacked, why_not
from ganagerie.train.checkpoint import read_checkpoint
from ganagerie.train.rundir import RunDir
from ganagerie.train.trainer import prepare

TINY = helpers.tiny(log_every=5, checkpoint_every=10)
COLUMNS_SKIPPED = ("steps_per_s", "time_s")


def cfg(registry, seed, steps, variant="vanilla", extra=()):
    regs = [e.removeprefix("reg:") for e in extra if e.startswith("reg:")]
    sets = [e for e in extra if not e.startswith("reg:")]
    return resolve_config(registry, dataset="ring8", variant=variant, regularizers=regs,
                          overrides={"steps": steps, "seed": seed}, sets=[*TINY, *sets])


def rows(run_dir):
    return [{k: v for k, v in r.items() if k not in COLUMNS_SKIPPED}
            for r in read_jsonl(RunDir(run_dir).metrics) if "d_loss" in r]


def one_by_one(registry, tmp_path, seeds, steps, variant, extra=()):
    for s in seeds:
        prepare(cfg(registry, s, steps, variant, extra), registry, tmp_path / f"one-{s}").fit(progress=False)


def together(registry, tmp_path, seeds, steps, variant, extra=(), resume=False, name="batch"):
    trainers = [prepare(cfg(registry, s, steps, variant, extra), registry, tmp_path / f"{name}-{s}",
                        resume=resume) for s in seeds]
    return SeedBatch(trainers).fit()


def assert_close_rows(a, b, rtol, grad_rtol=None):
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for k in ra:
            if k != "step":
                tol = grad_rtol if grad_rtol and k.endswith("grad_norm") else rtol
                assert ra[k] == pytest.approx(rb[k], rel=tol, abs=1e-6), (ra["step"], k)


@pytest.mark.parametrize("variant,extra", [
    ("vanilla", ()),
    ("wgan-gp", ()),  # a gradient inside the step, randomness inside a penalty, 5 D steps
    ("feature-matching", ()),
    ("spectral-norm", ()),  # SNGAN: power-iteration vectors per seed, hinge, 5 D steps
    ("rsgan", ()),  # the G loss reads D's logits on real data
    ("vanilla", ("reg:r1",)),  # R1: the input gradient of real data
    # PacGAN's code: batch norm in G (its hidden layers without bias: a bias before batch norm
    # has no effect on the output, and Adam turns its rounding-noise gradient into full steps
    # that differ between any two summation orders), maxout D, simultaneous updates, G's
    # statistics moved once per step
    ("vanilla", ("arch.g_batchnorm=true", "arch.g_hidden_bias=false", "arch.d_maxout=3",
                 "update=simultaneous", "generator_stats=own-update")),
])
def test_seeds_together_match_one_by_one(registry, tmp_path, variant, extra):
    one_by_one(registry, tmp_path, [0, 1, 2], 20, variant, extra)
    results = together(registry, tmp_path, [0, 1, 2], 20, variant, extra)
    assert [r.status for r in results] == ["completed"] * 3
    for s in range(3):
        a, b = rows(tmp_path / f"one-{s}"), rows(tmp_path / f"batch-{s}")
        assert len(a) == 4
        # equal up to the order of floating-point sums. Batched spectral norm computes sigma
        # with a product and a sum instead of torch.mv: in one window of one seed that moved G's
        # gradient norm by 1e-3 (back to 6e-5 a window later; the losses stay within 1e-6)
        assert_close_rows(a, b, rtol=1e-4, grad_rtol=2e-3 if variant == "spectral-norm" else None)
        ca = read_checkpoint(RunDir(tmp_path / f"one-{s}").checkpoint, "cpu")
        cb = read_checkpoint(RunDir(tmp_path / f"batch-{s}").checkpoint, "cpu")
        for net in ("generator", "discriminator"):
            for k, v in ca[net].items():
                # Adam turns an element's gradient that is rounding noise into a whole step of
                # lr (1e-4 to 2e-4 here), so such elements may differ by about one step.
                # Spectral norm's power-iteration vectors: where a layer's two largest singular
                # values are close their direction is ill-conditioned (seen: 8e-4), while
                # sigma = u^T W v, all that the network uses, moves only at second order.
                vectors = k.endswith(("._u", "._v"))
                torch.testing.assert_close(cb[net][k], v, rtol=1e-4, atol=2e-3 if vectors else 2e-4)
        moments = ca["opt_d"]["state"][0]
        torch.testing.assert_close(cb["opt_d"]["state"][0]["exp_avg"], moments["exp_avg"],
                                   rtol=1e-3, atol=1e-6)
        assert torch.equal(cb["rng_cpu"], ca["rng_cpu"])  # each seed drew exactly its own numbers
    # the seeds are different runs, not copies
    assert rows(tmp_path / "batch-0")[-1]["d_loss"] != rows(tmp_path / "batch-1")[-1]["d_loss"]


@pytest.mark.parametrize("variant", ["ragan", "spectral-norm", "wgan-gp"])
def test_in_float64_seeds_together_are_one_by_one_to_rounding(registry, tmp_path, float64, variant):
    """The float32 tolerances above are rounding order, not a different computation: in float64
    the same runs agree to 1e-9. RaGAN is checked here only: both of its losses read a batch
    mean of the other side's logits, and in float32 two of its 32 G parameters of one seed
    ended 3.5e-4 apart after 20 steps (Adam, betas 0.5/0.999, moves rounding-noise gradients by
    whole steps of lr), while in float64 the largest difference was 9e-12."""
    one_by_one(registry, tmp_path, [0, 1, 2], 20, variant)
    together(registry, tmp_path, [0, 1, 2], 20, variant)
    for s in range(3):
        assert_close_rows(rows(tmp_path / f"one-{s}"), rows(tmp_path / f"batch-{s}"), rtol=1e-9)
        ca = read_checkpoint(RunDir(tmp_path / f"one-{s}").checkpoint, "cpu")
        cb = read_checkpoint(RunDir(tmp_path / f"batch-{s}").checkpoint, "cpu")
        for net in ("generator", "discriminator"):
            for k, v in ca[net].items():
                assert v.dtype == torch.float64 or not v.is_floating_point(), k
                torch.testing.assert_close(cb[net][k], v, rtol=0, atol=1e-9)


def test_a_batched_run_resumes_batched_or_alone_from_its_checkpoints(registry, tmp_path):
    together(registry, tmp_path, [0, 1], 40, "wgan-gp", name="whole")
    together(registry, tmp_path, [0, 1], 20, "wgan-gp", name="part")  # stops at 20 with a checkpoint
    together(registry, tmp_path, [0, 1], 40, "wgan-gp", name="part", resume=True)
    for s in range(2):
        assert rows(tmp_path / f"part-{s}") == rows(tmp_path / f"whole-{s}")  # bit-identical
        a = read_checkpoint(RunDir(tmp_path / f"part-{s}").checkpoint, "cpu")
        b = read_checkpoint(RunDir(tmp_path / f"whole-{s}").checkpoint, "cpu")
        for k, v in a["discriminator"].items():
            assert torch.equal(v, b["discriminator"][k])
    # a batched checkpoint is an ordinary one: a run resumes from it alone
    together(registry, tmp_path, [0, 1], 20, "wgan-gp", name="mixed")
    prepare(cfg(registry, 1, 40, "wgan-gp"), registry, tmp_path / "mixed-1", resume=True).fit(progress=False)
    assert_close_rows(rows(tmp_path / "mixed-1"), rows(tmp_path / "whole-1"), rtol=1e-4)
    assert json.loads(RunDir(tmp_path / "mixed-1").status.read_text())["status"] == "completed"


def test_seed_rng_draws_each_seeds_stream():
    states = []
    for seed in (3, 4):
        torch.manual_seed(seed)
        states.append((torch.get_rng_state(), None))
    rng = SeedRng(states)
    first = rng.each(lambda s: torch.rand(2))
    second = rng.each(lambda s: torch.rand(2))
    for i, seed in enumerate((3, 4)):
        torch.manual_seed(seed)
        assert torch.equal(first[i], torch.rand(2)) and torch.equal(second[i], torch.rand(2))


def test_stacked_context_helpers_reduce_per_seed():
    """``rand`` gives one number per sample and seed; ``batch_mean`` keeps the seed axis."""
    real = torch.zeros(3, 5, 2)
    torch.manual_seed(0)
    states = [(torch.get_rng_state(), None)] * 3  # the same stream for all: equal draws
    ctx = DStep(None, None, real, real, None, None, batch_dims=2, seed_rng=SeedRng(states))
    eps = ctx.rand(1, like=real)
    assert eps.shape == (3, 5, 1) and torch.equal(eps[0], eps[2])
    x = torch.arange(30.0).view(3, 5, 2)
    assert torch.equal(ctx.batch_mean(x), x.mean(1))  # [S, F]
    plain = DStep(None, None, real[0], real[0], None, None)
    assert plain.rand(1, like=real[0]).shape == (5, 1)
    assert plain.batch_mean(x[0]).shape == (2,)


def test_stacked_networks_give_each_seed_its_own_output(registry):
    arch = registry.create("architecture", "mlp", {"g_width": 8, "d_width": 8, "g_batchnorm": True})
    nets = [arch.build((2,)) for _ in range(3)]
    G, D = Stacked([n[0] for n in nets]), Stacked([n[1] for n in nets])
    G.bind_views()  # each seed's own modules now read (and write) the stack
    z = torch.randn(3, 6, 2)
    out = G(z)
    # BN statistics moved per seed in the stacked forward, and the seeds' modules see them
    stacked_mean = G.buffers["net.1.running_mean"]
    assert not torch.equal(stacked_mean[0], stacked_mean[1])
    assert torch.equal(nets[1][0].net[1].running_mean, stacked_mean[1])
    for net in (*(n for pair in nets for n in pair), G.base, D.base):
        net.eval()
    out = G(z)
    for s, (g, d) in enumerate(nets):
        torch.testing.assert_close(out[s], g(z[s]))
        torch.testing.assert_close(D(out)[s], d(g(z[s])))


def test_why_not_names_the_component(registry):
    def reason(variant, extra=(), mode="on"):
        return why_not(cfg(registry, 0, 10, variant, extra), registry, mode)

    assert reason("vanilla") is None and reason("wgan-gp") is None
    assert reason("spectral-norm") is None
    # every technique batches: its hooks run per seed where it does not declare seed_batched
    assert reason("pacgan2") is None and reason("unrolled-5") is None and reason("wgan") is None
    assert reason("vanilla", mode="off") == "--batch-seeds off"
    # PacGAN's 2-D networks at batch 100: larger than where batching pays on a CPU
    big = ("arch.g_width=400", "arch.g_depth=4", "arch.d_width=200", "arch.d_maxout=5",
           "batch_size=100")
    assert reason("vanilla", big) is None
    assert "one seed at a time" in reason("vanilla", big, mode="auto")
    # on a CPU, two seeds were measured to train faster apart
    small = cfg(registry, 0, 10, "vanilla")
    assert why_not(small, registry, "auto", seeds=3) is None
    assert "2 seeds train faster one at a time" in why_not(small, registry, "auto", seeds=2)
    assert why_not(small, registry, "on", seeds=2) is None


def test_a_suite_with_seeds_together_agrees_with_one_by_one(registry, tmp_path, capsys):
    from ganagerie.bench.harness import run_suite
    from ganagerie.bench.suite import load_suite
    from ganagerie.errors import UsageError

    path = tmp_path / "pair.toml"
    path.write_text(helpers.tiny_suite(["vanilla", "wgan"], seeds=3, steps=60, eval_every=60,
                                       eval_samples=500, checkpoint_every=20))
    suite = load_suite(str(path))
    run_suite(suite, tmp_path / "off", registry, jobs=1, threads=1, batch_seeds="off", progress=False)
    assert "seeds train one at a time" not in capsys.readouterr().err
    outcomes = run_suite(suite, tmp_path / "on", registry, jobs=1, threads=1, batch_seeds="on",
                         progress=False)
    assert [o.status for o in outcomes] == ["completed"] * 6
    err = capsys.readouterr().err
    assert "seeds train one at a time" not in err  # weight clipping's cell batches too
    off = json.loads((tmp_path / "off" / "results.json").read_text())
    on = json.loads((tmp_path / "on" / "results.json").read_text())
    assert on["options"]["batch_seeds"] == "on" and off["options"]["batch_seeds"] == "off"
    for variant, block in off["datasets"]["ring8"]["variants"].items():
        for metric, s in block["metrics"].items():
            other = on["datasets"]["ring8"]["variants"][variant]["metrics"][metric]
            # the same numbers up to summation order: each mean well inside the other's interval
            assert s["ci_low"] - 1e-6 <= other["mean"] <= s["ci_high"] + 1e-6, (variant, metric)
    # every seed wrote a complete run directory of today's format
    for seed in range(3):
        run = tmp_path / "on" / "runs" / "ring8" / "vanilla" / f"seed-{seed}"
        assert json.loads((run / "status.json").read_text())["status"] == "completed"
        assert (run / "eval.json").exists() and (run / "checkpoints" / "last.json").exists()
    # a suite keeps the mode it started with
    with pytest.raises(UsageError, match="started with --batch-seeds on"):
        run_suite(suite, tmp_path / "on", registry, jobs=1, threads=1, batch_seeds="off", progress=False)
    again = run_suite(suite, tmp_path / "on", registry, jobs=1, threads=1, progress=False)
    assert all(o.reused for o in again)
    # each run records the seeds it trained with, and verify re-trains one seed in that group:
    # alone it would differ in the last bits (summation order), so it would not verify
    assert {r["key"]: r["trained_with"] for r in on["runs"]}["ring8/wgan/seed-1"] == [0, 1, 2]
    assert all(r["trained_with"] is None for r in off["runs"])
    from ganagerie.bench.verify import verify

    differences, where, n = verify(tmp_path / "on", registry, runs=["ring8/wgan/seed-1"],
                                   out=tmp_path / "verify", jobs=1, progress=False)
    assert (differences, n) == ([], 3)
    assert sorted(p.name for p in (where / "runs" / "ring8" / "wgan").iterdir()) == [
        "seed-0", "seed-1", "seed-2"]
    # a report from before trained_with was recorded, whose seeds trained one by one while
    # today's auto rule batches them: verify re-trains each cell together and differs, and
    # says how to re-train one by one; --batch-seeds off does so, and it matches
    from ganagerie.bench.report import write_report
    from ganagerie.bench.results import content_hash
    from ganagerie.bench.verify import machine_note

    legacy = dict(off, options={**off["options"], "batch_seeds": "auto"},
                  runs=[{k: v for k, v in r.items() if k != "trained_with"} for r in off["runs"]])
    legacy["content_hash"] = content_hash(legacy)
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "results.json").write_text(json.dumps(legacy))
    write_report(tmp_path / "legacy", registry)
    said = (tmp_path / "legacy" / "report.md").read_text()
    assert "which seeds trained together was not recorded" in said
    assert "6 of 6 runs trained with other seeds" in (tmp_path / "on" / "report.md").read_text()
    assert "each run trained alone" in (tmp_path / "off" / "report.md").read_text()

    differences, _, n = verify(tmp_path / "legacy", registry, runs=["ring8/wgan/seed-1"],
                               out=tmp_path / "v-cell", jobs=1, progress=False)
    assert n == 3 and differences and all(d.startswith("ring8/wgan/seed-") for d in differences)
    assert "re-train so with --batch-seeds off" in machine_note(tmp_path / "legacy")
    assert "--batch-seeds off" not in machine_note(tmp_path / "legacy", "off")
    differences, _, n = verify(tmp_path / "legacy", registry, runs=["ring8/wgan/seed-1"],
                               out=tmp_path / "v-alone", jobs=1, progress=False, batch_seeds="off")
    assert (differences, n) == ([], 1)
    with pytest.raises(UsageError, match="--batch-seeds must be 'recorded' or 'off'"):
        verify(tmp_path / "legacy", registry, out=tmp_path / "v-bad", batch_seeds="on")
