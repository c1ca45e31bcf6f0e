"""Fuzzing the parsers of everything a user types or a file holds: whatever the input, the
outcome is a result or a UsageError (exit 2, one line), never another exception."""

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ganagerie.bench.suite import expand, parse_suite
from ganagerie.config import SCALAR_FIELDS, RunConfig, resolve_config
from ganagerie.errors import UsageError, one_line
from ganagerie.registry import ComponentSpec

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [*SCALAR_FIELDS, "arch.g_width", "arch.latent_dim", "dataset.n", "dataset.seed", "prior",
        "optimizer_d", "optimizer_g.alpha", "reg.gradient-penalty.weight", "reg.x.y", "loss", "a.b.c"]
VALUES = st.one_of(st.integers(-(2**70), 2**70).map(str), st.floats(allow_nan=True).map(repr),
                   st.text(max_size=12), st.sampled_from(["true", "1e999", "nan", "[1,2]", "0.5,0.9",
                                                          "rmsprop", "uniform", "{}", "[[[[", ""]))
SET = st.one_of(st.text(max_size=30), st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES))
NAMES = st.sampled_from(["gradient-penalty", "ema", "r1", "lecam", "top-k", "pacgan", "nope", "",
                         "ganagerie:ema", "x:y:z"])
REG = st.one_of(st.text(max_size=30), st.builds(
    lambda n, k, v: f"{n}:{k}={v}", NAMES, st.sampled_from(["weight", "decay", "every", "m", "k", "zz"]),
    VALUES))


def _outcome(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except UsageError as exc:  # the CLI prints it as one line
        assert str(exc) and "\n" not in one_line(str(exc)), str(exc)
        return None


@FUZZ
@given(sets=st.lists(SET, max_size=3))
def test_set_assignments(registry, sets):
    cfg = _outcome(resolve_config, registry, dataset="ring8", sets=["dataset.n=100", *sets])
    if cfg is not None:  # what resolves is a valid config that round-trips through config.json
        assert RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


@FUZZ
@given(specs=st.lists(REG, max_size=2))
def test_technique_specs(registry, specs):
    _outcome(resolve_config, registry, dataset="ring8", regularizers=specs)


@FUZZ
@given(st.one_of(st.text(max_size=40), REG, st.dictionaries(st.sampled_from(["name", "options", "x"]),
                                                           st.one_of(st.text(max_size=5), st.integers(),
                                                                     st.dictionaries(st.text(max_size=3),
                                                                                     st.integers())))))
def test_component_specs(spec):
    _outcome(ComponentSpec.parse, spec, "loss")


def _toml_value(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v)


SUITE_KEYS = ["name", "description", "seeds", "steps", "metrics", "eval_every", "eval_samples", "rank_by",
              "higher_is_better", "arch", "set", "datasets", "variants", "bogus"]
LEAF = st.one_of(st.integers(-3, 5), st.text(max_size=8), st.booleans(),
                 st.sampled_from(["ring8", "vanilla", "wgan-gp", "mlp", "modes", "../x", "a/b"]))
TOML_VALUE = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["name", "label", "options", "variant", "loss", "set", "n",
                                     "lr_d", "regularizers"]), inner, max_size=3)), max_leaves=8)


@FUZZ
@given(text=st.one_of(st.text(max_size=60),
                      st.dictionaries(st.sampled_from(SUITE_KEYS), TOML_VALUE, max_size=6).map(
                          lambda d: "\n".join(f"{k} = {_toml_value(v)}" for k, v in d.items()))))
def test_suite_files(registry, text):
    suite = _outcome(parse_suite, text, "fuzz.toml")
    if suite is not None and len(suite.seeds) * len(suite.datasets) * len(suite.variants) <= 20:
        _outcome(expand, suite, registry, steps=1)


@pytest.fixture(scope="module")
def a_config(registry):
    return resolve_config(registry, dataset="ring8").to_dict()


JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                              st.floats(allow_nan=True), st.text(max_size=6)),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                    max_leaves=6)


@FUZZ
@given(changes=st.dictionaries(st.sampled_from([*SCALAR_FIELDS, "dataset", "loss", "arch",
                                                "regularizers", "prior", "optimizer_d", "variant",
                                                "ema_decay", "n_samples", "unknown"]), JSON, max_size=4))
def test_config_files(a_config, changes):
    _outcome(RunConfig.from_dict, {**a_config, **changes})


# -- nesting, size, forged logs and path-like names ------------------------------------------

FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: how deep a document nests: shallow, around Python's recursion limit, and far past it
DEPTHS = st.one_of(st.integers(0, 40), st.integers(900, 1100), st.integers(50_000, 200_000))


def _nested_json(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "object":
        return '{"a": ' * depth + "1" + "}" * depth
    return '{"a": [' * (depth // 2) + "null" + "]}" * (depth // 2)


@FEW
@given(depth=DEPTHS, kind=st.sampled_from(["list", "object", "mixed"]))
def test_json_nested_to_any_depth_is_read_or_refused_in_one_line(depth, kind):
    from ganagerie.files import UnreadableFile, loads_json

    try:
        loads_json(_nested_json(depth, kind), "fuzz.json")
    except UnreadableFile as exc:
        assert "\n" not in str(exc) and "fuzz.json" in str(exc)


def _nested_toml(depth: int, kind: str) -> str:
    if kind == "array":
        return "datasets = " + "[" * depth + "]" * depth
    if kind == "table":
        return "set = " + "{ a = " * depth + "1" + " }" * depth
    return "[" + ".".join(["t"] * max(1, depth // 50)) + "]\nx = 1"  # dotted headers


@FEW
@given(depth=DEPTHS, kind=st.sampled_from(["array", "table", "dotted"]))
def test_toml_nested_to_any_depth_is_one_line_never_a_recursion_error(depth, kind):
    suite = _outcome(parse_suite, _nested_toml(depth, kind) + '\nvariants = ["vanilla"]\n', "fuzz.toml")
    assert suite is None or depth <= 16


@FEW
@given(n=st.integers(0, 300_000), what=st.sampled_from(["datasets", "variants", "seeds", "description"]))
def test_oversized_suites_are_refused_before_they_are_expanded(registry, n, what):
    value = {"datasets": '["ring8"]', "variants": '["vanilla"]', "seeds": "1"}
    if what == "description":
        extra = f'description = "{"x" * n}"\n'
    else:
        extra = ""
        one = value[what][1:-1]
        value[what] = str(n) if what == "seeds" else "[" + ", ".join([one] * max(n // 100, 1)) + "]"
    text = extra + "\n".join(f"{k} = {v}" for k, v in value.items())
    suite = _outcome(parse_suite, text, "fuzz.toml")
    if suite is not None:  # what parses is within the limits, and cheap to count
        assert len(suite.seeds) <= 10_000 and len(suite.datasets) * len(suite.variants) <= 10_000


ROW = st.dictionaries(st.sampled_from(["step", "d_loss", "g_loss", "eval", "nonfinite", "x" * 300]), JSON,
                      max_size=4)
LINE = st.one_of(ROW.map(json.dumps), st.text(max_size=40), st.sampled_from(
    ["", "{", "[]", "null", '{"step": 1, "step": 2}', '{"d_loss": NaN}', "[" * 5000 + "]" * 5000,
     '{"a": ' * 3000 + "1" + "}" * 3000, "\x00", '{"step": 1e999}']))


@FEW
@given(lines=st.lists(LINE, max_size=6))
def test_forged_metrics_lines_are_rows_or_one_line_refusals(tmp_path_factory, lines):
    from ganagerie.files import UnreadableFile, read_jsonl

    path = tmp_path_factory.mktemp("log") / "metrics.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    try:
        rows = read_jsonl(path)
    except UnreadableFile as exc:
        assert "\n" not in str(exc) and "metrics.jsonl line" in str(exc)
        return
    assert all(isinstance(r, dict) for r in rows) and len(rows) <= len(lines)


PATHLIKE = st.one_of(
    st.sampled_from(["../x", "..", ".", "/abs", "a/b", "a\\b", "a\x00b", "x" * 10_000, ".hidden", "~",
                     "C:x", "ok", "ok-1.2_b+c", "-x", " x", "x\n", "vanilla"]),
    st.text(max_size=12), st.text(alphabet="./\\\x00ab", max_size=8))


def _inside(label: str) -> None:
    """What a validator let through names one directory inside the benchmark's runs/."""
    root = Path("/bench/runs")
    assert "/" not in label and "\\" not in label and "\x00" not in label and not label.startswith(".")
    assert (root / label).resolve().parent == root and len(label) <= 10_000


@FEW
@given(label=PATHLIKE, where=st.sampled_from(["name", "dataset", "variant"]))
def test_path_like_labels_never_name_a_path_outside_the_runs(label, where):
    quoted = json.dumps(label)
    text = {"name": f'name = {quoted}\ndatasets = ["ring8"]\nvariants = ["vanilla"]',
            "dataset": f'datasets = [{{ name = "ring8", label = {quoted} }}]\nvariants = ["vanilla"]',
            "variant": f'datasets = ["ring8"]\nvariants = [{{ label = {quoted}, variant = "vanilla" }}]'
            }[where]
    suite = _outcome(parse_suite, text, "fuzz.toml")
    if suite is not None:
        labels = {"name": suite.name, "dataset": suite.datasets[0].label, "variant": suite.variants[0].label}
        _inside(labels[where])


@FEW
@given(dataset=PATHLIKE, variant=PATHLIKE, seed=st.one_of(st.integers(-5, 2**64), st.text(max_size=3)))
def test_path_like_run_keys_read_from_a_file_are_refused(dataset, variant, seed):
    from ganagerie.bench.suite import RunSpec

    key = f"{dataset}/{variant}/seed-{seed}"
    spec = _outcome(RunSpec.from_json, {"key": key, "dataset": dataset, "variant": variant,
                                        "seed": seed, "config": {}})
    if spec is not None:
        for part in (spec.dataset, spec.variant):
            _inside(part)


@FEW
@given(name=PATHLIKE)
def test_path_like_component_names_are_refused(name):
    from ganagerie.registry import check_name

    checked = _outcome(check_name, name, "variant")
    if checked is not None:
        _inside(checked.replace(":", "_"))
