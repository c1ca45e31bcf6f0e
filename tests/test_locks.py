"""One writer per run directory: real processes started together, one trains, the other is
refused in one line, and the run's log holds each step once."""

import os
import subprocess
import sys

from ganagerie.files import read_jsonl

TRAIN = [sys.executable, "-m", "ganagerie", "train", "--dataset", "ring8", "--steps", "600",
         "--set", "dataset.n=500", "--set", "log_every=10", "--set", "checkpoint_every=50", "--quiet"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _together(*commands):
    procs = [subprocess.Popen(c, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in commands]
    return [(p.wait(timeout=300), p.stderr) for p in procs]


def _check(results, run, steps):
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], [(c, e.read()) for c, e in results]
    err = next(e for c, e in results if c == 2).read()
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert "in use by another `ganagerie train`" in err or "already holds a run" in err, err
    rows = [r["step"] for r in read_jsonl(run / "metrics.jsonl")]
    assert rows == list(range(10, steps + 1, 10))  # each step once


def test_two_trains_into_one_new_out(tmp_path):
    run = tmp_path / "run"
    _check(_together([*TRAIN, "--out", str(run)], [*TRAIN, "--out", str(run)]), run, 600)


def test_two_resumes_of_one_run(tmp_path):
    run = tmp_path / "run"
    first = ["100" if a == "600" else a for a in TRAIN]
    subprocess.run([*first, "--out", str(run)], env=ENV, check=True)
    resume = [*TRAIN[:4], "--resume", "--steps", "600", "--quiet", "--out", str(run)]
    _check(_together(resume, resume), run, 600)
