"""Fuzzing the parsers of everything a user types or a file holds: whatever the input, the
outcome is a result or a UsageError (exit 2, one line), never another exception."""

import json

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
