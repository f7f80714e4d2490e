"""One occurrence of a series changed over REST (``PATCH /api/v1/appointments/{id}/occurrences/{recurrence_id}``):
moved, retitled, cancelled, and a phone's own override changed, with the change on CalDAV (python-caldav reads
the item's RECURRENCE-ID VEVENTs), in the feed, in availability and in REST's expanded list; and the refusals as
problem+json (an unknown occurrence, an appointment that is no series, bad times). SQLite and PostgreSQL.

Failed before: there was no such operation (404), and ``meta.recurrence`` is read-only over REST (422), so a
REST client could change a series only as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import caldav
import icalendar
import pytest

from caldav_bridge.model.timestamps import format_timestamp
from tests.caldav.test_series_channels import (
    Days,
    feed_occurrences,
    future_tuesday,
    override_ics,
    series_ics,
    slot_starts,
)
from tests.conftest import People
from tests.support.factories import appointment_body, iso
from tests.support.live import Api, LiveServer

UID = "weekly-fitting@phone"


def rid(moment: datetime) -> str:
    """An instant as REST writes it (and as ``recurrence_id`` is given back)."""
    return format_timestamp(moment.astimezone(UTC))


def write_series(calendar: caldav.Calendar, days: Days) -> None:
    """Weekly x 4 fittings at 09:00 Denver; the phone moved the 2nd to 15:00 and named it "At the shop"."""
    d0 = days.d0
    calendar.save_event(
        series_ics(
            UID,
            d0,
            summary="Weekly fitting",
            hour=9,
            rule="FREQ=WEEKLY;COUNT=4",
            extra="X-APPOINTMENT-TYPE:FOLLOW_UP\r\nX-PHONE-NOTE:kept\r\n",
            tail=override_ics(UID, d0 + timedelta(weeks=1), d0 + timedelta(weeks=1), 9, 15, "At the shop"),
        )
    )


def expanded(api: Api, calendar_id: str, days: Days) -> list[tuple[str, str, str]]:
    """(recurrence_id, name, date_start) of the series' occurrences, as REST lists them."""
    params = {"calendar_id": calendar_id, "from": iso(days.at(-1, 0)), "to": iso(days.at(30, 0)), "expand": "true"}
    r = api.get("/api/v1/appointments", params=params)
    assert r.status_code == 200, r.text
    return [(i["recurrence_id"], i["name"], i["date_start"]) for i in r.json()["items"] if i["recurrence_id"]]


def _dav_overrides(calendar: caldav.Calendar) -> dict[datetime, Any]:
    """The item's override VEVENTs by RECURRENCE-ID (UTC), as python-caldav reads the item."""
    text = calendar.event_by_uid(UID).data
    found = {}
    for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        if event.get("RECURRENCE-ID") is not None:
            found[event.decoded("RECURRENCE-ID").astimezone(UTC)] = event
    return found


def _feed(live: LiveServer, api: Api, calendar_id: str, days: Days) -> list[tuple[str, datetime]]:
    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "occurrences", "privacy": "full"})
    assert issued.status_code == 201, issued.text
    body = live.client().get(f"/feeds/{issued.json()['secret']}.ics").content
    return [(summary, begin) for uid, summary, begin, _ in feed_occurrences(body, days.at(-1, 0), days.at(30, 0))]


@dataclass
class Written:
    """The phone's weekly series, written over CalDAV, as REST sees it."""

    days: Days
    api: Api
    calendar_id: str
    path: str  # the series' occurrences


@pytest.fixture
def written(live: LiveServer, fitter_calendar: caldav.Calendar, people: People) -> Written:
    days = future_tuesday()
    write_series(fitter_calendar, days)
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    return Written(days, api, calendar_id, f"/api/v1/appointments/{series['id']}/occurrences")


def test_one_occurrence_is_moved_retitled_and_cancelled_over_rest(
    live: LiveServer, fitter_calendar: caldav.Calendar, written: Written
) -> None:
    days, api, calendar_id, path = written.days, written.api, written.calendar_id, written.path
    week = [days.at(7 * n, 9).astimezone(UTC) for n in range(4)]

    # the 3rd week moved to 11:00 and retitled; the answer is the occurrence, with the series' new ETag
    moved = api.patch(
        f"{path}/{rid(week[2])}",
        json={"date_start": iso(days.at(14, 11)), "date_end": iso(days.at(14, 12)), "name": "Fitting (moved)"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["recurrence_id"] == rid(week[2]) and moved.json()["name"] == "Fitting (moved)"
    assert moved.json()["date_start"] == rid(days.at(14, 11)) and moved.headers["ETag"]
    # the phone's own override (2nd week) retitled: its time and the phone's other lines stay
    renamed = api.patch(f"{path}/{rid(week[1])}", json={"name": "At the shop (bring the charger)"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["date_start"] == rid(days.at(7, 15))
    # the 4th week cancelled alone (If-Match with the ETag just read)
    cancelled = api.patch(
        f"{path}/{rid(week[3])}", json={"cancelled": True}, headers={"If-Match": renamed.headers["ETag"]}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"

    # REST: the series' occurrences as changed
    assert expanded(api, calendar_id, days) == [
        (rid(week[0]), "Weekly fitting", rid(week[0])),
        (rid(week[1]), "At the shop (bring the charger)", rid(days.at(7, 15))),
        (rid(week[2]), "Fitting (moved)", rid(days.at(14, 11))),
    ]
    # CalDAV: the item has an override VEVENT for each, the master keeps the phone's lines
    overrides = _dav_overrides(fitter_calendar)
    assert set(overrides) == {week[1], week[2], week[3]}
    assert overrides[week[2]].decoded("DTSTART").astimezone(UTC) == days.at(14, 11).astimezone(UTC)
    assert str(overrides[week[2]]["SUMMARY"]) == "Fitting (moved)"
    assert overrides[week[1]].decoded("DTSTART").astimezone(UTC) == days.at(7, 15).astimezone(UTC)
    assert str(overrides[week[1]]["SUMMARY"]) == "At the shop (bring the charger)"
    assert str(overrides[week[3]]["STATUS"]) == "CANCELLED"
    assert "X-PHONE-NOTE:kept" in fitter_calendar.event_by_uid(UID).data
    # the feed, as icalendar + recurring-ical-events expand it
    assert _feed(live, api, calendar_id, days) == [
        ("Weekly fitting", week[0]),
        ("At the shop (bring the charger)", days.at(7, 15).astimezone(UTC)),
        ("Fitting (moved)", days.at(14, 11).astimezone(UTC)),
    ]
    # availability: the moved occurrence's old hour is free, its new one taken; the cancelled week free
    slots = slot_starts(api, calendar_id, days.at(14, 0), days.at(22, 0))
    assert (week[2] in slots, days.at(14, 11).astimezone(UTC) in slots, week[3] in slots) == (True, False, True)

    # brought back: the 4th week is there again
    back = api.patch(f"{path}/{rid(week[3])}", json={"cancelled": False})
    assert back.status_code == 200, back.text
    assert [r for r, _, _ in expanded(api, calendar_id, days)] == [rid(w) for w in week]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    return dict(response.json())


def test_bad_occurrence_changes_are_refused_as_problems(written: Written) -> None:
    days, api, calendar_id, path = written.days, written.api, written.calendar_id, written.path
    first = days.at(0, 9).astimezone(UTC)

    # no occurrence starts at 10:00, nor after the series' last one
    for moment in (days.at(0, 10), days.at(28, 9)):
        _problem(api.patch(f"{path}/{rid(moment)}", json={"name": "x"}), 404)
    # not a timestamp; naive
    for text in ("tuesday", "2026-12-09T16:00:00"):
        problem = _problem(api.patch(f"{path}/{text}", json={"name": "x"}), 422)
        assert problem["errors"][0]["field"] == "recurrence_id", problem
    # bad times: end before start, one end alone before the occurrence's start, unknown fields
    problem = _problem(
        api.patch(f"{path}/{rid(first)}", json={"date_start": iso(days.at(0, 10)), "date_end": iso(days.at(0, 9))}),
        422,
    )
    assert problem["errors"][0]["field"] == "date_end", problem
    problem = _problem(api.patch(f"{path}/{rid(first)}", json={"date_end": iso(days.at(0, 8))}), 422)
    assert problem["errors"][0]["field"] == "date_end", problem
    _problem(api.patch(f"{path}/{rid(first)}", json={"rrule": "FREQ=DAILY"}), 422)
    # a flag is true or false, a time a text: "yes" cancelled the occurrence, a number read as Unix seconds
    for body, field in (({"cancelled": "yes"}, "cancelled"), ({"allow_overlap": 1}, "allow_overlap")):
        problem = _problem(api.patch(f"{path}/{rid(first)}", json=body), 422)
        assert problem["errors"][0]["field"] == field, problem
    problem = _problem(api.patch(f"{path}/{rid(first)}", json={"date_start": 1796572800}), 422)
    assert problem["errors"][0]["field"] == "date_start", problem
    # a stale If-Match
    _problem(api.patch(f"{path}/{rid(first)}", json={"name": "x"}, headers={"If-Match": '"1-1"'}), 412)
    # a single appointment is no series; an unknown appointment is not found
    single = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(3, 13)))
    assert single.status_code == 201, single.text
    single_id = single.json()["id"]
    _problem(api.patch(f"/api/v1/appointments/{single_id}/occurrences/{rid(days.at(3, 13))}", json={}), 409)
    _problem(api.patch(f"/api/v1/appointments/nope/occurrences/{rid(first)}", json={}), 404)
    # nothing changed on the series
    week = [days.at(7 * n, 9) for n in range(4)]
    assert expanded(api, calendar_id, days) == [
        (rid(week[0]), "Weekly fitting", rid(week[0])),
        (rid(week[1]), "At the shop", rid(days.at(7, 15))),
        (rid(week[2]), "Weekly fitting", rid(week[2])),
        (rid(week[3]), "Weekly fitting", rid(week[3])),
    ]
