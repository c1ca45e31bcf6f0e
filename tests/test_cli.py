"""End-to-end CLI runs: real (tiny) trainings, sampling, listing, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganagerie import __version__
from ganagerie.files import read_jsonl
from ganagerie.train.checkpoint import read_checkpoint

SMALL_2D = ["--set", "arch.g_width=32", "--set", "arch.d_width=32", "--set", "dataset.n=2000"]


def test_wgan_gp_on_ring8_writes_the_run_directory(cli, tmp_path):
    out = tmp_path / "r"
    code, stdout, _ = cli("train", "--dataset", "ring8", "--variant", "wgan-gp", "--steps", "300",
                          "--out", out, "--quiet")
    assert code == 0, stdout
    assert stdout.startswith("completed at step 300")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["variant"] == "wgan-gp" and cfg["steps"] == 300
    rows = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == list(range(50, 301, 50))
    assert read_checkpoint(out / "checkpoints" / "last.json")["step"] == 300
    assert (out / "samples" / "step_0000300.png").exists()


def test_digits_spectral_norm_then_sample_gives_an_image_grid(cli, tmp_path):
    out, png = tmp_path / "d", tmp_path / "d.png"
    code, _, err = cli("train", "--dataset", "digits", "--variant", "spectral-norm", "--steps",
                       "100", "--out", out, "--quiet", "--set", "arch.width=16")
    assert code == 0, err
    code, stdout, err = cli("sample", out, "-n", "64", "-o", png)
    assert code == 0, err
    img = Image.open(png)
    # 8x8 images drawn 4x larger, 8 per row, with 1px padding
    assert img.size == (8 * 33 + 1, 8 * 33 + 1)
    pixels = torch.from_numpy(np.asarray(img.convert("L"), dtype=np.float32))
    assert pixels.std() > 10  # not a blank picture


def test_techniques_compose(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "ring8", "--loss", "hinge",
                            "--reg", "gradient-penalty:weight=1", "--reg", "spectral-norm",
                            "--reg", "feature-matching:weight=0.1", "--steps", "50",
                            "--out", tmp_path / "c", "--quiet", *SMALL_2D)
    assert code == 0, err
    row = read_jsonl(tmp_path / "c" / "metrics.jsonl")[-1]
    assert {"d/gradient-penalty", "g/feature-matching"} <= set(row)
    cfg = json.loads((tmp_path / "c" / "config.json").read_text())
    assert [r["name"] for r in cfg["regularizers"]] == [
        "gradient-penalty", "spectral-norm", "feature-matching"]


def test_resume_from_the_cli_matches_an_uninterrupted_run(cli, tmp_path):
    common = ["--dataset", "grid25", "--variant", "vanilla", "--quiet", *SMALL_2D]
    assert cli("train", *common, "--steps", "200", "--out", tmp_path / "full")[0] == 0
    assert cli("train", *common, "--steps", "100", "--out", tmp_path / "part")[0] == 0
    code, _, err = cli("train", "--resume", "--out", tmp_path / "part", "--steps", "200", "--quiet")
    assert code == 0, err
    a = read_checkpoint(tmp_path / "full" / "checkpoints" / "last.json")
    b = read_checkpoint(tmp_path / "part" / "checkpoints" / "last.json")
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    # a config.json alone reproduces a run
    code, _, _ = cli("train", "--config", tmp_path / "full" / "config.json",
                     "--out", tmp_path / "again", "--quiet")
    assert code == 0
    assert read_jsonl(tmp_path / "again" / "metrics.jsonl")[-1]["g_loss"] == \
        read_jsonl(tmp_path / "full" / "metrics.jsonl")[-1]["g_loss"]


def test_list_json_shows_the_techniques_with_their_plugins(cli):
    code, stdout, _ = cli("list", "--json")
    assert code == 0
    entries = {(e["kind"], e["name"]): e for e in json.loads(stdout)}
    for kind, name in [("variant", "vanilla"), ("variant", "wgan-gp"),
                       ("variant", "feature-matching"), ("variant", "spectral-norm"),
                       ("regularizer", "gradient-penalty"), ("regularizer", "spectral-norm"),
                       ("regularizer", "feature-matching"), ("loss", "wasserstein")]:
        assert entries[(kind, name)]["plugin"].startswith("ganagerie.plugins."), name
    code, stdout, _ = cli("list", "losses")
    assert "wasserstein" in stdout and "gradient-penalty" not in stdout


def test_plugins_json(cli):
    code, stdout, _ = cli("plugins", "--json")
    plugins = {p["name"]: p for p in json.loads(stdout)}
    gp = plugins["ganagerie.plugins.gradient_penalty"]
    assert gp["version"] == __version__
    assert gp["provides"]["regularizers"] == ["gradient-penalty", "lipschitz-penalty"]


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "ring8", "--loss", "wasserstien"], "did you mean 'wasserstein'"),
    (["train", "--dataset", "rng8"], "did you mean 'ring8'"),
    (["train", "--dataset", "ring8", "--reg", "gradient-penalty:weight=heavy"], "expected a number"),
    (["train", "--dataset", "ring8", "--steps", "0"], "steps must be between 1 and"),
    (["train", "--dataset", "mnist"], "pass --download"),
    (["train", "--dataset", "ring8", "--bogus"], "No such option"),
    (["train"], "needs --dataset"),
    (["train", "--resume", "--out", "{tmp}/none"], "nothing to resume"),
    (["sample", "{tmp}/none", "-o", "{tmp}/x.png"], "does not exist"),
    (["list", "gizmos"], "unknown kind"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(cli, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = tmp_path / "out"
    if args[0] == "train" and "--out" not in args:
        args += ["--out", str(out)]
    code, stdout, err = cli(*args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and err.startswith("error: ")
    assert "Traceback" not in err
    assert not out.exists()


def test_unwritable_output_and_existing_runs(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "1", "--out", blocker / "run")
    assert code == 2 and "choose another --out" in err
    run = tmp_path / "run"
    assert cli("train", "--dataset", "ring8", "--steps", "2", "--out", run, "--quiet")[0] == 0
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "2", "--out", run)
    assert code == 2 and "--resume" in err
    code, _, err = cli("train", "--resume", "--out", run, "--loss", "hinge")
    assert code == 2 and "drop --loss" in err
    code, _, err = cli("sample", run, "-o", tmp_path / "x.jpg")
    assert code == 2 and ".png" in err


def test_console_script_and_exit_codes():
    version = subprocess.run([sys.executable, "-m", "ganagerie.cli", "--version"],
                             capture_output=True, text=True)
    assert version.returncode == 0 and __version__ in version.stdout
    bad = subprocess.run(["ganagerie", "train", "--dataset", "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_a_plugin_taking_a_built_in_name_costs_one_warning_not_the_cli(cli, tmp_path, monkeypatch):
    import importlib.metadata

    from ganagerie import plugin_loader

    (tmp_path / "ganagerie_hinge_clash.py").write_text(
        "from ganagerie import hookimpl\n"
        "from ganagerie.plugins.wasserstein import WassersteinLoss\n\n"
        "@hookimpl\n"
        "def register_losses(register):\n"
        "    register('hinge', WassersteinLoss, help='Another hinge.')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = importlib.metadata.entry_points

    def with_clash(group=None):
        extra = [importlib.metadata.EntryPoint("clash", "ganagerie_hinge_clash", group)]
        return [*real(group=group), *(extra if group == "ganagerie" else [])]

    monkeypatch.setattr(importlib.metadata, "entry_points", with_clash)
    monkeypatch.setattr(plugin_loader, "_loaded", None)
    code, out, err = cli("train", "--dataset", "ring8", "--loss", "wasserstein", "--steps", "3",
                         "--set", "dataset.n=500", "--quiet", "--out", tmp_path / "r")
    assert code == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "loss 'hinge'" in warnings[0]
    assert "'ganagerie_hinge_clash:hinge'" in warnings[0]
    assert "completed at step 3" in out
    code, out, _ = cli("list", "losses")
    assert code == 0 and "ganagerie_hinge_clash:hinge" in out and "Another hinge." in out
    monkeypatch.setattr(plugin_loader, "_loaded", None)
    monkeypatch.setenv("GANAGERIE_STRICT_PLUGINS", "1")
    code, _, err = cli("list")
    assert code == 2 and err.startswith("error: loss 'hinge' is registered by") and len(err.splitlines()) == 1
    monkeypatch.setattr(plugin_loader, "_loaded", None)


def test_bench_list_takes_a_path(cli, tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text('description = "mine"\ndatasets = ["ring8"]\nvariants = ["vanilla"]\n')
    code, out, err = cli("bench", "list", suite)
    assert code == 0, err
    assert out.split()[:3] == ["mine", "1", "runs"]


def test_train_records_its_threads(cli, tmp_path):
    code, _, err = cli("train", "--dataset", "ring8", "--steps", "3", "--threads", "1", "--set",
                       "dataset.n=500", "--quiet", "--out", tmp_path / "r")
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "config.json").read_text())["threads"] == 1
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert {"diag/d_gap", "diag/d_accuracy", "diag/d_grad_norm", "diag/g_grad_norm"} <= set(rows[-1])


@pytest.mark.parametrize("args", [["--help"], ["list"], ["list", "--json"], ["plugins"], ["bench", "list"]])
def test_listing_commands_import_no_torch(args, tmp_path):
    # start-up time is mostly importing torch: these commands read names, help and suites only
    # (benchmarks/startup.py times them)
    probe = ("import sys; from ganagerie.cli import main; code = main(sys.argv[1:]); "
             "heavy = sorted(m for m in ('torch', 'numpy', 'ganagerie.components') if m in sys.modules); "
             "print('imported:', *heavy, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "imported:", done.stderr
