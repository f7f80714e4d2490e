"""Timestamps whose UTC instant falls outside ``datetime``'s range are validation errors, not crashes."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from caldav_bridge.model.timestamps import UtcTimestamp, parse_timestamp


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_instant_outside_the_range_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp(text)
    with pytest.raises(ValidationError, match="out of range"):
        TypeAdapter(UtcTimestamp).validate_python(text)


def test_the_edges_of_the_range_still_parse() -> None:
    assert parse_timestamp("0001-01-01T00:00:00Z").year == 1
    assert parse_timestamp("9999-12-31T23:59:59.999Z").year == 9999
