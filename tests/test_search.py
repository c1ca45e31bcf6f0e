"""The equal-budget search (a suite's [search], Lucic et al. 2018): the space and its one-line
errors, settings that depend on the suite alone, the budget curve against hand-computed
values, kill -9 and resume, Ray against the process pool, and bench verify of a trial."""

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from ganagerie.bench.search import STORAGE, TrialSampler, distribution, run_search  # noqa: E402
from ganagerie.bench.search_results import best_trial, budget_curve  # noqa: E402
from ganagerie.bench.search_space import SAMPLERS, Range, declared_range  # noqa: E402
from ganagerie.bench.suite import load_suite, parse_suite  # noqa: E402
from ganagerie.bench.verify import verify  # noqa: E402
from ganagerie.errors import UsageError  # noqa: E402
from ganagerie.files import read_jsonl  # noqa: E402

SPACE = """[search.space]
vanilla = ["lr", "beta1"]
lsgan = { lr = "default", n_critic = { int = [1, 2] } }"""


def suite_text(search=f'budget = 2\nmetric = "modes"\nrerun_seeds = 1\n{SPACE}', *, steps=20,
               variants='["vanilla", "lsgan"]', top="", checkpoint_every=10):
    """A search suite on 2,000 ring8 points with 1-layer 16-wide networks."""
    return f"""variants = {variants}
steps = {steps}
eval_samples = 200
metrics = ["mixture-modes"]
baseline = "vanilla"
datasets = [{{ name = "ring8", options = {{ n = 2000 }} }}]
{top}
[set]
arch.g_width = 16
arch.d_width = 16
arch.g_depth = 1
arch.d_depth = 1
batch_size = 32
log_every = 10
checkpoint_every = {checkpoint_every}

[search]
{search}
"""


HEAD = 'budget = 2\nmetric = "modes"\n[search.space]\n"*" = ["lr"]\n'
BAD = [  # (the [search] table, words the one-line error must hold)
    ('metric = "modes"\n' + SPACE, ["search needs 'budget'"]),
    ('budget = 2\n' + SPACE, ["search needs 'metric'"]),
    ('budget = 2\nmetric = "modes"', ["search needs 'space'"]),
    ('budget = 0\nmetric = "modes"\n' + SPACE, ["search.budget"]),
    ('budgt = 2\nmetric = "modes"\n' + SPACE, ["unknown key 'budgt'", "did you mean 'budget'"]),
    ('budget = 2\nmetric = "modes"\nsampler = "grid"\n' + SPACE, ["search.sampler", "random, tpe, qmc"]),
    ('budget = 2\nmetric = "modes"\nwave = 2\n' + SPACE, ["search.wave", "tpe"]),
    ('budget = 2\nmetric = "modes"\n[search.space]\nvanila = ["lr"]\nlsgan = ["lr"]',
     ["search.space.vanila", "did you mean 'vanilla'"]),
    ('budget = 2\nmetric = "modes"\n[search.space]\nvanilla = []\nlsgan = ["lr"]',
     ["search.space.vanilla", "empty list"]),
    ('budget = 2\nmetric = "modes"\n[search.space]\nvanilla = ["lr"]', ["search.space.lsgan", "empty space"]),
    (HEAD + 'vanilla = { lr = { log = [0, 1] } }',
     ["search.space.vanilla.lr", "LOW > 0"]),
    (HEAD + 'vanilla = { beta1 = { uniform = [0.5, 0.5] } }',
     ["search.space.vanilla.beta1", "not a range"]),
    (HEAD + 'vanilla = { n_critic = { int = [1.5, 3] } }',
     ["search.space.vanilla.n_critic", "two integers"]),
    (HEAD + 'vanilla = { optimizer_d = { choice = ["adam"] } }',
     ["search.space.vanilla.optimizer_d", "two or more"]),
    (HEAD + 'vanilla = { batch_size = { choice = [32, 32] } }',
     ["search.space.vanilla.batch_size", "twice"]),
    (HEAD + 'vanilla = { lr_d = { log = [1e-5, 1e-2], uniform = [0, 1] } }',
     ["search.space.vanilla.lr_d", "one of"]),
    (HEAD + 'vanilla = ["steps"]',
     ["search.space.vanilla.steps", "keeps steps equal"]),
    (HEAD + 'vanilla = ["lr_g"]',
     ["search.space.vanilla", "'lr' sets lr_g and lr_d"]),
    (HEAD + 'vanilla = ["batch_size"]',
     ["search.space.vanilla.batch_size", "no default range"]),
    (HEAD + 'vanilla = { lr = 0.001 }',
     ["search.space.vanilla.lr", "must be a range"]),
]


@pytest.mark.parametrize("search, words", BAD)
def test_a_bad_search_section_is_one_line_naming_the_field(search, words):
    with pytest.raises(UsageError) as err:
        parse_suite(suite_text(search), "s.toml")
    message = str(err.value)
    assert "\n" not in message and message.startswith("s.toml: ")
    for word in words:
        assert word in message, message


def test_a_search_suite_sets_no_seeds_and_no_trial_like_label():
    with pytest.raises(UsageError, match="sets no 'seeds'"):
        parse_suite(suite_text(top="seeds = 3"), "s.toml")
    with pytest.raises(UsageError, match="looks like a search trial"):
        parse_suite(suite_text(variants='["vanilla", { label = "lsgan.trial-1", variant = "lsgan" }]',
                               search='budget = 2\nmetric = "modes"\n[search.space]\n"*" = ["lr"]'), "s.toml")


def test_the_space_parses_with_defaults_from_lucic_et_al():
    suite = parse_suite(suite_text(), "s.toml")
    spaces = suite.search.spaces
    assert spaces["vanilla"] == {"lr": Range("log", 1e-5, 1e-2, source="Lucic et al. 2018"),
                                 "beta1": Range("uniform", 0.0, 1.0, source="Lucic et al. 2018")}
    assert spaces["lsgan"]["n_critic"] == Range("int", 1, 2)
    # trials 0..1 and the re-run's new seed 2: the suite's seeds, one run each
    assert suite.seeds == (0, 1, 2) and suite.summary()["runs"] == 6
    nested = parse_suite(suite_text(HEAD + 'vanilla = { reg.r1.gamma = { log = [0.1, 100] } }'), "s.toml")
    assert nested.search.spaces["vanilla"]["reg.r1.gamma"] == Range("log", 0.1, 100.0)
    assert nested.search.spaces["lsgan"] == {"lr": Range("log", 1e-5, 1e-2, source="Lucic et al. 2018")}


def test_a_component_declares_the_default_range_of_its_option():
    class Penalty:
        search_ranges = {"weight": {"log": [0.1, 100]}}

    assert declared_range("reg.penalty.weight", Penalty, "here") == Range("log", 0.1, 100.0,
                                                                          source="declared by Penalty")
    with pytest.raises(UsageError, match="declares no search range for 'gamma'"):
        declared_range("reg.penalty.gamma", Penalty, "here")


RESOLVED_BAD = [  # checked with the plugins loaded, before anything trains
    ({"search": HEAD + 'vanilla = ["lr", "lr_q"]'},
     (), ["search.space.vanilla.lr_q", "lr_q"]),
    ({"search": HEAD + 'vanilla = { n_critic = { int = [0, 3] } }'}, (),
     ["search.space.vanilla.n_critic", "0 does not"]),
    ({"search": HEAD + 'vanilla = { reg.r1.gamma = { log = [0.1, 100] } }'}, (),
     ["search.space.vanilla.reg.r1.gamma", "not in this run"]),
    ({"search": HEAD + 'vanilla = ["reg.r1.gamma"]',
      "variants": '[{ label = "vanilla", variant = "r1-gan" }, "lsgan"]'}, (),
     ["search.space.vanilla.reg.r1.gamma", "declares no search range"]),
    ({"search": 'budget = 2\nmetric = "modez"\n' + SPACE}, (), ["search.metric 'modez'", "modes"]),
    ({}, ("--set", "lr_g=0.001"), ["--set lr_g", "searches lr"]),
    ({}, ("--seeds", "3"), ["--seeds"]),
]


@pytest.mark.parametrize("parts, flags, words", RESOLVED_BAD)
def test_a_space_that_makes_no_run_stops_before_anything_trains(parts, flags, words, cli, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(suite_text(**parts))
    code, _, err = cli("bench", "run", path, "--out", tmp_path / "out", "--quiet", *flags)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err
    assert not (tmp_path / "out" / "runs").exists()


def test_without_optuna_a_search_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    monkeypatch.delitem(sys.modules, "ganagerie.bench.search")
    with pytest.raises(UsageError, match=r"pip install 'ganagerie\[search\]'"):
        import ganagerie.bench.search  # noqa: F401


def test_listing_the_suites_imports_neither_optuna_nor_torch(tmp_path):
    probe = ("import sys; from ganagerie.cli import main; code = main(['bench', 'list']); "
             "print(sorted(m for m in ('optuna', 'torch') if m in sys.modules), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr.splitlines()[-1] == "[]", done.stderr
    assert "search-2d" in done.stdout


# -- settings from the suite alone ----------------------------------------------------------

SAMPLED = {"lr": Range("log", 1e-5, 1e-2), "beta1": Range("uniform", 0.0, 1.0),
           "n_critic": Range("int", 1, 5), "optimizer_d": Range("choice", choices=("adam", "rmsprop"))}


def _settings(kind, seed, count, order=None):
    """``count`` settings asked one by one (each told a score) from a fresh in-memory study."""
    study = optuna.create_study(sampler=TrialSampler(kind, seed, SAMPLED), direction="maximize")
    names = order or list(SAMPLED)
    out = []
    for _ in range(count):
        trial = study.ask({n: distribution(SAMPLED[n]) for n in names})
        out.append(dict(sorted(trial.params.items())))
        study.tell(trial, math.log(trial.params["lr"]) + trial.params["n_critic"])
    return out


@pytest.mark.parametrize("kind", SAMPLERS)
def test_a_trials_setting_is_a_function_of_the_seed_and_its_number(kind):
    count = 12 if kind == "tpe" else 4  # past TPE's 10 random startup settings
    first = _settings(kind, 7, count)
    assert first == _settings(kind, 7, count, order=list(reversed(SAMPLED)))  # field order: no matter
    assert first != _settings(kind, 8, count)
    assert len({s["lr"] for s in first}) == count
    for s in first:
        assert 1e-5 <= s["lr"] < 1e-2 and 0 <= s["beta1"] < 1 and s["n_critic"] in range(1, 6)
        assert s["optimizer_d"] in ("adam", "rmsprop")


def test_qmc_spreads_its_first_points_over_each_range():
    settings = _settings("qmc", 3, 4)
    # 4 points of a scrambled Sobol sequence: one in each quarter of every coordinate
    quarters = sorted(int(4 * (math.log(s["lr"]) - math.log(1e-5)) / (math.log(1e-2) - math.log(1e-5)))
                      for s in settings)
    assert quarters == [0, 1, 2, 3]
    assert sorted(int(4 * s["beta1"]) for s in settings) == [0, 1, 2, 3]


# -- the budget curve -------------------------------------------------------------------------


def test_the_budget_curve_matches_hand_computed_orderings():
    # scores 1, 3, 2 (higher is better). The best of the first b of a random ordering:
    # b = 1: 1, 2 or 3, each 1/3 (mean 2); b = 2: 3 unless the pair is {1, 2} (2, with 1/3):
    # mean 8/3, median 3; b = 3: always 3
    curve = budget_curve([1.0, 3.0, 2.0], higher_is_better=True)
    assert curve["median"] == [2.0, 3.0, 3.0]
    assert curve["low"] == [1.0, 2.0, 3.0] and curve["high"] == [3.0, 3.0, 3.0]
    assert curve["mean"][0] == pytest.approx(2.0, abs=0.1)
    assert curve["mean"][1] == pytest.approx(8 / 3, abs=0.1) and curve["mean"][2] == 3.0
    # lower is better: the same by symmetry
    assert budget_curve([1.0, 3.0, 2.0], higher_is_better=False)["median"] == [2.0, 1.0, 1.0]
    # a setting without a score spends budget: [none, none, 5] gives nothing at b = 1 two times
    # in three (median missing), nothing at b = 2 one time in three (median 5, low missing)
    curve = budget_curve([None, None, 5.0], higher_is_better=True)
    assert curve["median"] == [None, 5.0, 5.0] and curve["low"] == [None, None, 5.0]
    assert curve["high"] == [5.0, 5.0, 5.0] and curve["mean"] == [None, None, 5.0]
    assert budget_curve([1.0, 3.0, 2.0], True) == budget_curve([1.0, 3.0, 2.0], True)  # a fixed seed


def test_the_best_trial_is_the_best_score_then_the_lowest_number():
    assert best_trial([(0, 1.0), (1, 3.0), (2, 3.0), (3, None)], True) == 1
    assert best_trial([(0, 1.0), (1, 3.0), (2, 0.5)], False) == 2
    assert best_trial([(0, None)], True) is None


# -- real runs --------------------------------------------------------------------------------


def _study(out, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / STORAGE}")


def test_a_trial_left_without_its_setting_is_failed_and_the_budget_still_met(tmp_path, registry):
    path = tmp_path / "s.toml"
    path.write_text(suite_text('budget = 2\nmetric = "modes"\nrerun_seeds = 1\n[search.space]\n'
                               '"*" = ["lr"]', variants='["vanilla"]'))
    out = tmp_path / "out"
    out.mkdir()
    # as a process killed inside Optuna's ask leaves it: a running trial holding part of its setting
    study = optuna.create_study(study_name="ring8/vanilla", storage=f"sqlite:///{out / STORAGE}",
                                direction="maximize")
    study.ask()
    run_search(load_suite(path), out, registry, jobs=1, progress=False)
    states = [(t.number, t.state.name) for t in _study(out, "ring8/vanilla").trials]
    assert states[0] == (0, "FAIL") and len(states) == 3
    assert all(state in ("COMPLETE", "FAIL") for _, state in states)
    results = json.loads((out / "results.json").read_text())
    assert [r["key"] for r in results["runs"]] == [
        "ring8/vanilla.trial-1/seed-1", "ring8/vanilla.trial-2/seed-2", "ring8/vanilla/seed-2"]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_kill_9_mid_search_then_the_same_command_ends_with_the_budget_each_trained_once(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(suite_text('budget = 2\nmetric = "modes"\nrerun_seeds = 1\n[search.space]\n'
                               '"*" = ["lr"]', variants='["vanilla"]', steps=600, checkpoint_every=20))
    out = tmp_path / "out"
    command = [sys.executable, "-m", "ganagerie.cli", "bench", "run", str(path), "--jobs", "1",
               "--threads", "1", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "runs" / "ring8" / "vanilla.trial-0" / "seed-0"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # kill once trial 0 is mid-way
        if (first / "checkpoints").is_dir() and len(read_jsonl(first / "metrics.jsonl")) >= 5:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the search finished before it could be killed; make it longer"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((first / "status.json").read_text())["status"] != "completed"
    assert [t.state.name for t in _study(out, "ring8/vanilla").trials] == ["RUNNING", "RUNNING"]

    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    trials = _study(out, "ring8/vanilla").trials
    assert [t.number for t in trials] == [0, 1]  # the budget, trial 0 resumed under its number
    assert all(t.state.name in ("COMPLETE", "FAIL") for t in trials)
    for key in ("vanilla.trial-0/seed-0", "vanilla.trial-1/seed-1", "vanilla/seed-2"):
        steps = [r["step"] for r in read_jsonl(out / "runs" / "ring8" / key / "metrics.jsonl")
                 if "eval" not in r]
        assert steps == list(range(10, 601, 10)), key  # every row once: trained once, resumed
    results = json.loads((out / "results.json").read_text())
    assert [r["search"]["params"]["lr"] for r in results["runs"][:2]] == [t.params["lr"] for t in trials]


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    import logging

    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False,
             object_store_memory=80 * 2**20, logging_level=logging.WARNING)
    yield
    ray.shutdown()


def test_the_same_search_on_ray_gives_the_process_pools_trials_and_scores(local_ray, tmp_path, registry):
    path = tmp_path / "s.toml"
    path.write_text(suite_text('budget = 2\nmetric = "modes"\nrerun_seeds = 1\n[search.space]\n'
                               'vanilla = ["lr", "beta1"]', variants='["vanilla"]', steps=30))
    suite = load_suite(path)
    run_search(suite, tmp_path / "ray", registry, jobs=2, threads=1, progress=False, executor="ray")
    run_search(suite, tmp_path / "pool", registry, jobs=2, threads=1, progress=False)
    on_ray, in_pool = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("ray", "pool"))
    assert on_ray["search"] == in_pool["search"]
    assert [t["params"] for t in on_ray["search"]["datasets"]["ring8"]["variants"]["vanilla"]["trials"]] \
        == [t.params for t in _study(tmp_path / "pool", "ring8/vanilla").trials]
    assert on_ray["content_hash"] == in_pool["content_hash"]

    # a trial is an ordinary run: bench verify re-trains it from its config and finds it the same
    differences, _, n = verify(tmp_path / "pool", registry, runs=["ring8/vanilla.trial-1/*"], jobs=1,
                               out=tmp_path / "verify", progress=False)
    assert n == 1 and differences == []
