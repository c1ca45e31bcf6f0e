"""Parsing of command-line values, including property-based checks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ganagerie.errors import UsageError
from ganagerie.values import coerce_like, parse_assignments, parse_value


def test_parse_value():
    assert parse_value("1e-4") == 1e-4
    assert parse_value("5") == 5
    assert parse_value("true") is True and parse_value("False") is False
    assert parse_value("0.5,0.999") == [0.5, 0.999]
    assert parse_value("hinge") == "hinge"
    assert parse_value("[1, 2]") == [1, 2]


def test_parse_assignments():
    assert parse_assignments("weight=1,target=0.5", "x") == {"weight": 1, "target": 0.5}
    assert parse_assignments("", "x") == {}
    with pytest.raises(UsageError, match="write key=value"):
        parse_assignments("weight", "--reg gradient-penalty:weight")


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip(x):
    assert parse_value(repr(x)) == x


@given(st.integers(-(2**63), 2**63 - 1))
def test_ints_round_trip_and_coerce_to_float(n):
    assert coerce_like(parse_value(str(n)), 1) == n
    assert coerce_like(n, 1.0) == float(n)


@given(st.one_of(st.integers(min_value=2**63), st.integers(max_value=-(2**63) - 1)))
def test_ints_beyond_63_bits_are_refused(n):
    with pytest.raises(ValueError, match="out of range"):
        coerce_like(n, 1)


@given(st.text())
def test_parse_value_never_crashes(text):
    parse_value(text)


@given(st.text(alphabet=st.characters(blacklist_characters=",=")), st.text())
def test_parse_assignments_errors_are_usage_errors(key, value):
    try:
        parse_assignments(f"{key}={value}", "x")
    except UsageError:
        pass


@pytest.mark.parametrize("value, default", [("x", 1), (1.5, 1), (True, 1.0), ([1], [1, 2]),
                                            ("maybe", False)])
def test_coerce_rejects_wrong_types(value, default):
    with pytest.raises(ValueError):
        coerce_like(value, default)
