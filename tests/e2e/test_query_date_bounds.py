"""Query windows (``from``/``to``) near the ends of the calendar, over real HTTP, on SQLite and PostgreSQL.

Every listed endpoint answers a window outside the years appointments may lie in (1900 to 2200, as
``model.appointment.check_interval`` bounds appointments) with a 422 problem naming the query field, and a
window at those bounds with the answer.

Failed before: ``from=0001-01-01T00:00:00Z`` was a 500 (``OverflowError: date value out of range``: the
listing computed ``from - MAX_DURATION``, availability and the series expansion shifted the window by days),
as was ``from=9999-12-25T00:00:00Z`` for availability.
"""

from __future__ import annotations

import pytest
import requests

from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import LiveServer


def _problem_naming(response: requests.Response, field: str) -> None:
    assert response.status_code == 422, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert f"query.{field}" in [e["field"] for e in errors], errors
    assert any("1900" in e["message"] and "2200" in e["message"] for e in errors), errors


#: (path, its other parameters) of every endpoint taking a from/to window.
def _windowed(calendar_id: str) -> list[tuple[str, dict[str, str]]]:
    return [
        ("/api/v1/appointments", {}),
        ("/api/v1/appointments", {"expand": "true"}),
        ("/api/v1/export/ical", {}),
        ("/api/v1/export/canonical", {}),
        (f"/api/v1/calendars/{calendar_id}/appointments.ics", {}),
        ("/api/v1/availability", {"calendar_id": calendar_id, "type": "FOLLOW_UP"}),
    ]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01T00:00:00Z", "0001-02-01T00:00:00Z", "from"),
        ("0001-01-14T00:00:00Z", "0001-01-20T00:00:00Z", "from"),
        ("1899-12-31T23:59:59Z", "1900-01-05T00:00:00Z", "from"),
        ("9999-12-25T00:00:00Z", "9999-12-31T00:00:00Z", "from"),
        ("2199-12-28T00:00:00Z", "9999-12-31T23:59:59Z", "to"),
        ("2199-12-28T00:00:00Z", "2200-01-01T00:00:01Z", "to"),
    ],
)
def test_a_window_outside_the_supported_years_is_422_naming_the_field(
    live: LiveServer, people: People, start: str, end: str, field: str
) -> None:
    api = live.client(people.fitter.token)
    for path, params in _windowed(people.fitter.calendar_id or ""):
        _problem_naming(api.get(path, params={**params, "from": start, "to": end}), field)
        if path != "/api/v1/availability":  # availability needs both; the others take either alone
            _problem_naming(api.get(path, params={**params, field: start if field == "from" else end}), field)


def test_a_window_at_the_bounds_is_answered(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    created = api.post(
        "/api/v1/appointments",
        json=appointment_body(calendar_id, date_start="1900-01-02T10:00:00Z", date_end="1900-01-02T11:00:00Z"),
    )
    assert created.status_code == 201, created.text
    for start, end in (
        ("1900-01-01T00:00:00Z", "1900-01-05T00:00:00Z"),
        ("2199-12-28T00:00:00Z", "2200-01-01T00:00:00Z"),
    ):
        for path, params in _windowed(calendar_id):
            response = api.get(path, params={**params, "from": start, "to": end})
            assert response.status_code == 200, (path, start, response.text[:500])
    listed = api.get("/api/v1/appointments", params={"from": "1900-01-01T00:00:00Z", "to": "1900-01-05T00:00:00Z"})
    assert [i["id"] for i in listed.json()["items"]] == [created.json()["id"]]
    ics = api.get("/api/v1/export/ical", params={"from": "1900-01-01T00:00:00Z"})
    assert created.json()["id"] in ics.text
