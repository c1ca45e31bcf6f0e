"""A plugin's fault is the plugin's, in one line: an exception from a component, or a value it
returns that breaks its contract, at build or at run time, names the component, its plugin and
distribution, and what it did; the run ends ``failed`` with that reason, and nothing else
(no traceback, no error from deep inside ganagerie) is shown."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import tiny
from torch import nn

from ganagerie.bench.executor import SerialExecutor
from ganagerie.bench.harness import RunOutcome, execute
from ganagerie.bench.suite import expand, parse_suite
from ganagerie.components import (
    Architecture,
    Dataset,
    DataSplit,
    Discriminator,
    Generator,
    Loss,
    Metric,
    Technique,
)
from ganagerie.config import resolve_config
from ganagerie.errors import PluginFault
from ganagerie.plugin_loader import load_plugins
from ganagerie.registry import Provenance
from ganagerie.train.trainer import train

PLUGIN = Provenance(__name__, "ganagerie-broken", "1.2")
WHO = f"of {__name__} (ganagerie-broken 1.2)"


class PerSampleLoss(Loss):
    def d_loss(self, real_out, fake_out):
        return fake_out - real_out

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()


class FloatLoss(Loss):
    def d_loss(self, real_out, fake_out):
        return (fake_out - real_out).mean()

    def g_loss(self, fake_out, real_out=None):
        return 0.5


class RaisingLoss(Loss):
    def d_loss(self, real_out, fake_out):
        raise RuntimeError("kaput")

    def g_loss(self, fake_out, real_out=None):
        return -fake_out.mean()


def raising_factory():
    """Broken at build time: the factory itself fails."""
    raise TypeError("no such thing")


class PerSamplePenalty(Technique):
    def d_penalty(self, step):
        return step.real_out.square()


class ListTransform(Technique):
    def transform(self, x, step):
        return [x]


class WordyLog(Technique):
    def log_values(self):
        return {"p": "high"}


class IntegerData(Dataset):
    shape = (2,)

    def load(self, split="train"):
        return DataSplit(torch.zeros(100, 2, dtype=torch.int64))


class G(Generator):
    latent_dim = 4

    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 2)

    def forward(self, z):
        return self.net(z)


class WideD(Discriminator):
    """Broken: logits [B, 1], which a loss would broadcast against [B] without an error."""

    def __init__(self):
        super().__init__()
        self.h, self.out = nn.Linear(2, 8), nn.Linear(8, 1)

    def features(self, x):
        return self.h(x)

    def classify(self, h):
        return self.out(h)


class WideLogits(Architecture):
    def build(self, shape):
        return G(), WideD()


class OneNetwork(Architecture):
    def build(self, shape):
        return G()


class WordyMetric(Metric):
    def update(self, fake):
        pass

    def compute(self):
        return {"score": "high"}


BROKEN = {
    ("loss", "per-sample"): PerSampleLoss, ("loss", "float"): FloatLoss, ("loss", "raising"): RaisingLoss,
    ("loss", "unbuildable"): raising_factory, ("regularizer", "per-sample"): PerSamplePenalty,
    ("regularizer", "list-transform"): ListTransform, ("regularizer", "wordy-log"): WordyLog,
    ("dataset", "integers"): IntegerData, ("architecture", "wide-logits"): WideLogits,
    ("architecture", "one-network"): OneNetwork, ("metric", "wordy"): WordyMetric,
}


@pytest.fixture(scope="module")
def registry():
    registry = load_plugins().registry
    for (kind, name), factory in BROKEN.items():
        registry.add(kind, name, factory, PLUGIN, help="Broken on purpose.")
    return registry


#: (what the run uses, what the one line says after the component's name)
CASES = [
    ({"loss": "per-sample"}, "loss 'per-sample' {who} d_loss returned a tensor of dtype float32 and shape "
                             "(32,), not a scalar tensor of floats"),
    ({"loss": "float"}, "loss 'float' {who} g_loss returned float 0.5, not a scalar tensor of floats"),
    ({"loss": "raising"}, "loss 'raising' {who} raised RuntimeError: kaput (in d_loss, test_plugin_faults)"),
    ({"loss": "unbuildable"}, "loss 'unbuildable' {who} raised TypeError: no such thing (in raising_factory"),
    ({"regularizers": ["per-sample"]}, "regularizer 'per-sample' {who} d_penalty returned a tensor of dtype "
                                       "float32 and shape (32,), not a scalar tensor of floats"),
    ({"regularizers": ["list-transform"]},
     "regularizer 'list-transform' {who} transform returned list [tensor("),
    ({"regularizers": ["wordy-log"]},
     "regularizer 'wordy-log' {who} log_values returned 'p': str 'high', not a number"),
    ({"dataset": "integers"}, "dataset 'integers' {who} load('train') (its samples) returned a tensor of "
                              "dtype int64 and shape (100, 2), not a tensor of floats"),
    ({"arch": "wide-logits"}, "architecture 'wide-logits' {who} the discriminator returned a tensor of dtype "
                              "float32 and shape (32, 1), not a tensor of 1 dimension of floats"),
    ({"arch": "one-network"}, "architecture 'one-network' {who} build returned G G(\n"),
    ({"sets": ["eval_every=2", "eval_metrics=wordy", "eval_samples=64"]},
     "metric 'wordy' {who} compute returned 'score': str 'high', not a number under a name"),
]


def _config(registry, use):
    flags = dict(use)
    sets = [*tiny(width=8, n=200, log_every=2), *flags.pop("sets", [])]
    flags.setdefault("dataset", "ring8")
    if flags["dataset"] != "ring8" or flags.get("arch"):
        sets = [s for s in sets if not s.startswith(("arch.", "dataset."))]
    return resolve_config(registry, **flags, sets=[*sets, "steps=4"])


@pytest.mark.parametrize("use,line", CASES, ids=[next(iter(u.values())).__str__()[:30] for u, _ in CASES])
def test_a_broken_component_is_named_in_one_line_and_its_run_fails(registry, tmp_path, use, line):
    cfg = _config(registry, use)
    with pytest.raises(PluginFault) as caught:
        train(cfg, registry, tmp_path / "run", progress=False)
    message = str(caught.value)
    expected = line.format(who=WHO).split("\n")[0]
    assert message.startswith(expected), message
    assert "\n" not in message and message.endswith("report it to its authors, or use another component")
    status = tmp_path / "run" / "status.json"
    if status.exists():  # faults at run time: the run is failed with the reason
        recorded = json.loads(status.read_text())
        assert recorded["status"] == "failed" and recorded["error"] == message


def test_in_a_benchmark_the_run_is_failed_with_that_line_and_the_others_go_on(registry, tmp_path):
    suite = parse_suite('datasets = [{ name = "ring8", options = { n = 200 } }]\n'
                        'variants = ["vanilla", { label = "broken", loss = "raising" }]\n'
                        'seeds = 1\nsteps = 4\nmetrics = ["mixture-modes"]\n'
                        "[set]\narch.g_width = 8\narch.d_width = 8\n", "t.toml")
    specs = expand(suite, registry)
    outcomes: list[RunOutcome] = execute(specs, tmp_path, SerialExecutor(), registry, progress=False)
    by_key = {o.key: o for o in outcomes}
    assert by_key["ring8/vanilla/seed-0"].status == "completed", by_key["ring8/vanilla/seed-0"].error
    broken = by_key["ring8/broken/seed-0"]
    assert broken.status == "failed"
    assert broken.error == f"train: loss 'raising' {WHO} raised RuntimeError: kaput (in d_loss, " \
                           "test_plugin_faults); the fault is the plugin's: report it to its authors, or " \
                           "use another component"
    status = json.loads(Path(tmp_path, "runs", "ring8", "broken", "seed-0", "status.json").read_text())
    assert status["status"] == "failed" and status["error"] == broken.error


def test_an_exception_outside_the_run_s_components_is_not_blamed_on_a_plugin(registry):
    def elsewhere():
        raise KeyError("x")

    try:
        elsewhere()
    except KeyError as exc:
        assert registry.blame(exc, [("loss", "hinge"), ("dataset", "ring8")]) is None
        assert "raised KeyError" in str(registry.blame(exc, [("loss", "raising")]))
