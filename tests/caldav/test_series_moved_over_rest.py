"""A series a phone wrote (weekly x 4 at 10:00 Denver, the 2nd removed by EXDATE, the 3rd moved a day later to
14:00) moved an hour later over REST (``POST …/reschedule`` or ``PATCH`` of its times) takes its exceptions
along, as Apple Calendar and Google do when a whole series is dragged: the removed occurrence stays removed and
the moved one stays where it was moved, once. Every channel says so: REST (``meta.recurrence`` and
``?expand=true``), the feed, the calendar page and the CalDAV item the phone reads back. SQLite and PostgreSQL.

Failed before: DTSTART moved to 11:00 but EXDATE and RECURRENCE-ID stayed at 10:00, so every channel showed five
occurrences (the cancelled one back; the moved one also at its original day, an hour later).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import caldav
import icalendar
import pytest
import recurring_ical_events

from caldav_bridge.model.timestamps import format_timestamp
from tests.caldav.test_series_channels import (
    Days,
    feed_occurrences,
    future_tuesday,
    override_ics,
    series_ics,
)
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

UID = "shift1@phone"


def _write(calendar: caldav.Calendar, days: Days) -> None:
    d0 = days.d0
    calendar.save_event(
        series_ics(
            UID,
            d0,
            summary="Shift check",
            hour=10,
            rule="FREQ=WEEKLY;COUNT=4",
            extra=f"EXDATE;TZID=America/Denver:{d0 + timedelta(weeks=1):%Y%m%d}T100000\r\n"
            "X-APPOINTMENT-TYPE:FOLLOW_UP\r\n",
            tail=override_ics(UID, d0 + timedelta(weeks=2), d0 + timedelta(weeks=2, days=1), 10, 14, "Shift check"),
        )
    )


def _move(api: Api, appointment_id: str, days: Days, how: str) -> None:
    times = {"date_start": iso(days.at(0, 11)), "date_end": iso(days.at(0, 12))}
    if how == "reschedule":
        moved = api.post(f"/api/v1/appointments/{appointment_id}/reschedule", json=times)
    else:
        moved = api.patch(f"/api/v1/appointments/{appointment_id}", json=times)
    assert moved.status_code == 200, moved.text


def _ts(moment: datetime) -> str:
    return format_timestamp(moment.astimezone(UTC))


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _page_starts(live: LiveServer, secret: str, appointment_id: str, first: date) -> list[datetime]:
    monday = first - timedelta(days=first.weekday())
    starts = []
    for week in range(4):
        params = {"week": (monday + timedelta(weeks=week)).isoformat(), "tz": "UTC"}
        page = live.client().get(f"/calendar/{secret}.json", params=params)
        assert page.status_code == 200, page.text
        for day in page.json()["days"]:
            starts += [_utc(e["start"]) for e in (*day["timed"], *day["all_day"]) if e["id"] == appointment_id]
    return sorted(starts)


def _item(calendar: caldav.Calendar) -> Any:
    return icalendar.Calendar.from_ical(calendar.event_by_uid(UID).data)


@pytest.mark.parametrize("how", ["reschedule", "patch"])
def test_a_series_moved_over_rest_keeps_its_removed_and_moved_occurrences(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, how: str
) -> None:
    days = future_tuesday()
    _write(fitter_calendar, days)
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]

    _move(api, series["id"], days, how)

    expected = [days.at(0, 11), days.at(15, 14), days.at(21, 11)]  # the 2nd removed, the 3rd where it was moved
    expected_utc = [e.astimezone(UTC) for e in expected]
    recurrence = api.get(f"/api/v1/appointments/{series['id']}").json()["meta"]["recurrence"]
    assert recurrence["exdates"] == [_ts(days.at(7, 11))]
    (override,) = recurrence["overrides"]
    assert override["recurrence_id"] == _ts(days.at(14, 11))
    assert (override["date_start"], override["date_end"]) == (_ts(days.at(15, 14)), _ts(days.at(15, 15)))

    window = {"calendar_id": calendar_id, "from": iso(days.at(-1, 0)), "to": iso(days.at(30, 0)), "expand": "true"}
    expanded = api.get("/api/v1/appointments", params=window)
    assert expanded.status_code == 200, expanded.text
    assert [(i["recurrence_id"], i["date_start"]) for i in expanded.json()["items"]] == [
        (_ts(days.at(0, 11)), _ts(days.at(0, 11))),
        (_ts(days.at(14, 11)), _ts(days.at(15, 14))),
        (_ts(days.at(21, 11)), _ts(days.at(21, 11))),
    ]

    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "moved", "privacy": "full"})
    assert issued.status_code == 201, issued.text
    secret = issued.json()["secret"]
    feed = live.client().get(f"/feeds/{secret}.ics")
    assert feed.status_code == 200, feed.text
    assert [f[2] for f in feed_occurrences(feed.content, days.at(-1, 0), days.at(30, 0))] == expected_utc

    assert _page_starts(live, secret, series["id"], days.d0) == expected_utc

    # the CalDAV item the phone reads back: the same three, its override VEVENT re-keyed (not doubled)
    item = _item(fitter_calendar)
    found = recurring_ical_events.of(item).between(days.at(-1, 0), days.at(30, 0))
    assert sorted(e.decoded("DTSTART").astimezone(UTC) for e in found) == expected_utc
    overrides = [e for e in item.walk("VEVENT") if e.get("RECURRENCE-ID") is not None]
    assert [e.decoded("RECURRENCE-ID") for e in overrides] == [days.at(14, 11)]
    assert overrides[0].decoded("DTSTART") == days.at(15, 14)
    (master,) = [e for e in item.walk("VEVENT") if e.get("RECURRENCE-ID") is None]
    assert master.decoded("DTSTART") == days.at(0, 11)
    assert [d.dt for d in master["EXDATE"].dts] == [days.at(7, 11)]
    assert str(master["EXDATE"].params.get("TZID")) == "America/Denver"


def test_the_phones_own_move_of_its_series_is_taken_as_written(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    """A CalDAV client that moves its series writes the EXDATEs and RECURRENCE-IDs it means: nothing is shifted
    for it (here it moves DTSTART and leaves its exceptions at 10:00, which then no longer match)."""
    days = future_tuesday()
    _write(fitter_calendar, days)
    text = fitter_calendar.event_by_uid(UID).data
    moved = text.replace(
        f"DTSTART;TZID=America/Denver:{days.d0:%Y%m%d}T100000", f"DTSTART;TZID=America/Denver:{days.d0:%Y%m%d}T110000"
    )
    moved = moved.replace(
        f"DTEND;TZID=America/Denver:{days.d0:%Y%m%d}T110000", f"DTEND;TZID=America/Denver:{days.d0:%Y%m%d}T120000"
    )
    assert moved != text
    fitter_calendar.save_event(moved)
    api = live.client(people.fitter.token)
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    assert series["date_start"] == _ts(days.at(0, 11))
    assert series["meta"]["recurrence"]["exdates"] == [_ts(days.at(7, 10))]
    assert series["meta"]["recurrence"]["overrides"][0]["recurrence_id"] == _ts(days.at(14, 10))
