"""Evaluation: default metrics per dataset, the ideal values on real data, determinism,
eval.json, `ganagerie eval` end to end, and `train --eval-every`."""

import json
import math

import helpers
import pytest
import torch
from torch import nn

from ganagerie.components import Generator
from ganagerie.config import resolve_config
from ganagerie.errors import UsageError
from ganagerie.evaluation.score import evaluate_generator
from ganagerie.evaluation.select import default_metrics
from ganagerie.files import read_jsonl
from ganagerie.runs import evaluate_run
from ganagerie.train.trainer import train

TINY = helpers.tiny()
IMAGE_METRICS = ["class-modes", "density-coverage", "fid", "is", "kid", "precision-recall"]


class Replay(Generator):
    """Plays back fixed samples in order, ignoring the noise: real data scored as generated."""

    def __init__(self, samples):
        super().__init__()
        self.latent_dim = 1
        self.samples, self.pos = samples, 0
        self.unused = nn.Parameter(torch.zeros(()))  # the noise is drawn on the parameters' device

    def forward(self, z):
        out = self.samples[self.pos : self.pos + len(z)]
        self.pos += len(z)
        return out


def values(result):
    return result["metrics"]


def test_each_dataset_gets_the_metrics_that_apply_to_it(registry):
    for name in ("ring8", "grid25"):
        assert default_metrics(registry, registry.create("dataset", name)) == ["mixture-modes"]
    for name in ("digits", "stacked-digits", "mnist"):
        assert default_metrics(registry, registry.create("dataset", name)) == IMAGE_METRICS


def test_ring8_real_data_is_ideal_and_one_mode_is_not(registry):
    ring8 = registry.create("dataset", "ring8")
    real = values(evaluate_generator(Replay(ring8.load("test").x), ring8, registry))["mixture-modes"]
    assert real["modes"] == 8 and real["high_quality_pct"] > 97 and real["reverse_kl"] < 0.01
    collapsed = ring8.centers[5] + 0.005 * torch.randn(2500, 2)
    one = values(evaluate_generator(Replay(collapsed), ring8, registry))["mixture-modes"]
    assert one["modes"] == 1 and one["reverse_kl"] == pytest.approx(math.log(8))
    # the ranges the evaluation records, for intervals over seeds that stay inside them
    ranges = evaluate_generator(Replay(collapsed), ring8, registry)["protocol"]["metrics"]
    assert ranges["mixture-modes"]["range"] == {
        "modes": [0.0, 8.0], "high_quality_pct": [0.0, 100.0], "reverse_kl": [0.0, math.log(8)]}


def test_digits_held_out_data_is_near_ideal_and_noise_is_far(registry):
    digits = registry.create("dataset", "digits")
    test = digits.load("test").x
    # every metric that applies; KID on fewer subsets, as 100 small ones are slow on a busy CPU
    metrics = [m if m != "kid" else "kid:subsets=10" for m in IMAGE_METRICS]
    real = evaluate_generator(Replay(test), digits, registry, metrics, n_samples=len(test))
    noise = evaluate_generator(Replay(torch.rand_like(test) * 2 - 1), digits, registry, metrics,
                               n_samples=len(test))
    r, n = values(real), values(noise)
    assert sorted(r) == IMAGE_METRICS
    assert r["fid"]["fid"] * 20 < n["fid"]["fid"]
    assert r["class-modes"]["modes"] == 10 and r["class-modes"]["kl"] < 0.02
    assert r["precision-recall"]["precision"] > 0.85 and r["precision-recall"]["recall"] > 0.85
    assert n["precision-recall"]["precision"] < 0.3
    assert r["density-coverage"]["coverage"] > 0.85 > n["density-coverage"]["coverage"]
    proto = real["protocol"]
    assert proto["n_generated"] == len(test) and proto["seed"] == 0 and proto["time_s"] > 0
    fid = proto["metrics"]["fid"]
    assert fid["backbone"]["name"] == "classifier" and fid["backbone"]["accuracy"] > 0.95
    assert fid["n_real"] == len(digits.load("train").x) and fid["time_s"] >= 0
    assert proto["metrics"]["precision-recall"]["k"] == 3
    assert proto["metrics"]["density-coverage"]["k"] == 5
    ranges = {m: proto["metrics"][m]["range"] for m in IMAGE_METRICS}
    assert ranges["class-modes"] == {"modes": [0.0, 10.0], "kl": [0.0, None]}
    assert ranges["fid"] == {"fid": [0.0, None]} and ranges["kid"] == {}  # KID is unbiased: < 0 happens
    assert ranges["precision-recall"] == {"precision": [0.0, 1.0], "recall": [0.0, 1.0]}
    assert ranges["density-coverage"] == {"density": [0.0, None], "coverage": [0.0, 1.0]}


class NearModes(Generator):
    """Puts each sample near a mode picked by its noise: the counts follow the noise."""

    def __init__(self, centers):
        super().__init__()
        self.latent_dim, self.centers = 3, centers
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        mode = (torch.sigmoid(z[:, 0]) * len(self.centers)).long().clamp(max=len(self.centers) - 1)
        return self.centers[mode] + 0.01 * z[:, 1:]


def _mlp(registry, ring8):
    torch.manual_seed(0)
    g, _ = registry.create("architecture", "mlp", {"g_batchnorm": True}).build(ring8.shape)
    return g


def test_same_inputs_give_the_same_numbers_and_disturb_nothing(registry):
    ring8 = registry.create("dataset", "ring8")
    g = _mlp(registry, ring8)
    g.train()
    stats = g.net[1].running_mean.clone()
    rng = torch.get_rng_state()
    a = evaluate_generator(g, ring8, registry, seed=3)
    b = evaluate_generator(g, ring8, registry, seed=3)
    assert values(a) == values(b)
    near = NearModes(ring8.centers)
    assert values(evaluate_generator(near, ring8, registry, seed=3)) == values(
        evaluate_generator(near, ring8, registry, seed=3))
    assert values(evaluate_generator(near, ring8, registry, seed=4)) != values(
        evaluate_generator(near, ring8, registry, seed=3))
    assert torch.equal(torch.get_rng_state(), rng)  # the training RNG is untouched
    assert g.training and torch.equal(g.net[1].running_mean, stats)


def test_metric_options_and_bad_requests(registry):
    digits = registry.create("dataset", "digits")
    test = digits.load("test").x
    got = evaluate_generator(Replay(test), digits, registry, ["precision-recall:k=5"], n_samples=300)
    assert got["protocol"]["metrics"]["precision-recall"]["options"]["k"] == 5
    ring8 = registry.create("dataset", "ring8")
    g = _mlp(registry, ring8)
    for metrics, n, message in [
        (["fid"], None, "does not apply to this dataset: it needs images"),
        (["fdi"], None, "did you mean 'fid'"),
        (["mixture-modes:threshold=wide"], None, "expected a number"),
        (["mixture-modes", "mixture-modes"], None, "asked for twice"),
        (None, 1, "at least 2"),
    ]:
        with pytest.raises(UsageError, match=message):
            evaluate_generator(g, ring8, registry, metrics, n_samples=n)
    with pytest.raises(UsageError, match="more than k=3"):
        evaluate_generator(Replay(test), digits, registry, ["precision-recall"], n_samples=3)


@pytest.mark.parametrize("ranges, message", [
    ([(0, 1)], "must return a dict"),
    ({"modes": (8, 0)}, "the range of 'modes' must be"),
    ({"modes": (0, "8")}, "the range of 'modes' must be"),
    ({"modes": (0, float("inf"))}, "the range of 'modes' must be"),
])
def test_a_metrics_declared_range_is_checked(registry, monkeypatch, ranges, message):
    from ganagerie.plugins.mixture_modes import MixtureModes

    monkeypatch.setattr(MixtureModes, "value_ranges", lambda self: ranges)
    ring8 = registry.create("dataset", "ring8")
    with pytest.raises(UsageError, match=message):
        evaluate_generator(_mlp(registry, ring8), ring8, registry, ["mixture-modes"], n_samples=100)


def tiny_run(registry, path, steps=40, extra=()):
    cfg = resolve_config(registry, dataset="ring8", variant="vanilla", overrides={"steps": steps},
                         sets=[*TINY, *extra])
    train(cfg, registry, path, progress=False)
    return cfg


def test_evaluate_run_writes_eval_json_and_repeats_itself(registry, tmp_path):
    tiny_run(registry, tmp_path / "r")
    first = evaluate_run(tmp_path / "r", registry)
    written = json.loads((tmp_path / "r" / "eval.json").read_text())
    assert written == json.loads(json.dumps(first))
    assert written["run"]["step"] == 40 and written["run"]["dataset"] == "ring8"
    assert written["protocol"]["n_generated"] == 2500
    assert set(written["metrics"]["mixture-modes"]) == {"modes", "high_quality_pct", "reverse_kl"}
    again = evaluate_run(tmp_path / "r", registry)
    assert again["metrics"] == first["metrics"]
    assert not list((tmp_path / "r").glob(".eval.json.*"))  # written through a temp file
    assert evaluate_run(tmp_path / "r", registry, n_samples=100)["protocol"]["n_generated"] == 100


def test_ganagerie_eval_end_to_end(cli, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "20", "--out", run, "--quiet",
                       *[a for s in TINY for a in ("--set", s)])
    assert code == 0, err
    code, out, err = cli("eval", run, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["metrics"]["mixture-modes"]["modes"] >= 0
    assert json.loads((run / "eval.json").read_text())["metrics"] == result["metrics"]
    code, out, _ = cli("eval", run, "--metrics", "mixture-modes", "--n-samples", "500")
    assert code == 0 and out.startswith("mixture-modes: modes=") and "500 generated samples" in out
    for args, message in [(["--metrics", "fid"], "does not apply"),
                          (["--metrics", "nope"], "unknown metric 'nope'"),
                          (["--n-samples", "1"], "--n-samples"),
                          (["--backbone", "vgg"], "--backbone"),
                          *([] if torch.cuda.is_available() else [(["--device", "cuda"], "no GPU")])]:
        code, _, err = cli("eval", run, *args)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli("eval", tmp_path / "missing")
    assert code == 2 and "does not exist" in err


def test_ganagerie_eval_on_digits_states_the_backbone(cli, tmp_path):
    run = tmp_path / "d"
    code, _, err = cli("train", "--dataset", "digits", "--steps", "5", "--set", "arch.width=8",
                       "--out", run, "--quiet")
    assert code == 0, err
    code, out, err = cli("eval", run, "--metrics", "fid,class-modes", "--n-samples", "400", "--json")
    assert code == 0, err
    proto = json.loads(out)["protocol"]["metrics"]
    assert proto["fid"]["backbone"]["name"] == "classifier"
    info = proto["class-modes"]["backbone"]
    assert info["accuracy"] > 0.95 and info["threads"] == 1 and len(info["weights"]) == 16
    code, out, err = cli("eval", run, "--metrics", "fid,class-modes", "--n-samples", "400")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("features for"))
    assert line == (f"features for fid, class-modes: a classifier trained on {info['train_samples']} "
                    f"training images, {100 * info['accuracy']:.1f}% right on {info['test_samples']} "
                    f"held out, weights {info['weights']}")


def test_train_eval_every_appends_rows_and_leaves_training_alone(registry, tmp_path):
    tiny_run(registry, tmp_path / "plain", steps=50)
    cfg = tiny_run(registry, tmp_path / "eval", steps=50, extra=["eval_every=20"])
    assert (cfg.eval_every, cfg.eval_metrics, cfg.eval_samples) == (20, ["mixture-modes"], 2500)
    saved = json.loads((tmp_path / "eval" / "config.json").read_text())
    assert saved["eval_metrics"] == ["mixture-modes"] and saved["eval_samples"] == 2500
    rows = read_jsonl(tmp_path / "eval" / "metrics.jsonl")
    evals = [r for r in rows if "eval" in r]
    assert [r["step"] for r in evals] == [20, 40, 50]
    assert set(evals[-1]["eval"]["mixture-modes"]) == {"modes", "high_quality_pct", "reverse_kl"}

    def losses(rows):
        return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
                for r in rows if "eval" not in r]

    assert losses(rows) == losses(read_jsonl(tmp_path / "plain" / "metrics.jsonl"))
    # the last evaluation is kept as eval.json, which is what `ganagerie eval` writes
    assert not (tmp_path / "plain" / "eval.json").exists()
    kept = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert kept["metrics"] == evals[-1]["eval"] and kept["run"]["step"] == 50
    scored = json.loads(json.dumps(evaluate_run(tmp_path / "eval", registry)))

    def timeless(record):  # all but the timings (keys ending in _s)
        if isinstance(record, dict):
            return {k: timeless(v) for k, v in record.items() if not k.endswith("_s")}
        return record

    assert timeless(scored) == timeless(kept)


def test_a_diverged_run_keeps_no_eval_json(registry, tmp_path):
    cfg = tiny_run(registry, tmp_path / "r", steps=20, extra=["eval_every=20", "lr_d=1e30", "lr_g=1e30"])
    assert json.loads((tmp_path / "r" / "status.json").read_text())["status"] == "diverged"
    assert cfg.eval_every == 20 and not (tmp_path / "r" / "eval.json").exists()


def test_eval_settings_resolve_per_dataset(registry):
    cfg = resolve_config(registry, dataset="digits")
    assert cfg.eval_metrics == IMAGE_METRICS and cfg.eval_samples == 26_000
    cfg = resolve_config(registry, dataset="digits", overrides={"eval_metrics": "fid,kid"})
    assert cfg.eval_metrics == ["fid", "kid"] and cfg.eval_samples == 10_000
    with pytest.raises(UsageError, match="does not apply"):
        resolve_config(registry, dataset="ring8", sets=["eval_metrics=fid"])
    with pytest.raises(UsageError, match="eval_every must be"):
        resolve_config(registry, dataset="ring8", sets=["eval_every=-1"])


def test_every_built_in_metric_declares_which_way_is_better_for_its_quality_values(registry):
    declared = {}
    for name, entry in registry.entries["metric"].items():
        if entry.provenance.distribution != "ganagerie":
            continue
        better = entry.factory.higher_is_better
        assert isinstance(better, dict) and better, name
        assert all(isinstance(v, bool) for v in better.values()), name
        # a declared range is for values it computes; a ranked value with a range is in it
        # (unbiased estimates, which can fall below 0, declare none)
        assert set(better) & set(entry.factory.value_range) or name in ("kid", "fid-infinity"), name
        declared.update(better)
    assert declared["fid"] is False and declared["modes"] is True and declared["coverage"] is True


class Recorder(Generator):
    """Keeps the latents it is given; its 2-D samples are their first two coordinates."""

    def __init__(self, latent_dim=3):
        super().__init__()
        self.latent_dim, self.seen = latent_dim, []
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, z):
        self.seen.append(z)
        return z[:, :2]


def _latents(registry, gen, seed=0, latents="sobol"):
    ring = registry.create("dataset", "ring8")
    result = evaluate_generator(gen, ring, registry, metrics=["mixture-modes"], n_samples=64, seed=seed,
                                latents=latents, batch_size=16)
    return torch.cat(gen.seen), result


def test_sobol_latents_are_a_scrambled_sobol_net_through_the_priors_quantile(registry):
    z, result = _latents(registry, Recorder())
    assert result["protocol"]["latents"].startswith("scrambled Sobol")
    u = torch.special.ndtr(z.double())  # back to the unit cube
    # the first 2^6 points of a (scrambled) Sobol sequence put one point in each 1/64 of every
    # axis, across the evaluation's four batches: random draws almost never do
    for axis in range(3):
        assert sorted((u[:, axis] * 64).floor().long().tolist()) == list(range(64))
    assert torch.equal(z, _latents(registry, Recorder())[0])  # one seed, one sequence
    assert not torch.equal(z, _latents(registry, Recorder(), seed=1)[0])
    random, _ = _latents(registry, Recorder(), latents="random")
    assert sorted((torch.special.ndtr(random[:, 0].double()) * 64).floor().long().tolist()) != list(range(64))
    uniform = Recorder()
    uniform.prior = registry.create("prior", "uniform")
    z, _ = _latents(registry, uniform)
    assert z.abs().max() <= 1 and sorted(((z[:, 0] + 1) * 32).floor().long().tolist()) == list(range(64))


def test_sobol_latents_need_a_prior_with_a_quantile(registry):
    from ganagerie.components import Prior

    class Own(Prior):
        def sample(self, n, dim, device, generator=None):
            return torch.zeros(n, dim, device=device)

    gen = Recorder()
    gen.prior = Own()
    with pytest.raises(UsageError, match="the prior Own has its own sampler but no quantile"):
        _latents(registry, gen)
    with pytest.raises(UsageError, match="unknown latents 'halton'"):
        _latents(registry, Recorder(), latents="halton")
