"""The Ray executor against a local Ray instance: same results as the process pool, a worker
that dies is retried and its run resumed so every run ends exactly once, and the CLI."""

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import helpers
import pytest

ray = pytest.importorskip("ray")

from ganagerie.bench import harness  # noqa: E402
from ganagerie.bench.harness import run_suite  # noqa: E402
from ganagerie.bench.ray_executor import RayExecutor  # noqa: E402
from ganagerie.bench.suite import load_suite  # noqa: E402
from ganagerie.errors import UsageError  # noqa: E402
from ganagerie.files import read_jsonl  # noqa: E402

# Ray workers cannot import this test module: its functions travel by value.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

KEYS = [f"ring8/{v}/seed-{s}" for v in ("vanilla", "lsgan") for s in (0, 1)]
VICTIM = "ring8/lsgan/seed-0"


@pytest.fixture(scope="module")
def local_ray():
    """One small Ray instance for the module; executors join it and leave it running."""
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False, object_store_memory=80 * 2**20,
             logging_level=logging.WARNING)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def suite_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("suite") / "tiny.toml"
    path.write_text(helpers.tiny_suite(["vanilla", "lsgan"], seeds=2, steps=150, eval_every=150,
                                       checkpoint_every=50))
    return path


@pytest.fixture(scope="module")
def ray_out(local_ray, suite_file, tmp_path_factory, registry):
    out = tmp_path_factory.mktemp("ray") / "out"
    outcomes = run_suite(load_suite(suite_file), out, registry, jobs=2, threads=1, progress=False,
                         executor="ray", batch_seeds="off")
    assert [(o.key, o.status) for o in outcomes] == [(k, "completed") for k in KEYS]
    return out


def _alive(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def results(out):
    return json.loads((out / "results.json").read_text())


def assert_every_run_once(out):
    assert {r["key"]: r["status"] for r in results(out)["runs"]} == dict.fromkeys(KEYS, "completed")
    for key in KEYS:
        steps = [r["step"] for r in read_jsonl(out / "runs" / key / "metrics.jsonl") if "eval" not in r]
        assert steps == list(range(10, 151, 10)), key  # every row once, in order


def test_ray_and_the_process_pool_give_the_same_content_hash(ray_out, suite_file, tmp_path, registry):
    local = tmp_path / "local"
    run_suite(load_suite(suite_file), local, registry, jobs=2, threads=1, progress=False,
              executor="local", batch_seeds="off")
    assert_every_run_once(ray_out)
    assert [r["metrics"] for r in results(ray_out)["runs"]] == [r["metrics"] for r in results(local)["runs"]]
    assert results(ray_out)["content_hash"] == results(local)["content_hash"]


def _exits_once(marker_dir, item):
    """Kills its own worker process the first time it sees item 1."""
    marker = Path(marker_dir) / f"attempt-{item}"
    attempts = int(marker.read_text()) + 1 if marker.exists() else 1
    marker.write_text(str(attempts))
    if item == 1 and attempts == 1:
        os._exit(1)
    return item * 10, attempts


def test_a_worker_that_dies_is_retried_and_every_item_ends_once(local_ray, tmp_path):
    started, done = [], []
    out = RayExecutor(2, 1).map(functools.partial(_exits_once, str(tmp_path)), [0, 1, 2],
                                on_start=started.append, on_done=lambda item, r: done.append(item))
    assert out == [(0, 1), (10, 2), (20, 1)]  # item 1 ran twice: its first worker died
    assert started == [0, 1, 2] and sorted(done) == [0, 1, 2]
    assert ray.is_initialized()  # an instance it joined is left running


def _keys(task):
    """The run keys of a harness task: one spec, or the seeds of a cell trained together."""
    return [s.key for s in task] if isinstance(task, list) else [task.key]


def _raises(marker_dir, item):
    marker = Path(marker_dir) / "attempts"
    marker.write_text(str(int(marker.read_text()) + 1 if marker.exists() else 1))
    raise ValueError(f"bad item {item}")


def test_an_error_in_the_task_is_raised_not_retried(local_ray, tmp_path):
    with pytest.raises(ValueError, match="bad item 7"):
        RayExecutor(1, 1).map(functools.partial(_raises, str(tmp_path)), [7])
    assert (tmp_path / "attempts").read_text() == "1"


def test_a_node_without_the_driver_s_directory_refuses_the_task(local_ray, monkeypatch):
    monkeypatch.setattr(os, "getcwd", lambda: "/nonexistent/shared/bench")  # the driver's, as sent
    with pytest.raises(UsageError, match=r"^/nonexistent/shared/bench, where `ganagerie bench run` was "
                                         r"started, does not exist on Ray node .*; put --out on a "):
        RayExecutor(1, 1).map(str, [1])


def test_an_instance_it_starts_is_shut_down(local_ray, monkeypatch):
    calls, fresh = [], iter([False])
    monkeypatch.setattr(ray, "is_initialized", lambda: next(fresh, True))  # first asked: not connected
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(("init", kw)))  # tasks go to local_ray
    monkeypatch.setattr(ray, "shutdown", lambda: calls.append(("shutdown", {})))
    assert RayExecutor(2, 1).map(str, [1, 2]) == ["1", "2"]
    (init, kw), (shutdown, _) = calls
    assert (init, shutdown) == ("init", "shutdown")
    assert kw["address"] == "local" and kw["num_cpus"] >= 2 and kw["include_dashboard"] is False


def _killed_after_first_checkpoint(marker_dir, fn, task):
    """Runs ``fn(task)``; the victim's first worker is killed (SIGKILL) once its first checkpoint
    is written, and the retry records the step it resumes from."""
    if VICTIM not in _keys(task):
        return fn(task)
    marker = Path(marker_dir) / "killed"
    checkpoint = Path(fn.keywords["runs_root"]) / VICTIM / "checkpoints" / "last.json"
    if marker.exists():
        (Path(marker_dir) / "resumed-from").write_text(str(json.loads(checkpoint.read_text())["step"]))
        return fn(task)
    marker.write_text(str(os.getpid()))

    def kill_after_checkpoint():
        while not checkpoint.exists():
            time.sleep(0.002)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=kill_after_checkpoint, daemon=True).start()
    return fn(task)


class KillsOneWorker(RayExecutor):
    def __init__(self, marker_dir, *args, **kw):
        super().__init__(*args, **kw)
        self.marker_dir = marker_dir

    def map(self, fn, items, on_start=None, on_done=None):
        done = []
        results = super().map(functools.partial(_killed_after_first_checkpoint, self.marker_dir, fn),
                              items, on_start, lambda task, r: (done.extend(_keys(task)), on_done(task, r)))
        assert sorted(done) == sorted(KEYS)  # on_done once per run, the killed one included
        return results


def test_a_run_whose_worker_is_killed_resumes_and_the_suite_is_unchanged(
        ray_out, suite_file, tmp_path, registry, monkeypatch):
    marker_dir = str(tmp_path)
    monkeypatch.setattr(harness, "make_executor",
                        lambda jobs, threads, kind, address, gpus: KillsOneWorker(marker_dir, jobs, threads,
                                                                                  gpus=gpus))
    out = tmp_path / "out"
    outcomes = run_suite(load_suite(suite_file), out, registry, jobs=2, threads=1, progress=False,
                         executor="ray", batch_seeds="off")
    assert [o.status for o in outcomes] == ["completed"] * 4
    assert not _alive(int((tmp_path / "killed").read_text()))  # the first worker really died
    assert int((tmp_path / "resumed-from").read_text()) >= 50  # resumed, not restarted
    assert_every_run_once(out)
    assert results(out)["content_hash"] == results(ray_out)["content_hash"]


def test_bench_run_with_the_ray_executor_from_the_command_line(suite_file, tmp_path):
    out = tmp_path / "o"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_ADDRESS": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "ganagerie", "bench", "run", str(suite_file), "--executor", "ray",
         "--seeds", "1", "--steps", "20", "--jobs", "1", "--threads", "1", "--quiet", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("2 runs: 2 completed, 0 diverged, 0 failed")
    assert sorted(r["key"] for r in results(out)["runs"]) == ["ring8/lsgan/seed-0", "ring8/vanilla/seed-0"]


def test_command_line_errors(suite_file, tmp_path, cli, monkeypatch):
    code, _, err = cli("bench", "run", suite_file, "--address", "127.0.0.1:6379", "--out", tmp_path / "a")
    assert code == 2 and err == "error: --address names a Ray cluster; add --executor ray\n"
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    code, _, err = cli("bench", "run", suite_file, "--executor", "ray", "--out", tmp_path / "b")
    assert code == 2 and err == "error: --executor ray needs Ray: pip install 'ganagerie[ray]'\n"


def test_an_unreachable_cluster_is_one_line(suite_file, tmp_path, cli, monkeypatch):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a fresh `ganagerie` process
    monkeypatch.setattr(ray, "init", lambda **kw: pytest.fail("the address was not checked first"))
    code, _, err = cli("bench", "run", suite_file, "--executor", "ray", "--address", "127.0.0.1:1",
                       "--seeds", "1", "--out", tmp_path / "o")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: cannot reach the Ray cluster at 127.0.0.1:1 (Connection refused)")


def test_a_cuda_suite_asks_ray_for_a_gpu_and_a_cluster_without_one_is_one_line(local_ray, suite_file,
                                                                                  tmp_path, registry):
    """Each run of a CUDA suite is a task asking for one GPU; where no node has one, the task
    would wait forever, so the suite stops at once instead (local_ray has no GPU)."""
    with pytest.raises(UsageError, match="the suite runs on CUDA, but the Ray cluster has no GPU"):
        run_suite(load_suite(suite_file), tmp_path / "out", registry, jobs=1, threads=1, progress=False,
                  executor="ray", sets=["device=cuda"])
    assert ray.is_initialized()  # a cluster it joined is left running
    assert not list((tmp_path / "out").glob("runs/*/*/*/config.json"))  # no run was started
