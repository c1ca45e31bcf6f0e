"""ACGAN's auxiliary classifier and ReACGAN's D2D-CE against values computed by hand, their
refusal of unconditional runs, and the kit's seed-batched check on both."""

import math

import pytest
import torch
from torch import nn

from ganagerie.components import Discriminator, DStep, Generator, GStep
from ganagerie.errors import UsageError
from ganagerie.plugins.aux_classifier import AuxClassifier, cross_entropy
from ganagerie.plugins.d2d_ce import D2DCE, d2d_ce
from ganagerie.testing import check_component


class LogitsD(Discriminator):
    """Features are the input; the class logits are the features; the embedding too."""

    def __init__(self, proxies):
        super().__init__()
        self.proxies = nn.Parameter(torch.as_tensor(proxies, dtype=torch.float32))

    def features(self, x):
        return x

    def classify(self, h):
        return h.sum(-1)

    def class_logits(self, h):
        return h

    def class_embedding(self, h):
        return h

    def class_proxies(self):
        return self.proxies


class CondG(Generator):
    conditional = True

    def forward(self, z, y=None):
        return z


def test_cross_entropy_is_minus_log_of_the_softmax_of_the_class():
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), 0.0]])
    ce = cross_entropy(logits, torch.tensor([1, 1]))
    assert ce.tolist() == pytest.approx([math.log(4 / 3), math.log(3.0)], abs=1e-6)


def _dstep(d, real, fake, real_y, fake_y):
    return DStep(CondG(), d, real, fake, real.sum(-1), fake.sum(-1), real_labels=real_y, fake_labels=fake_y)


def test_acgan_d_pays_the_class_loss_of_real_and_fake_and_g_of_fake():
    d = LogitsD([[1.0, 0.0], [0.0, 1.0]])
    real = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])  # CE: log(4/3) for class 1, log 2
    fake = torch.tensor([[math.log(2.0), 0.0]])  # CE for class 1: log 3
    real_y, fake_y = torch.tensor([1, 0]), torch.tensor([1])
    tech = AuxClassifier(weight=2.0)
    tech.setup(CondG(), d)
    want_real = (math.log(4 / 3) + math.log(2.0)) / 2
    assert tech.d_penalty(_dstep(d, real, fake, real_y, fake_y)).item() == pytest.approx(
        2.0 * (want_real + math.log(3.0)), abs=1e-6)
    only_real = AuxClassifier(fake_in_d=False)  # StudioGAN's ACGAN-Mod: D's class loss on reals
    got = only_real.d_penalty(_dstep(d, real, fake, real_y, fake_y)).item()
    assert got == pytest.approx(want_real, abs=1e-6)
    g = GStep(CondG(), d, real, fake, fake, fake.sum(-1), fake_labels=fake_y)
    assert tech.g_penalty(g).item() == pytest.approx(2.0 * math.log(3.0), abs=1e-6)


def test_d2d_ce_pulls_to_the_proxy_and_pushes_only_other_classes():
    # unit vectors (scaled, to check the normalisation): f1 = (1, 0), f2 = (0, 1), f3 = (0.6, 0.8)
    f = torch.tensor([[3.0, 0.0], [0.0, 0.5], [1.2, 1.6]])
    y = torch.tensor([0, 1, 0])
    proxies = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    got = d2d_ce(f, proxies, y, temperature=0.5, positive_margin=0.98, negative_margin=0.02)
    # 1: f1.v0 = 1 >= m_p, so a = 0; its one negative f2: f1.f2 = 0 < m_n, so b = 0
    # 2: a = 0; negatives f1 (b = 0) and f3 (f2.f3 = 0.8: b = (0.8 - 0.02) / 0.5 = 1.56)
    # 3: f3.v0 = 0.6: a = (0.6 - 0.98) / 0.5 = -0.76; its negative f2: b = 1.56
    want = [math.log(2.0), math.log(2.0 + math.exp(1.56)), math.log(math.exp(-0.76) + math.exp(1.56)) + 0.76]
    assert got.tolist() == pytest.approx(want, abs=1e-5)
    tech = D2DCE()  # weight 0.5, StudioGAN's CIFAR-10 ReACGAN
    d = LogitsD(proxies)
    tech.setup(CondG(), d)
    step = _dstep(d, f, f, y, y)
    assert tech.d_penalty(step).item() == pytest.approx(0.5 * sum(want) / 3, abs=1e-5)


def test_d2d_ce_of_a_sample_with_no_other_class_in_the_batch_is_zero_at_its_proxy():
    f = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    got = d2d_ce(f, torch.tensor([[1.0, 0.0]]), torch.tensor([0, 0]), 0.5, 0.98, 0.02)
    assert got.tolist() == pytest.approx([0.0, 0.0], abs=1e-6)


@pytest.mark.parametrize("tech", [AuxClassifier(), D2DCE()])
def test_an_unconditional_generator_or_a_d_without_a_class_head_is_refused(tech):
    class PlainG(Generator):
        def forward(self, z):
            return z

    class PlainD(Discriminator):
        def features(self, x):
            return x

        def classify(self, h):
            return h.sum(-1)

    with pytest.raises(UsageError, match="conditional generator"):
        tech.setup(PlainG(), LogitsD([[1.0, 0.0]]))
    with pytest.raises(UsageError, match="class head"):
        tech.setup(CondG(), PlainD())


@pytest.mark.parametrize("reg", ["aux-classifier", "d2d-ce"])
def test_the_kit_trains_them_seed_batched_on_a_conditional_network(reg):
    report = check_component("regularizer", reg)
    assert any(p.startswith("seeds together equal one by one") for p in report.passed), report


# -- the conditional metrics, on the real digits: the ceiling, and labels that lie ------------

@pytest.fixture(scope="module")
def digits():
    from ganagerie.plugin_loader import get_registry

    return get_registry().create("dataset", "digits", {})


def _score(metric, dataset, x, y):
    metric.setup(dataset, torch.device("cpu"))
    for start in range(0, len(x), 256):
        metric.update(x[start:start + 256], y[start:start + 256])
    return metric.compute()


def test_class_agreement_is_the_classifiers_reading_of_the_asked_class(digits):
    from ganagerie.plugins.conditional_metrics import ClassAgreement

    test = digits.load("test")
    right = _score(ClassAgreement(), digits, test.x, test.y)["class_agreement"]
    wrong = _score(ClassAgreement(), digits, test.x, (test.y + 1) % 10)["class_agreement"]
    assert right > 0.85 and wrong < 0.1  # the classifier reads the digits; shifted labels disagree


def test_intra_fid_is_near_zero_for_each_class_against_itself_and_grows_when_labels_lie(digits):
    from ganagerie.plugins.conditional_metrics import IntraFID

    train = digits.load("train")
    metric = IntraFID()
    same = _score(metric, digits, train.x, train.y)["intra_fid"]
    assert same == pytest.approx(0.0, abs=1e-2)
    assert [c["n_real"] for c in metric.protocol()["per_class"]] == torch.bincount(train.y).tolist()
    lying = _score(IntraFID(), digits, train.x, (train.y + 1) % 10)["intra_fid"]
    assert lying > 100 * max(same, 1e-3)


def test_cas_trains_on_the_samples_and_tests_on_real_data(digits):
    from ganagerie.plugins.conditional_metrics import CAS

    train = digits.load("train")
    torch.manual_seed(0)
    true = _score(CAS(), digits, train.x, train.y)["cas"]
    torch.manual_seed(0)
    shuffled = _score(CAS(), digits, train.x, train.y[torch.randperm(len(train.y))])["cas"]
    assert true > 0.85 and shuffled < 0.3  # labels that carry no class teach nothing


def test_a_conditional_generators_samples_are_drawn_a_column_a_class(cli, tmp_path):
    from PIL import Image

    run = tmp_path / "run"
    assert cli("train", "--dataset", "digits", "--arch", "resnet:conditional=true", "--steps", 2,
               "--set", "arch.width=2", "--set", "arch.latent_dim=8", "--set", "batch_size=16",
               "--quiet", "--out", run)[0] == 0
    assert cli("sample", run, "-n", 30, "-o", tmp_path / "all.png")[0] == 0
    # digits are 8x8, drawn 4x as large, with one pixel between: 10 classes, 10 columns, 3 rows
    assert Image.open(tmp_path / "all.png").size == (10 * 33 + 1, 3 * 33 + 1)
    previews = sorted((run / "samples").glob("*.png"))
    assert previews and Image.open(previews[-1]).size[0] == 10 * 33 + 1


def test_a_conditional_metric_on_an_unconditional_run_is_refused_before_anything_is_written(cli, tmp_path):
    rc, _, err = cli("train", "--dataset", "digits", "--steps", 4, "--set", "arch.width=2",
                     "--set", 'eval_metrics=["class-agreement"]', "--set", "eval_every=2",
                     "--out", tmp_path / "run")
    assert rc == 2 and "unconditional" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # no status.json left "running"


def test_a_suite_mixing_conditional_and_unconditional_variants_scores_each_by_what_applies(cli, tmp_path):
    """The unconditional variant is not scored by class agreement (n/a in the report, left
    out of that metric's comparisons) and is scored by the rest like the conditional one."""
    import json

    suite = tmp_path / "mixed.toml"
    suite.write_text("""name = "mixed"
seeds = 2
steps = 4
eval_every = 4
eval_samples = 200
metrics = ["class-modes", "class-agreement"]
datasets = ["digits"]
baseline = "cond"
[set]
"arch.width" = 2
"arch.latent_dim" = 8
batch_size = 16
[[variants]]
label = "plain"
variant = "vanilla"
arch = "resnet"
[[variants]]
label = "cond"
variant = "vanilla"
arch = "resnet:conditional=true"
""")
    out = tmp_path / "bench"
    rc, _, err = cli("bench", "run", suite, "--jobs", 1, "--out", out)
    assert rc == 0, err
    results = json.loads((out / "results.json").read_text())
    by = {r["variant"]: r for r in results["runs"] if r["seed"] == 0}
    assert by["plain"]["not_scored"] == ["class-agreement"] and "not_scored" not in by["cond"]
    assert "class_agreement" in by["cond"]["metrics"] and "class_agreement" not in by["plain"]["metrics"]
    assert "modes" in by["plain"]["metrics"]
    cells = results["datasets"]["digits"]["variants"]["plain"]["metrics"]
    assert cells["class_agreement"]["not_scored"] and not cells["modes"].get("not_scored")
    comparisons = results["datasets"]["digits"]["baseline"]["comparisons"]
    assert comparisons["class_agreement"] == []  # plain has no class agreement to compare with
    assert [c["variant"] for c in comparisons["modes"]] == ["plain"]
    # the reference rows are scored by every metric, though the first variant is unconditional
    assert results["datasets"]["digits"]["references"]["real data"]["class_agreement"]["n"] == 2
    report = (out / "report.md").read_text().splitlines()
    row = next(line for line in report if line.startswith("| plain |"))
    assert "n/a" in row
