"""Where a problem's ``errors[].field`` points: the request body field, as a dotted path."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError, model_validator

from caldav_bridge.errors import FieldValueError
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.services.validation import field_errors

GOOD = {
    "calendar": {"id": "c"},
    "date_start": "2026-12-01T10:00:00Z",
    "date_end": "2026-12-01T11:00:00Z",
    "name": "n",
    "meta": {"type": "INITIAL"},
}


def _fields(model: type[BaseModel], data: Any, prefix: str = "") -> list[str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [e.field for e in field_errors(caught.value, prefix)]


def test_a_check_of_several_fields_names_the_one_to_blame() -> None:
    assert _fields(AppointmentDraft, {**GOOD, "date_end": GOOD["date_start"]}) == ["date_end"]
    assert _fields(AppointmentDraft, {**GOOD, "date_end": "2027-03-01T10:00:00Z"}) == ["date_end"]  # too long
    early = {"date_start": "1000-01-01T10:00:00Z", "date_end": "1000-01-01T11:00:00Z"}
    assert _fields(AppointmentDraft, {**GOOD, **early}) == ["date_start"]


class _Inner(BaseModel):
    a: int
    b: int

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        if self.b < self.a:
            raise FieldValueError("b", "b must not be below a")
        return self


class _Outer(BaseModel):
    items: list[_Inner]

    @model_validator(mode="after")
    def _whole(self) -> Any:
        if not self.items:
            raise ValueError("give at least one item")
        return self


def test_nested_and_prefixed_paths_and_the_body_as_a_whole() -> None:
    assert _fields(_Outer, {"items": [{"a": 1, "b": 2}, {"a": 2, "b": 1}]}) == ["items.1.b"]
    assert _fields(_Outer, {"items": [{"a": 2, "b": 1}]}, "query") == ["query.items.0.b"]
    assert _fields(_Outer, {"items": [{"a": "x", "b": 1}]}) == ["items.0.a"]
    assert _fields(_Outer, {"items": []}) == ["(body)"]  # no single field to blame
