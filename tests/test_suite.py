"""Suite files: the built-in suites, the TOML format, expansion into resolved runs, errors."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ganagerie.bench.suite import builtin_suites, expand, list_suites, load_suite, parse_suite
from ganagerie.errors import UsageError

BUILTIN = {"pacgan-2d", "quick", "stabilization-2d", "zoo-2d", "digits", "mnist-5k", "stacked-mnist-5k",
           "mnist", "cifar10"}


def suite(text, origin="test.toml"):
    return parse_suite(text, origin)


def test_every_builtin_suite_is_listed_and_expands(registry):
    suites = {s.name: s for s in list_suites()}
    assert BUILTIN <= set(suites)
    for s in suites.values():
        assert s.description, s.name
        specs = expand(s, registry)
        assert len(specs) == s.summary()["runs"]
        assert len({sp.key for sp in specs}) == len(specs)


def test_bench_list_command(cli):
    code, out, _ = cli("bench", "list")
    assert code == 0
    assert {line.split()[0] for line in out.splitlines()} >= BUILTIN


def test_quick_is_the_four_builtin_variants_on_ring8(registry):
    s = load_suite("quick")
    assert [v.label for v in s.variants] == ["vanilla", "wgan-gp", "feature-matching",
                                             "spectral-norm"]
    assert [d.name for d in s.datasets] == ["ring8"] and 2 <= len(s.seeds) <= 5


def test_later_settings_win_suite_dataset_variant_command_line(registry):
    s = suite("""
        seeds = [3, 7]
        steps = 50
        datasets = [{ name = "ring8", set = { batch_size = 16, lr_d = 0.1 } }]
        [set]
        batch_size = 8
        lr_d = 0.2
        lr_g = 0.3
        arch.g_width = 12
        [[variants]]
        variant = "vanilla"
        set = { lr_d = 0.01 }
        """)
    specs = expand(s, registry, sets=["lr_g=0.05"], steps=20)
    assert [sp.key for sp in specs] == ["ring8/vanilla/seed-3", "ring8/vanilla/seed-7"]
    cfg = specs[0].config
    assert (cfg["batch_size"], cfg["lr_d"], cfg["lr_g"], cfg["steps"]) == (16, 0.01, 0.05, 20)
    assert cfg["arch"]["options"]["g_width"] == 12 and cfg["seed"] == 3


def test_inline_variants_combine_loss_and_regularizers(registry):
    s = suite("""
        datasets = ["ring8"]
        [[variants]]
        label = "hinge-gp"
        loss = "hinge"
        regularizers = ["gradient-penalty:weight=1"]
        [[variants]]
        variant = "wgan-gp"
        label = "wgan-gp-1"
        set = { n_critic = 1, reg.gradient-penalty.weight = 2 }
        """)
    a, b = (sp.config for sp in expand(s, registry))
    assert a["variant"] is None and a["loss"]["name"] == "hinge"
    assert [(r["name"], r["options"]["weight"]) for r in a["regularizers"]] == [
        ("gradient-penalty", 1.0)]
    assert b["variant"] == "wgan-gp" and b["n_critic"] == 1
    assert b["regularizers"][0]["options"]["weight"] == 2.0


@pytest.mark.parametrize("text, message", [
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nseedz = 3',
     "unknown key 'seedz' in the suite; did you mean 'seeds'"),
    ('datasets = ["ring8"]\nvariants = [{ variant = "vanilla", lr = 1 }]', "unknown key 'lr' in variants[0]"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nseeds = 0', "'seeds' must be an integer >= 1"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nseeds = [1, 1]', "lists a seed twice"),
    ('datasets = ["ring8"]\nvariants = ["vanilla", "vanilla"]', "two variants are labelled 'vanilla'"),
    ('datasets = ["ring8"]\nvariants = [{ loss = "hinge" }]', "variants[0] needs label"),
    ('datasets = ["ring8"]\nvariants = [{ label = "a b", loss = "hinge" }]', "must be letters, digits"),
    ('datasets = []\nvariants = ["vanilla"]', "'datasets' must be a non-empty list"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nsteps = "many"', "'steps' must be an integer"),
    ('datasets = ["ring8"\n', "not valid TOML"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nhigher_is_better = { fid = "low" }', "true/false"),
])
def test_bad_suite_files_name_the_file_and_the_key(text, message):
    with pytest.raises(UsageError) as err:
        suite(text, "my-suite.toml")
    assert str(err.value).startswith("my-suite.toml: ")
    assert message in str(err.value)


@pytest.mark.parametrize("text, message", [
    ('datasets = ["ring9"]\nvariants = ["vanilla"]', "unknown dataset 'ring9'; did you mean 'ring8'"),
    ('datasets = ["ring8"]\nvariants = ["wgan-xy"]', "unknown variant 'wgan-xy'"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\n[set]\nlr = 1', "unknown key 'lr'"),
    ('datasets = ["ring8"]\nvariants = ["vanilla"]\nmetrics = ["fid"]', "metric 'fid' does not apply"),
])
def test_unknown_names_are_found_when_expanding(registry, text, message):
    with pytest.raises(UsageError) as err:
        expand(suite(text, "my-suite.toml"), registry)
    assert str(err.value).startswith("my-suite.toml: dataset '")
    assert message in str(err.value)


def test_unknown_suite_name_and_unreadable_path():
    with pytest.raises(UsageError, match="unknown suite 'quik'; did you mean 'quick'"):
        load_suite("quik")
    with pytest.raises(UsageError, match="cannot read suite file"):
        load_suite("/nonexistent/suite.toml")


def test_a_user_file_works_like_a_builtin(tmp_path, registry):
    path = tmp_path / "mine.toml"
    path.write_text('datasets = ["ring8"]\nvariants = ["vanilla"]\nseeds = 2\n')
    s = load_suite(str(path))
    assert s.name == "mine" and s.origin == str(path) and len(expand(s, registry)) == 2


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet='abdefilmnorstv_=[]{}"0123456789,.\n -', max_size=120))
def test_any_text_is_a_suite_or_a_usage_error(text):
    try:
        parse_suite(text, "fuzz.toml")
    except UsageError as exc:
        assert str(exc).startswith("fuzz.toml: ")


def test_suites_ship_in_the_wheel(tmp_path):
    """A normal (non-editable) install finds the suites: they are package data with an entry point."""
    src = tmp_path / "src"  # build from a copy: the build leaves build/ and egg-info behind
    root = Path(__file__).parents[1]
    for name in ("core", "plugins"):
        shutil.copytree(root / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path)], check=True, capture_output=True, cwd=src)
    (wheel,) = tmp_path.glob("ganagerie-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entry_points = next(zf.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    shipped = {n.rsplit("/", 1)[1][:-5] for n in names if n.startswith("ganagerie/plugins/suites/")
               and n.endswith(".toml")}
    assert shipped == set(builtin_suites())
    assert "[ganagerie.suites]" in entry_points


def test_pacgan_2d_resolves_to_pacgans_protocol_field_by_field(registry):
    """Lin et al. 2018, app. D, and their code (synthetic_data_experiments/2DRing_GAN&PacGAN)."""
    specs = {s.key: s.config for s in expand(load_suite("pacgan-2d"), registry)}
    cfg = specs["ring8/vanilla/seed-3"]
    assert cfg["dataset"] == {"name": "ring8", "options": {"n": 100_000, "seed": 3}}  # fresh per trial
    assert cfg["arch"] == {"name": "mlp", "options": {
        "latent_dim": 2, "g_width": 400, "g_depth": 4, "g_batchnorm": True,  # G: 4x400 BN-ReLU
        "d_width": 200, "d_depth": 3, "d_maxout": 5,  # D: 3x200 maxout, 5 pieces
        "init_std": 0.02, "g_hidden_bias": False, "bn_momentum": 0.05,
        "conditional": False, "aux_classifier": False}}  # unconditional
    assert cfg["prior"] == {"name": "normal", "options": {}}  # num_zmode 1, r 0, std 1
    assert (cfg["optimizer_g"]["name"], cfg["optimizer_d"]["name"]) == ("adam", "adam")
    assert cfg["lr_g"] == cfg["lr_d"] == 1e-4 and cfg["betas_d"] == [0.8, 0.999] == cfg["betas_g"]
    assert cfg["batch_size"] == 100 and cfg["steps"] == 400_000  # 400 epochs of 1,000 batches
    assert cfg["update"] == "simultaneous" and cfg["generator_stats"] == "own-update"
    assert cfg["eval_samples"] == 2500 and cfg["n_critic"] == 1
    assert specs["grid25/pacgan4/seed-0"]["batch_size"] == 400  # 100 packs of 4
    assert sorted({k.split("/")[2] for k in specs}) == [f"seed-{i}" for i in range(10)]


def test_a_directory_named_like_a_builtin_suite_does_not_hide_it(tmp_path, monkeypatch):
    (tmp_path / "quick").mkdir()  # e.g. a benchmark's --out
    monkeypatch.chdir(tmp_path)
    assert load_suite("quick").name == "quick"
