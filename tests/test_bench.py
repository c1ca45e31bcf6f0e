"""The harness end to end on real tiny runs: run dirs, divergence, failures, resume after
kill -9, determinism, config mismatches, and verify."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import helpers
import pytest
import torch.nn.functional as F

from ganagerie import hookimpl
from ganagerie.bench.harness import run_suite
from ganagerie.bench.suite import load_suite, parse_suite
from ganagerie.bench.verify import check_recorded, load_results, verify
from ganagerie.components import Loss
from ganagerie.errors import UsageError
from ganagerie.files import read_jsonl
from ganagerie.plugin_loader import load_plugins

UNSTABLE = '{ label = "unstable", variant = "vanilla", set = { lr_d = 1e30, lr_g = 1e30, log_every = 5 } }'


def tiny_suite(tmp_path, variants, extra="", name="tiny"):
    path = tmp_path / f"{name}.toml"
    path.write_text(helpers.tiny_suite(variants, seeds=2, steps=40, eval_every=20, checkpoint_every=10,
                                       extra=extra))
    return path


def statuses(out):
    return {r["key"]: r["status"] for r in json.loads((out / "results.json").read_text())["runs"]}


def run_keys(out):
    return sorted(str(p.parent.relative_to(out / "runs")) for p in (out / "runs").rglob("config.json"))


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory, registry):
    """A finished tiny suite: vanilla and a variant that diverges, 2 seeds, run serially."""
    tmp = tmp_path_factory.mktemp("bench")
    suite = load_suite(tiny_suite(tmp, ['"vanilla"', UNSTABLE]))
    outcomes = run_suite(suite, tmp / "out", registry, jobs=1, threads=1, progress=False)
    return tmp / "out", outcomes


def test_every_run_gets_its_own_directory_and_the_report_is_written(bench_dir):
    out, outcomes = bench_dir
    keys = ["ring8/vanilla/seed-0", "ring8/vanilla/seed-1", "ring8/unstable/seed-0",
            "ring8/unstable/seed-1"]
    assert [o.key for o in outcomes] == keys and sorted(run_keys(out)) == sorted(keys)
    for name in ("bench.json", "results.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    run = out / "runs" / "ring8" / "vanilla" / "seed-0"
    final = json.loads((run / "eval.json").read_text())["metrics"]
    curve = [r for r in read_jsonl(run / "metrics.jsonl") if "eval" in r]
    assert [r["step"] for r in curve] == [20, 40]
    assert final == curve[-1]["eval"]  # the reported number is the curve's last point
    assert not list(out.rglob("*.tmp"))


def test_a_diverged_run_is_recorded_and_the_suite_goes_on(bench_dir):
    out, outcomes = bench_dir
    assert [o.status for o in outcomes] == ["completed", "completed", "diverged", "diverged"]
    results = json.loads((out / "results.json").read_text())
    unstable = results["datasets"]["ring8"]["variants"]["unstable"]
    assert unstable["diverged"] == 2 and unstable["failure_rate"] == 1.0
    assert unstable["metrics"]["modes"]["n"] == 0
    assert results["datasets"]["ring8"]["ranking"]["unranked"] == ["unstable"]


def test_rerun_skips_finished_runs_and_adds_new_seeds(tmp_path, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    out = tmp_path / "out"
    first = run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    ckpt = out / "runs" / "ring8" / "vanilla" / "seed-0" / "checkpoints" / "last.json"
    before = ckpt.stat().st_mtime_ns
    again = run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)
    assert [o.reused for o in first] == [False]
    assert [(o.key, o.reused) for o in again] == [("ring8/vanilla/seed-0", True),
                                                   ("ring8/vanilla/seed-1", False),
                                                   ("ring8/vanilla/seed-2", False)]
    assert ckpt.stat().st_mtime_ns == before
    assert run_keys(out) == [f"ring8/vanilla/seed-{s}" for s in range(3)]
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 3


def test_each_run_is_scored_once_and_a_missing_or_stale_eval_is_redone(tmp_path, registry, monkeypatch):
    import ganagerie.bench.harness as harness

    scored = []
    evaluate = harness.evaluate
    monkeypatch.setattr(harness, "evaluate", lambda rd, reg: (scored.append(rd.root.name), evaluate(rd, reg)))
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    out = tmp_path / "out"
    run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)
    assert scored == []  # training evaluated the last step: its result is the eval.json
    runs = out / "runs" / "ring8" / "vanilla"
    (runs / "seed-0" / "eval.json").unlink()  # killed between training and evaluating
    stale = json.loads((runs / "seed-1" / "eval.json").read_text())
    stale["run"]["step"] = 20  # scored weights the run no longer ends with
    (runs / "seed-1" / "eval.json").write_text(json.dumps(stale))
    (runs / "seed-2" / "eval.json").write_text("{")  # damaged
    again = run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)
    assert sorted(scored) == ["seed-0", "seed-1", "seed-2"]
    assert [o.status for o in again] == ["completed"] * 3
    for seed in range(3):
        record = json.loads((runs / f"seed-{seed}" / "eval.json").read_text())
        curve = [r for r in read_jsonl(runs / f"seed-{seed}" / "metrics.jsonl") if "eval" in r]
        assert record["run"]["step"] == 40 and record["metrics"] == curve[-1]["eval"]


def test_rerun_with_another_config_is_refused(tmp_path, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    run_suite(suite, tmp_path / "out", registry, seeds=1, jobs=1, threads=1, progress=False)
    with pytest.raises(UsageError, match="holds a run with another config .steps: 40 there, 50 now"):
        run_suite(suite, tmp_path / "out", registry, seeds=1, steps=50, jobs=1, threads=1, progress=False)


class GivesUp(Loss):
    """The usual GAN loss that raises on its 15th call: a run that crashes."""

    def __init__(self):
        self.calls = 0

    def d_loss(self, real_out, fake_out):
        self.calls += 1
        if self.calls >= 15:
            raise RuntimeError("this loss gives up")
        return F.softplus(-real_out).mean() + F.softplus(fake_out).mean()

    def g_loss(self, fake_out):
        return F.softplus(-fake_out).mean()


class GivesUpPlugin:
    @hookimpl
    def register_losses(self, register):
        register("gives-up", GivesUp)


def test_a_crashing_run_is_recorded_as_failed_and_retried_on_rerun(tmp_path):
    registry = load_plugins(extra=[GivesUpPlugin()]).registry
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"', '{ label = "crash", loss = "gives-up" }']))
    out = tmp_path / "out"
    outcomes = run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    assert [o.status for o in outcomes] == ["completed", "failed"]
    # the plugin's fault, named (tests/test_plugin_faults.py)
    assert outcomes[1].error.startswith("train: loss 'gives-up' of GivesUpPlugin raised RuntimeError: "
                                        "this loss gives up (in d_loss, test_bench)")
    status = json.loads((out / "runs" / "ring8" / "crash" / "seed-0" / "status.json").read_text())
    assert status["status"] == "failed" and "this loss gives up" in status["traceback"]
    assert statuses(out)["ring8/crash/seed-0"] == "failed"
    assert "| crash | – | – | – | – | 1 | 0/1 | 1/1 |" in (out / "report.md").read_text()
    again = run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    assert [o.reused for o in again] == [True, False]


def _children(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find workers")
def test_kill_9_mid_suite_then_rerun_completes_every_run_once_with_identical_results(
        tmp_path, registry):
    suite_file = tiny_suite(tmp_path, ['"vanilla"', '"spectral-norm"'])
    suite_file.write_text(suite_file.read_text().replace("steps = 40", "steps = 400"))
    out, fresh = tmp_path / "killed", tmp_path / "fresh"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ganagerie.cli", "bench", "run", str(suite_file), "--jobs", "2",
         "--threads", "1", "--quiet", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    # kill once some run has finished and the others are mid-way
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in out.glob("runs/*/*/*/status.json")
                if json.loads(p.read_text() or "{}").get("status") == "completed"]
        if done:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the suite finished before it could be killed; make it longer"
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # orphaned workers notice and stop, so that no one writes into the run dirs any more
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not any(_alive(w) for w in workers)
    trained = [p for p in out.glob("runs/*/*/*/status.json")
               if json.loads(p.read_text()).get("status") == "completed"]
    # finished: trained and evaluated (a kill between the two leaves a run the rerun evaluates)
    finished = [p for p in trained if (p.parent / "eval.json").exists()]
    midway = [p for p in out.glob("runs/*/*/*/checkpoints/last.json")
              if p.parents[1] / "status.json" not in trained]
    # how far the other runs got depends on the machine's load: half-done ones are usual, not certain
    assert trained and len(trained) + len(midway) <= 4

    # the rerun keeps the suite's thread count (1 per run, 2 jobs on 2 cores): run it here
    suite = load_suite(suite_file)
    again = run_suite(suite, out, registry, jobs=1, progress=False)
    assert sum(o.reused for o in again) == len(finished)
    run_suite(suite, fresh, registry, jobs=1, threads=1, progress=False)
    keys = [f"ring8/{v}/seed-{s}" for v in ("vanilla", "spectral-norm") for s in (0, 1)]
    assert sorted(run_keys(out)) == sorted(keys)
    assert set(statuses(out).values()) == {"completed"}
    for key in keys:
        steps = [r["step"] for r in read_jsonl(out / "runs" / key / "metrics.jsonl") if "eval" not in r]
        assert steps == list(range(10, 401, 10)), key  # every row once, in order
    killed = json.loads((out / "results.json").read_text())
    clean = json.loads((fresh / "results.json").read_text())
    assert [r["metrics"] for r in killed["runs"]] == [r["metrics"] for r in clean["runs"]]
    assert killed["content_hash"] == clean["content_hash"]


def test_the_same_suite_twice_gives_identical_results(bench_dir, tmp_path, registry):
    out, _ = bench_dir
    suite = parse_suite(*(lambda p: (p["source"], p["origin"]))(
        json.loads((out / "bench.json").read_text())["suite"]))
    run_suite(suite, tmp_path / "again", registry, jobs=1, threads=1, progress=False)
    first = json.loads((out / "results.json").read_text())
    second = json.loads((tmp_path / "again" / "results.json").read_text())
    assert first["datasets"] == second["datasets"]
    assert first["content_hash"] == second["content_hash"]


def test_verify_reruns_recorded_runs_and_reports_differences(bench_dir, tmp_path, registry, cli):
    out, _ = bench_dir
    differences, where, n = verify(out, registry, runs=["ring8/vanilla/*"], out=tmp_path / "v",
                                   jobs=1)
    assert (differences, n) == ([], 2)
    assert run_keys(where) == ["ring8/vanilla/seed-0", "ring8/vanilla/seed-1"]
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for name in ("report.md", "report.html"):
        shutil.copy(out / name, tampered / name)
    results = json.loads((out / "results.json").read_text())
    results["runs"][0]["metrics"]["modes"] += 1
    (tampered / "results.json").write_text(json.dumps(results))
    code, stdout, _ = cli("bench", "verify", tampered, "--runs", "ring8/vanilla/seed-0", "--jobs",
                          "1", "--quiet")
    assert code == 1
    lines = stdout.splitlines()
    assert any(line.startswith("ring8/vanilla/seed-0: metrics {") for line in lines)
    assert any("summary over seeds" in line for line in lines)
    assert any("content_hash" in line for line in lines)
    assert "verified 1 run against" in stdout


def test_verify_catches_every_edit_without_rerunning(bench_dir, tmp_path, registry):
    out, _ = bench_dir
    assert check_recorded(out, load_results(out), registry) == []
    edits = {
        "summary": lambda r: r["datasets"]["ring8"]["variants"]["vanilla"].update(runs=99),
        "content_hash": lambda r: r.update(content_hash="sha256:" + "0" * 64),
    }
    for what, edit in edits.items():
        results = load_results(out)
        edit(results)
        problems = check_recorded(out, results, registry)
        assert problems[0].startswith("results.json") and what.split("_")[0] in problems[0], problems
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    md = (copy / "report.md").read_text()
    (copy / "report.md").write_text(md.replace("Benchmark report", "Benchmark rapport", 1))
    assert check_recorded(copy, load_results(copy), registry) == [
        "report.md: its text is not what results.json gives"]
    (copy / "report.md").write_text(md)
    eval_json = copy / "runs" / "ring8" / "vanilla" / "seed-1" / "eval.json"
    data = json.loads(eval_json.read_text())
    data["metrics"]["mixture-modes"]["modes"] += 1
    eval_json.write_text(json.dumps(data))
    (problem,) = check_recorded(copy, load_results(copy), registry)
    assert problem.startswith("ring8/vanilla/seed-1: metrics") and "in its run directory" in problem


COMMITTED_REPORTS = sorted((Path(__file__).resolve().parents[1] / "benchmarks" / "results").glob(
    "*/results.json"))


@pytest.mark.parametrize("results_json", COMMITTED_REPORTS, ids=lambda p: p.parent.name)
def test_the_committed_reports_are_what_their_results_give(results_json, registry):
    """A change to the report's text or statistics must rewrite the committed reports
    (``ganagerie bench report`` where the runs are kept), or `bench verify` would fail them."""
    report_dir = results_json.parent
    assert check_recorded(report_dir, load_results(report_dir), registry) == []


def test_keys_that_leave_the_benchmark_are_refused(bench_dir, tmp_path, cli):
    out, _ = bench_dir
    for key in ("../../escaped/victim", "/abs/vanilla/seed-0", "ring8/../seed-0"):
        bad = tmp_path / "bad"
        bad.mkdir(exist_ok=True)
        results = json.loads((out / "results.json").read_text())
        results["runs"][0]["key"] = key
        (bad / "results.json").write_text(json.dumps(results))
        code, _, err = cli("bench", "verify", bad, "--out", tmp_path / "v", "--quiet")
        assert code == 2 and "bad run" in err and len(err.splitlines()) == 1, (key, err)
        assert not (tmp_path / "escaped").exists() and not (tmp_path / "v").exists()


def test_verify_errors(bench_dir, cli, tmp_path):
    out, _ = bench_dir
    code, _, err = cli("bench", "verify", out, "--runs", "ring8/nothing/*")
    assert code == 2 and "matches no recorded run" in err
    code, _, err = cli("bench", "verify", tmp_path)
    assert code == 2 and "no results.json" in err


def test_bench_run_command(tmp_path, cli):
    suite = tiny_suite(tmp_path, ['"vanilla"'])
    code, stdout, _ = cli("bench", "run", suite, "--out", tmp_path / "o", "--seeds", "1",
                          "--steps", "20", "--jobs", "1", "--threads", "1", "--quiet")
    assert code == 0
    assert stdout.startswith("1 runs: 1 completed, 0 diverged, 0 failed (0 were already done)")
    code, _, err = cli("bench", "run", suite, "--out", tmp_path / "o2", "--jobs", "0")
    assert code == 2 and err.startswith("error: --jobs must be between 1 and")
    assert not (tmp_path / "o2").exists()
    code, _, err = cli("bench", "run", suite, "--out", tmp_path / "o", "--seeds", "1", "--steps",
                       "20", "--threads", "2")
    assert code == 2 and "was started with 1 thread(s) per run" in err
    code, _, err = cli("bench", "run", "nope")
    assert code == 2 and "unknown suite 'nope'" in err and len(err.splitlines()) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text('datasets = ["ring8"]\nvariants = ["vanilla"]\nsteps = 0\n')
    code, _, err = cli("bench", "run", bad)
    assert code == 2 and f"{bad}: 'steps' must be an integer >= 1" in err


def test_threads_are_those_the_suite_started_with(tmp_path, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    out = tmp_path / "out"
    run_suite(suite, out, registry, seeds=1, steps=10, jobs=1, threads=1, progress=False)
    run_suite(suite, out, registry, seeds=1, steps=10, jobs=1, progress=False)
    assert json.loads((out / "bench.json").read_text())["threads"] == 1


HOLD = ("import sys, time; from pathlib import Path; from ganagerie.locks import acquire; "
        "acquire(Path(sys.argv[1]), 'holder', 'wait'); print('held', flush=True); time.sleep(60)")


def test_one_bench_run_per_out_and_the_lock_of_a_killed_holder_is_free(tmp_path, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UsageError, match=f"in use by another `ganagerie bench` \\(pid {holder.pid} on host"):
        run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    assert not (out / "runs").exists()
    holder.kill()  # SIGKILL: the kernel releases its lock, nothing to take over
    holder.wait()
    outcomes = run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    assert [o.status for o in outcomes] == ["completed"]


def test_bench_report_into_a_live_benchmark_is_refused_in_one_line(tmp_path, cli, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"']))
    out = tmp_path / "out"
    run_suite(suite, out, registry, seeds=1, steps=10, jobs=1, threads=1, progress=False)
    before = (out / "results.json").read_bytes()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        code, _, err = cli("bench", "report", out)
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and "in use by another" in err and len(err.strip().splitlines()) == 1
    assert (out / "results.json").read_bytes() == before  # never replaced under a live run


def test_two_processes_after_a_killed_holder_leave_exactly_one_holder(tmp_path):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "held"
    first.kill()
    first.wait()
    racers = [subprocess.Popen([sys.executable, "-c", HOLD.replace("time.sleep(60)", "time.sleep(3)"),
                                str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    results = [(p.wait(), p.stdout.read(), p.stderr.read()) for p in racers]
    held = [r for r in results if r[1].strip() == "held"]
    refused = [r for r in results if r[0] != 0]
    assert len(held) == 1 and len(refused) == 1, results
    assert "is in use by another holder" in refused[0][2]


def test_two_bench_runs_into_one_out_never_train_a_run_twice(tmp_path):
    suite = tiny_suite(tmp_path, ['"vanilla"'])
    cmd = [sys.executable, "-m", "ganagerie", "bench", "run", str(suite), "--out", str(tmp_path / "o"),
           "--seeds", "2", "--jobs", "1", "--threads", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    codes = sorted(code for code, _ in results)
    if codes == [0, 0]:  # the first finished before the second started: the second reused it all
        return
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "in use by another `ganagerie bench`" in refused and len(refused.splitlines()) == 1
    for metrics in (tmp_path / "o" / "runs").rglob("metrics.jsonl"):
        rows = [json.loads(line) for line in metrics.read_text().splitlines()]
        steps = [r["step"] for r in rows if "d_loss" in r]
        assert steps == sorted(set(steps)), metrics  # no row written twice


def test_a_run_written_before_new_fields_existed_is_reused(tmp_path, registry):
    """A config.json without fields added since (compile, precision) reads with their defaults."""
    from ganagerie.bench.harness import check_reusable, plan_suite
    from ganagerie.bench.layout import run_dir

    suite = load_suite(str(tiny_suite(tmp_path, ['"vanilla"'])))
    (spec, *_) = plan_suite(suite, registry)
    rd = run_dir(tmp_path / "out", spec.key)
    rd.root.mkdir(parents=True)
    old = {k: v for k, v in spec.config.items() if k not in ("compile", "precision")}
    rd.config.write_text(json.dumps(old))
    check_reusable(tmp_path / "out", [spec])  # no error
    rd.config.write_text(json.dumps({**old, "lr_d": 1.0}))
    with pytest.raises(UsageError, match="another config"):
        check_reusable(tmp_path / "out", [spec])


def test_tasks_start_with_the_most_remaining_work(tmp_path, registry):
    """Longest first: wgan-gp (5 D updates a step) before vanilla, a half-done run last, and a
    damaged status counts as not started."""
    from ganagerie.bench.harness import longest_first, plan_suite
    from ganagerie.bench.layout import run_dir

    suite = load_suite(str(tiny_suite(tmp_path, ['"vanilla"', '"wgan-gp"'])))
    specs = plan_suite(suite, registry)
    assert [s.config["n_critic"] for s in specs] == [1, 1, 5, 5]
    out = tmp_path / "out"
    half, damaged = (run_dir(out, s.key) for s in specs[:2])
    for rd in (half, damaged):
        rd.root.mkdir(parents=True)
    half.write_status("running", 20, 40)
    damaged.status.write_text('["not", "a", "status"]')
    order = longest_first([[s] for s in specs], out)
    assert [t[0].key for t in order] == ["ring8/wgan-gp/seed-0", "ring8/wgan-gp/seed-1",
                                         "ring8/vanilla/seed-1", "ring8/vanilla/seed-0"]
    # a cell of seeds trained together weighs as its seeds together: wgan-gp seed-0 at step 25
    # has 15 x 6 = 90 updates left, more than either vanilla seed (40 and 80), less than both (120)
    started = run_dir(out, specs[2].key)
    started.root.mkdir(parents=True)
    started.write_status("running", 25, 40)
    order = longest_first([[specs[2]], [specs[1], specs[0]]], out)
    assert [[s.key for s in t] for t in order] == [["ring8/vanilla/seed-1", "ring8/vanilla/seed-0"],
                                                   ["ring8/wgan-gp/seed-0"]]
    # a negative step is damage too: not started, so as much work as wgan-gp seed-1 (a tie: input order)
    started.status.write_text('{"status": "running", "step": -400}')
    assert longest_first([[specs[3]], [specs[2]]], out) == [[specs[3]], [specs[2]]]


def test_seeds_added_after_a_look_train_only_the_new_seeds_and_the_report_says_so(tmp_path, registry):
    suite = load_suite(tiny_suite(tmp_path, ['"vanilla"'], extra='baseline = "vanilla"'))
    out = tmp_path / "out"
    run_suite(suite, out, registry, seeds=1, jobs=1, threads=1, progress=False)
    assert "seeds_added" not in json.loads((out / "bench.json").read_text())
    again = run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)
    assert [o.reused for o in again] == [True, False, False]
    assert json.loads((out / "bench.json").read_text())["seeds_added"] == [{"from": 1, "to": 3}]
    results = json.loads((out / "results.json").read_text())
    assert results["seeds_added"] == [{"from": 1, "to": 3}]
    assert "Seeds were added after a look at the results** (1 to 3 seeds" in (out / "report.md").read_text()
    assert check_recorded(out, load_results(out), registry) == []
    run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)  # no new seeds
    assert json.loads((out / "bench.json").read_text())["seeds_added"] == [{"from": 1, "to": 3}]
    plan = json.loads((out / "bench.json").read_text())
    plan["seeds_added"] = [{"from": "1", "to": 3}]
    (out / "bench.json").write_text(json.dumps(plan))
    with pytest.raises(UsageError, match="is not a ganagerie benchmark plan"):
        run_suite(suite, out, registry, seeds=3, jobs=1, threads=1, progress=False)


def test_bench_plan_prints_the_seeds_each_comparison_needs(bench_dir, cli, tmp_path):
    out, _ = bench_dir
    code, text, _ = cli("bench", "plan", out, "--baseline", "vanilla")
    assert code == 0
    # the unstable variant diverged in both seeds: nothing to compare
    assert text.splitlines() == ["no comparison with vanilla: no variant but it has completed "
                                 "runs, or no metric of the study has a known direction"]
    code, _, err = cli("bench", "plan", out)
    assert code == 2 and "names no baseline; give --baseline, one of vanilla, unstable" in err
    code, _, err = cli("bench", "plan", out, "--baseline", "nope")
    assert code == 2 and "'nope' is not one of the suite's variants" in err
    code, _, err = cli("bench", "plan", tmp_path)
    assert code == 2 and "no results.json" in err
