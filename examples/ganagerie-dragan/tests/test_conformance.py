"""ganagerie's conformance kit on everything this distribution registers."""

from __future__ import annotations

import pytest
from ganagerie.testing import check_component


@pytest.mark.parametrize("kind, name", [("regularizer", "dragan"), ("variant", "dragan"),
                                        ("metric", "energy-distance")])
def test_conforms_to_its_contract(registry, kind, name):
    check_component(kind, name, registry=registry)
