"""One schema per file format: what the tool writes fits it, and what it did not write is
refused in one line naming the file and the field."""

import copy
import json

import pytest

from ganagerie import schemas
from ganagerie.files import UnreadableFile

SMALL = ["--set", "dataset.n=500", "--set", "log_every=5", "--set", "checkpoint_every=10",
         "--set", "eval_samples=500", "--quiet"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A finished two-run benchmark (a run directory of each kind of file inside)."""
    from ganagerie.cli import main

    p = tmp_path_factory.mktemp("schemas")
    (p / "tiny.toml").write_text('name = "tiny"\nseeds = 2\nsteps = 20\ndatasets = [{ name = "ring8", '
                                 'options = { n = 500 } }]\nvariants = ["vanilla"]\neval_samples = 500\n'
                                 '[set]\nlog_every = 5\ncheckpoint_every = 10\neval_every = 10\n')
    assert main(["bench", "run", str(p / "tiny.toml"), "--out", str(p / "b"), "--jobs", "1",
                 "--quiet"]) == 0
    return p / "b"


def test_every_file_the_tool_writes_fits_its_schema(bench):
    run = bench / "runs" / "ring8" / "vanilla" / "seed-0"
    for path, schema in ((run / "status.json", schemas.Status), (run / "eval.json", schemas.Evaluation),
                         (run / "checkpoints" / "last.json", schemas.Manifest),
                         (run / "config.json", schemas.Config), (bench / "bench.json", schemas.Plan),
                         (bench / "results.json", schemas.Results)):
        assert schemas.read(path, schema) == json.loads(path.read_text()), path
    rows = schemas.read_metrics(run / "metrics.jsonl")
    assert any("eval" in r for r in rows) and any("d_loss" in r for r in rows)
    references = list((bench / "references").rglob("eval.json"))
    assert references and all(schemas.read(r, schemas.Evaluation) for r in references)
    assert set(schemas.SCHEMAS) == {"status.json", "eval.json", "metrics.jsonl", "last.json",
                                    "bench.json", "results.json", "config.json"}


def _nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


# (file, how the written file is forged, what the one line must say)
FORGED = [
    ("status.json", {"step": -5}, "step: input should be greater than or equal to 0, got -5"),
    ("status.json", {"step": True}, "step: input should be a valid integer, got True"),
    ("status.json", {"step": 20.0}, "step: input should be a valid integer, got 20.0"),
    ("status.json", {"status": "done"}, "status: input should be 'running', 'completed'"),
    ("status.json", {"steps": 0}, "steps: input should be greater than or equal to 1"),
    ("status.json", {"trained_with": [0, "1"]}, "trained_with.1: input should be a valid integer"),
    ("status.json", {"claimed": "x"}, "claimed: extra inputs are not permitted"),
    ("eval.json", {"run": None}, "names either its run or its reference"),
    ("eval.json", {"metrics": {"modes": [1, 2]}}, "metrics.modes: input should be a valid dictionary"),
    ("eval.json", {"protocol": _nested(100)}, "nested deeper than 64 levels"),
    ("last.json", {"format": 2}, "format: input should be 3"),
    ("last.json", {"tensors": "../other-run/step-0000020.safetensors"}, "tensors: string should match"),
    ("last.json", {"tensors_sha256": "X" * 64}, "tensors_sha256: string should match"),
    ("bench.json", {"threads": 0}, "threads: input should be greater than or equal to 1"),
    ("bench.json", {"seeds_added": [{"from": 3, "to": -1}]}, "seeds_added.0.to: input should be greater"),
    ("bench.json", {"suite": {"name": "x"}}, "suite.origin: field required"),
    ("results.json", {"runs": [{"status": "completed"}]}, "runs.0.step: field required"),
    ("results.json", {"threads": "2"}, "threads: input should be a valid integer, got '2'"),
    ("config.json", {"x" * 5: _nested(70)}, "nested deeper than 64 levels"),
]
FILES = {"status.json": ("runs/ring8/vanilla/seed-0/status.json", schemas.Status),
         "eval.json": ("runs/ring8/vanilla/seed-0/eval.json", schemas.Evaluation),
         "last.json": ("runs/ring8/vanilla/seed-0/checkpoints/last.json", schemas.Manifest),
         "bench.json": ("bench.json", schemas.Plan), "results.json": ("results.json", schemas.Results),
         "config.json": ("runs/ring8/vanilla/seed-0/config.json", schemas.Config)}


@pytest.mark.parametrize("name,forged,message", FORGED, ids=[f"{f}-{next(iter(e))}" for f, e, _ in FORGED])
def test_a_forged_field_is_refused_in_one_line_naming_the_file_and_the_field(bench, name, forged, message):
    where, schema = FILES[name]
    data = copy.deepcopy(json.loads((bench / where).read_text()))
    data.update(forged)
    with pytest.raises(UnreadableFile) as caught:
        schemas.check(data, schema, name)
    line = str(caught.value)
    assert line.startswith(f"{name} is not a ganagerie ") and len(line.splitlines()) == 1, line
    assert message.lower() in line.lower() and len(line) < 400, line


@pytest.mark.parametrize("row,message", [
    ({"step": 0}, "step: input should be greater than or equal to 1"),
    ({"step": 5, "d_loss": "0.7"}, "column 'd_loss' is not a number or null"),
    ({"step": 5, "d_loss": [0.7]}, "column 'd_loss' is not a number or null"),
    ({"step": 5, "eval": {"modes": 8}}, "eval.modes: input should be a valid dictionary"),
    ({"d_loss": 0.7}, "step: field required"),
])
def test_a_forged_log_row_in_the_middle_is_damage_and_resume_keeps_every_row(cli, bench, tmp_path, row,
                                                                             message):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(bench / "runs" / "ring8" / "vanilla" / "seed-0", run)
    log = run / "metrics.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join([lines[0], json.dumps(row) + "\n", *lines[1:]]))
    before = log.read_bytes()
    code, _, err = cli("train", "--resume", "--out", run, "--steps", "30", "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "metrics.jsonl line 2 of" in err and message in err, err
    assert log.read_bytes() == before
    # the same row as the torn last line of a killed write is dropped, not damage
    log.write_text("".join(lines) + json.dumps(row)[:-1])
    assert len(schemas.read_metrics(log)) == len(lines)
