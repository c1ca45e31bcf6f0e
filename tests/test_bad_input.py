"""Every bad input is exit code 2, one line saying what to do, no traceback, nothing written.

The table grows with every case found; each row failed (traceback, silent acceptance or a
misleading message) before the check that now catches it.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganagerie.files import read_jsonl
from ganagerie.train.checkpoint import read_checkpoint, save_checkpoint

SMALL = ["--set", "dataset.n=500", "--set", "log_every=5", "--set", "checkpoint_every=10", "--quiet"]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A finished 20-step run, and files of every wrong kind next to it."""
    from ganagerie.cli import main

    p = tmp_path_factory.mktemp("prepared")
    assert main(["train", "--dataset", "ring8", "--steps", "20", *SMALL, "--out", str(p / "run")]) == 0
    (p / "file.txt").write_text("not a directory")
    (p / "latin1.toml").write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    for name, text in (("badbench", '{"format": 1, "suite": 3}'), ("notjson", "{"),
                       ("badresults", '{"runs": "x"}')):
        (p / name).mkdir()
        (p / name / ("results.json" if name == "badresults" else "bench.json")).write_text(text)
    shutil.copytree(p / "run" / "checkpoints", p / "ckptonly" / "checkpoints")
    # files that read without bound, block, or recurse; a log damaged in its middle
    os.mkfifo(p / "fifo.json")
    text = (p / "run" / "config.json").read_text()
    (p / "twice.json").write_text(text.replace('"steps":', '"steps": 7, "steps":', 1))
    (p / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (p / "nestedbench").mkdir()
    (p / "nestedbench" / "bench.json").write_text('{"a": ' * 50_000 + "1" + "}" * 50_000)
    (p / "billion-seeds.toml").write_text('name = "b"\nseeds = 1000000000\ndatasets = ["ring8"]\n'
                                          'variants = ["vanilla"]\n')
    labels = ", ".join(f'{{ label = "v{i}", variant = "vanilla" }}' for i in range(11))
    (p / "many-runs.toml").write_text(f'name = "m"\nseeds = 10000\ndatasets = ["ring8"]\n'
                                      f"variants = [{labels}]\n")
    # suites asking for more than the flags may, or nested deeper than any suite is
    grid = ", ".join(['"ring8"'] * 200)
    (p / "wide-grid.toml").write_text(f"datasets = [{grid}]\nvariants = [{grid.replace('ring8', 'v')}]\n")
    (p / "listed-seeds.toml").write_text(f'seeds = {list(range(10_001))}\ndatasets = ["ring8"]\n'
                                         'variants = ["vanilla"]\n')
    (p / "confirm.toml").write_text('seeds = 600\ndatasets = ["ring8"]\nvariants = ["vanilla", "wgan-gp"]\n')
    (p / "deep-suite.toml").write_text("datasets = " + "[" * 20 + '"ring8"' + "]" * 20 + "\n")
    (p / "deeper-suite.toml").write_text("datasets = " + "[" * 100_000 + "]" * 100_000 + "\n")
    (p / "huge-suite.toml").write_text("description = '" + "x" * 2**21 + "'\n")
    for name, line in (("inf-lr", "lr_d = inf"), ("zero-lr", "lr_g = 0.0"), ("nan-lr", "lr_d = nan")):
        (p / f"{name}.toml").write_text(f'datasets = ["ring8"]\nvariants = ["vanilla"]\n[set]\n{line}\n')
    shutil.copytree(p / "run", p / "damagedlog")
    rows = (p / "damagedlog" / "metrics.jsonl").read_text().splitlines(keepends=True)
    (p / "damagedlog" / "metrics.jsonl").write_text("".join([rows[0], "not json\n", *rows[1:]]))
    cfg = json.loads((p / "run" / "config.json").read_text())
    for name, edit in (("regs-string", {"regularizers": "gradient-penalty"}),
                       ("root-option", {"dataset": {"name": "mnist", "options": {"root": "/tmp/x"}}}),
                       ("gpu-arch", {"device": "cuda:abc"}),
                       ("escaping", {"variant": "x/../../../ESCAPED"}),
                       ("nul", {"variant": "van\u0000illa"}),
                       ("huge-name", {"dataset": {"name": "r" * 10_000_000, "options": {}}})):
        (p / f"{name}.json").write_text(json.dumps({**cfg, **edit}))
    (p / "escaping-suite.toml").write_text('name = "../../../ESCAPED"\ndatasets = ["ring8"]\n'
                                           'variants = ["vanilla"]\n')
    # a run whose checkpoints/ is another run's, and a new --out whose samples/ is
    shutil.copytree(p / "run", p / "linkedckpt", ignore=shutil.ignore_patterns("checkpoints"))
    (p / "linkedckpt" / "checkpoints").symlink_to(p / "run" / "checkpoints")
    (p / "linkedsamples").mkdir()
    (p / "linkedsamples" / "samples").symlink_to(p / "run" / "samples", target_is_directory=True)
    return p


def _snapshot(root: Path) -> dict[str, str]:
    """Every file's digest but the lock files (``DIR/.lock``: created by a writer that takes a
    directory's lock before it reads, left in place by design, holding no data)."""
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file() and f.name != ".lock"}


CASES = [
    # tracebacks before
    (["train", "--dataset", "ring8", "--batch-size", "600", "--set", "dataset.n=500"],
     "larger than the dataset"),
    (["train", "--dataset", "ring8", "--seed", "99999999999999999999999"], "Invalid value for '--seed'"),
    (["train", "--dataset", "ring8", "--set", "arch.g_width=1000000000"], "parameters (over"),
    (["train", "--dataset", "ring8", "--device", "cuda:abc"], "device must be cpu, cuda, cuda:N"),
    (["train", "--config", "{p}"], "is a directory"),
    (["train", "--config", "{p}/file.txt"], "is not valid JSON"),
    (["bench", "run", "{p}/latin1.toml", "--out", "{tmp}/b"], "not UTF-8"),
    (["bench", "report", "{p}/badbench"], "not a ganagerie benchmark plan"),
    (["bench", "report", "{p}/notjson"], "is not valid JSON"),
    (["bench", "verify", "{p}/badresults"], "not a ganagerie results file"),
    (["bench", "run", "quick", "--out", "{p}/file.txt"], "choose another --out"),
    (["bench", "run", "quick", "--out", "/proc/ganagerie-bench"], "choose another --out"),
    # accepted silently before
    (["train", "--dataset", "ring8", "--variant", ""], "--variant is empty"),
    (["train", "--dataset", "ring8", "--out", ""], "--out is empty"),
    (["train", "--resume", "--out", "{p}/run", "--steps", "0"], "below step 20"),
    (["train", "--resume", "--out", "{p}/run", "--steps", "10"], "below step 20"),
    (["train", "--dataset", "ring8", "--set", "lr_d=1e999"], "expected a finite number"),
    (["train", "--dataset", "ring8", "--set", "loss_g_weight=-1"], "loss_g_weight must be 0 or more"),
    (["sample", "{p}/run", "--seed", "-1", "-o", "{tmp}/x.png"], "Invalid value for '--seed'"),
    (["eval", "{p}/run", "--seed", "-1"], "Invalid value for '--seed'"),
    (["train", "--dataset", "ring8", "--steps", "5", "--steps", "6"], "--steps is given twice"),
    (["train", "--dataset", "ring8", "--loss", "hinge", "--loss=wasserstein"], "--loss is given twice"),
    (["train", "--dataset", "ring8", "--steps", "100000000000000000000000"], "out of range"),
    (["train", "--dataset", "ring8", "--steps", "1000000000"], "steps must be between 1 and 100,000,000"),
    (["eval", "{p}/run", "--n-samples", "1000000000"], "Invalid value for '--n-samples'"),
    (["bench", "run", "quick", "--seeds", "1000000000", "--out", "{tmp}/b"], "--seeds must be between"),
    # misleading messages before
    (["train", "--config", "{p}/regs-string.json", "--out", "{tmp}/r"], "regularizers must be a list"),
    (["train", "--config", "{p}/gpu-arch.json", "--out", "{tmp}/r"], "device must be cpu, cuda, cuda:N"),
    # leftovers and overwrites before
    (["bench", "verify", "{p}/badresults", "--jobs", "0"], "not a ganagerie results file"),
    (["train", "--dataset", "ring8", "--out", "{p}/ckptonly"], "already holds a run"),
    # where data lives comes from the command line or the environment, never from a file
    (["train", "--config", "{p}/root-option.json", "--out", "{tmp}/r"], "unknown option 'root'"),
    # unbounded or blocking reads, and a log that a resume would have rewritten into less
    (["train", "--config", "{p}/fifo.json", "--out", "{tmp}/r"], "is not a regular file"),
    (["train", "--config", "/dev/zero", "--out", "{tmp}/r"], "is not a regular file"),
    (["train", "--config", "{p}/nested.json", "--out", "{tmp}/r"], "nested too deeply"),
    (["train", "--config", "{p}/twice.json", "--out", "{tmp}/r"], "key 'steps' is given twice"),
    (["bench", "report", "{p}/nestedbench"], "nested too deeply"),
    (["train", "--resume", "--out", "{p}/damagedlog"], "metrics.jsonl line 2 of"),
    (["bench", "run", "{p}/billion-seeds.toml", "--out", "{tmp}/b"], "'seeds' is 1,000,000,000"),
    (["bench", "run", "{p}/many-runs.toml", "--out", "{tmp}/b"], "110,000 runs, more than 100,000"),
    # limits a suite shares with the flags, before anything is expanded; confirmation beyond 1,000 runs
    (["bench", "run", "{p}/wide-grid.toml", "--out", "{tmp}/b"], "40,000 (dataset, variant) cells, more "
                                                                 "than 10,000; set GANAGERIE_NO_LIMITS=1"),
    (["bench", "run", "{p}/listed-seeds.toml", "--out", "{tmp}/b"], "'seeds' lists 10,001 seeds, more than "
                                                                    "10,000 (the limit of --seeds too)"),
    (["bench", "run", "{p}/confirm.toml", "--out", "{tmp}/b"], "is 1,200 runs, more than 1,000, each a "
                                                               "directory in"),
    (["bench", "run", "{p}/deep-suite.toml", "--out", "{tmp}/b"], "nested more than 16 levels deep"),
    (["bench", "run", "{p}/deeper-suite.toml", "--out", "{tmp}/b"], "nested too deeply to be a suite"),
    (["bench", "run", "{p}/huge-suite.toml", "--out", "{tmp}/b"], "more than the 1,048,576 this tool reads"),
    (["bench", "run", "/dev/zero", "--out", "{tmp}/b"], "/dev/zero is not a regular file"),
    (["bench", "run", "{p}/inf-lr.toml", "--out", "{tmp}/b"], "lr_d: expected a finite number, got inf"),
    (["bench", "run", "{p}/nan-lr.toml", "--out", "{tmp}/b"], "lr_d: expected a finite number, got nan"),
    (["bench", "run", "{p}/zero-lr.toml", "--out", "{tmp}/b"], "lr_g must be positive and finite in float32"),
    # floats a float32 step cannot hold, sizes whose estimate overflows on the meta device
    (["train", "--dataset", "ring8", "--set", "lr_g=1e308"], "lr_g must be positive and finite in float32"),
    (["train", "--dataset", "ring8", "--set", "loss_g_weight=1e300"], "loss_g_weight must be 0 or more"),
    (["train", "--dataset", "ring8", "--set", "arch.g_width=1000000000000"], "than a tensor can index"),
    # paths from files, links inside a run, names of any length
    (["train", "--config", "{p}/escaping.json"], "bad variant name 'x/../../../ESCAPED'"),
    (["train", "--config", "{p}/nul.json"], "bad variant name"),
    (["train", "--config", "{p}/huge-name.json"], "bad dataset name"),
    (["bench", "run", "{p}/escaping-suite.toml"], "name '../../../ESCAPED' must be letters"),
    (["train", "--resume", "--out", "{p}/linkedckpt"], "checkpoints is a symbolic link"),
    (["eval", "{p}/linkedckpt"], "checkpoints is a symbolic link"),
    (["train", "--dataset", "ring8", "--out", "{p}/linkedsamples"], "samples is a symbolic link"),
    # the earlier table
    (["train", "--dataset", "ring8", "--loss", "wasserstien"], "did you mean 'wasserstein'"),
    (["train", "--dataset", "rng8"], "did you mean 'ring8'"),
    (["train", "--dataset", "ring8", "--reg", "gradient-penalty:weight=heavy"], "expected a number"),
    (["train", "--dataset", "mnist"], "pass --download"),
    (["train", "--dataset", "ring8", "--reg", "diffaugment"], "image"),
    (["train", "--dataset", "ring8", "--reg", "pacgan:m=3", "--batch-size", "32"], "divisible by 3"),
    (["train", "--dataset", "ring8", "--bogus"], "No such option"),
    (["list", "gizmos"], "unknown kind"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, prepared, tmp_path, args, message):
    args = [a.replace("{p}", str(prepared)).replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "train" and "--out" not in args and "--resume" not in args:
        args += ["--out", str(tmp_path / "out")]
    before = _snapshot(prepared)
    code, _, err = cli(*args)
    assert code == 2, err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err[:2000]
    assert len(err) <= 1_100, f"{len(err)} characters"
    assert message in err, err
    assert _snapshot(prepared) == before  # nothing lost or half-written
    assert not any(tmp_path.iterdir()), list(tmp_path.iterdir())


def test_a_damaged_checkpoint_is_refused_by_resume_sample_and_eval(cli, prepared, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(prepared / "run", run)
    tensors = next((run / "checkpoints").glob("step-*.safetensors"))
    data = bytearray(tensors.read_bytes())
    for i in range(8):  # eight flipped bytes in the tensor data
        data[-(i * 97 + 5)] ^= 0xFF
    tensors.write_bytes(bytes(data))
    for args in (["train", "--resume", "--out", run, "--steps", "30"],
                 ["sample", run, "-o", tmp_path / "x.png"], ["eval", run]):
        code, _, err = cli(*args)
        assert code == 2 and "does not match its checksum" in err and len(err.splitlines()) == 1, err
    manifest = json.loads((run / "checkpoints" / "last.json").read_text())
    manifest["state"]["$dict"][1][1] = 5  # the step, edited
    (run / "checkpoints" / "last.json").write_text(json.dumps(manifest))
    code, _, err = cli("eval", run)
    assert code == 2 and "damaged or was edited" in err


def test_a_generator_with_non_finite_weights_is_refused(cli, prepared, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(prepared / "run", run)
    state = read_checkpoint(run / "checkpoints" / "last.json")
    first = next(iter(state["generator"]))
    state["generator"][first][0] = float("nan")
    save_checkpoint(run / "checkpoints", state, state["step"])
    for args in (["sample", run, "-o", tmp_path / "x.png"], ["eval", run]):
        code, _, err = cli(*args)
        assert code == 2 and "non-finite weights" in err, err


def test_a_diverged_run_says_where_and_never_checkpoints_broken_weights(cli, tmp_path):
    code, _, _ = cli("train", "--dataset", "ring8", "--steps", "200", "--set", "lr_d=1e30",
                     "--set", "lr_g=1e30", *SMALL, "--out", tmp_path / "d")
    assert code == 1
    status = json.loads((tmp_path / "d" / "status.json").read_text())
    assert status["status"] == "diverged" and 1 <= status["diverged_at"] <= status["step"]
    rows = (tmp_path / "d" / "metrics.jsonl").read_text().splitlines()
    last = json.loads(rows[-1])  # strict JSON: no bare NaN
    assert "nonfinite" in last and all(last[k] is None for k in last["nonfinite"])
    if (tmp_path / "d" / "checkpoints" / "last.json").exists():
        state = read_checkpoint(tmp_path / "d" / "checkpoints" / "last.json")
        assert state["step"] < status["diverged_at"] or all(
            bool(t.isfinite().all()) for t in state["generator"].values())


def test_kill_9_then_resume_gives_the_uninterrupted_metrics_row_for_row(tmp_path):
    args = ["--dataset", "ring8", "--steps", "3000", "--set", "dataset.n=2000", "--set", "log_every=7",
            "--set", "checkpoint_every=100", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ganagerie", "train", *args]
    # the uninterrupted run trains beside the one that is killed (one thread each)
    whole = subprocess.Popen([*cmd, "--out", str(tmp_path / "whole")], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "part")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "part" / "checkpoints" / "last.json"
    deadline = time.time() + 120
    while time.time() < deadline and not checkpoint.exists():
        time.sleep(0.02)
    time.sleep(0.3)  # well inside a later log window and between checkpoints, most likely
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    subprocess.run([*cmd[:3], "train", "--resume", "--out", str(tmp_path / "part"), "--quiet"],
                   check=True, env=env, capture_output=True)
    assert whole.wait() == 0, whole.stderr.read()

    def rows(run):
        return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
                for r in read_jsonl(tmp_path / run / "metrics.jsonl")]

    assert rows("whole") == rows("part")
    assert len(rows("whole")) == 3000 // 7 + 1
    assert not list((tmp_path / "part").rglob("*.tmp"))


def test_json_files_are_strict_and_name_their_non_finite_numbers(tmp_path):
    from ganagerie.files import append_jsonl, write_json

    write_json(tmp_path / "a.json", {"x": float("nan"), "y": [1.0, float("inf")], "z": 2})
    data = json.loads((tmp_path / "a.json").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert data == {"x": None, "y": [1.0, None], "z": 2, "nonfinite": ["x", "y[1]"]}
    append_jsonl(tmp_path / "m.jsonl", {"step": 1, "d_loss": float("-inf")})
    row = json.loads((tmp_path / "m.jsonl").read_text(), parse_constant=lambda c: pytest.fail(c))
    assert row == {"step": 1, "d_loss": None, "nonfinite": ["d_loss"]}


def test_a_config_edited_under_a_checkpoint_is_one_line_on_resume(cli, prepared, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(prepared / "run", run)
    cfg = json.loads((run / "config.json").read_text())
    cfg["arch"]["options"]["g_width"] = 64
    (run / "config.json").write_text(json.dumps(cfg))
    code, _, err = cli("train", "--resume", "--out", run, "--steps", "30")
    assert code == 2 and "does not fit this run" in err and len(err.splitlines()) == 1, err


def _forge(run: Path, edit) -> None:
    """Rewrite ``run``'s checkpoint with ``edit(state)`` applied, checksums recomputed (a
    forger can recompute SHA-256)."""
    state = read_checkpoint(run / "checkpoints" / "last.json")
    edit(state)
    save_checkpoint(run / "checkpoints", state, state["step"])


FORGERIES = {
    "int8 generator weights": (lambda s: s["generator"].update(
        {k: v.to(torch.int8) for k, v in s["generator"].items() if v.is_floating_point()}), "torch.int8"),
    "a bool discriminator weight": (lambda s: s["discriminator"].update(
        {next(iter(s["discriminator"])): s["discriminator"][next(iter(s["discriminator"]))].bool()}),
        "torch.bool"),
    "an Adam moment of the wrong shape": (lambda s: s["opt_d"]["state"][0].update(
        exp_avg=s["opt_d"]["state"][0]["exp_avg"].flatten()[:3]), "exp_avg is (3,)"),
    "a negative Adam step": (lambda s: s["opt_g"]["state"][0].update(step=torch.tensor(-5.0)),
                             "step is -5.0"),
}


@pytest.mark.parametrize("name", FORGERIES)
def test_a_forged_checkpoint_consistent_with_its_checksums_is_refused(cli, prepared, tmp_path, name):
    """Resume refuses every forgery in one line; eval and sample refuse the networks' ones."""
    edit, message = FORGERIES[name]
    run = tmp_path / "run"
    shutil.copytree(prepared / "run", run)
    _forge(run, edit)
    before = _snapshot(run)
    commands = [["train", "--resume", "--out", run, "--steps", "30"]]
    if "generator" in name or "discriminator" in name:
        commands += [["eval", run], ["sample", run, "-o", tmp_path / "x.png"]]
    for args in commands:
        code, _, err = cli(*args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, (args, err)
    assert _snapshot(run) == before and not (tmp_path / "x.png").exists()


def test_progress_is_read_from_the_checkpoint_not_from_status_json(cli, prepared, tmp_path):
    """status.json claiming step 40 of 40 over the step-20 checkpoint: eval records the step
    of the weights it scored (20), and the checkpoint's step is what the harness reads."""
    from ganagerie.train.checkpoint import checkpoint_step

    run = tmp_path / "run"
    shutil.copytree(prepared / "run", run)
    (run / "status.json").write_text(json.dumps({"status": "completed", "step": 40, "steps": 40}))
    assert checkpoint_step(run / "checkpoints" / "last.json") == 20
    code, _, err = cli("eval", run)
    assert code == 0, err
    assert json.loads((run / "eval.json").read_text())["run"]["step"] == 20
    manifest = json.loads((run / "checkpoints" / "last.json").read_text())
    manifest["step"] = 40  # edited, and no longer the state's: no step at all
    (run / "checkpoints" / "last.json").write_text(json.dumps(manifest))
    assert checkpoint_step(run / "checkpoints" / "last.json") is None


def test_a_full_disk_at_a_checkpoint_is_one_line_a_failed_run_and_resumes_bit_identically(
        cli, tmp_path, monkeypatch):
    import errno

    from ganagerie.train import checkpoint

    real = checkpoint.write_with

    def full(path, write):
        if Path(path).name.startswith("step-0000020"):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, write)

    monkeypatch.setattr(checkpoint, "write_with", full)
    args = ["train", "--dataset", "ring8", "--steps", "30", *SMALL]
    code, _, err = cli(*args, "--out", tmp_path / "part")
    assert code == 3 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device, ENOSPC" in err and "free disk space" in err, err
    status = json.loads((tmp_path / "part" / "status.json").read_text())
    assert status["status"] == "failed" and status["step"] == 10 and "ENOSPC" in status["error"]
    assert read_checkpoint(tmp_path / "part" / "checkpoints" / "last.json")  # the step-10 one, intact
    monkeypatch.undo()  # space freed
    assert cli("train", "--resume", "--out", tmp_path / "part", "--quiet")[0] == 0
    assert cli(*args, "--out", tmp_path / "whole")[0] == 0
    a, b = (read_checkpoint(tmp_path / run / "checkpoints" / "last.json") for run in ("whole", "part"))
    assert a["step"] == b["step"] == 30
    for net in ("generator", "discriminator"):
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net])

    def rows(run):
        return [{k: v for k, v in r.items() if k not in ("steps_per_s", "time_s")}
                for r in read_jsonl(tmp_path / run / "metrics.jsonl")]

    assert rows("whole") == rows("part")


def test_a_benchmark_of_more_than_1000_runs_starts_when_confirmed(tmp_path, monkeypatch):
    from ganagerie.bench.harness import confirm_size
    from ganagerie.bench.layout import PLAN_FILE
    from ganagerie.bench.suite import parse_suite
    from ganagerie.errors import UsageError

    monkeypatch.delenv("GANAGERIE_NO_LIMITS", raising=False)
    suite = parse_suite('seeds = 600\ndatasets = ["ring8"]\nvariants = ["vanilla", "wgan-gp"]\n', "c.toml")
    with pytest.raises(UsageError, match="add --yes"):
        confirm_size(suite, tmp_path, None, yes=False)
    confirm_size(suite, tmp_path, None, yes=True)
    confirm_size(suite, tmp_path, 500, yes=False)  # --seeds 500: 1,000 runs
    with pytest.raises(UsageError, match="1,002 runs"):
        confirm_size(suite, tmp_path, 501, yes=False)
    (tmp_path / PLAN_FILE).write_text("{}")  # begun, so confirmed: a rerun finishes it
    confirm_size(suite, tmp_path, None, yes=False)
    monkeypatch.setenv("GANAGERIE_NO_LIMITS", "1")
    confirm_size(suite, tmp_path / "new", None, yes=False)
