"""An import never gives a calendar two events with one iCalendar UID (RFC 4791 §4.1 ``no-uid-conflict``), on
SQLite and PostgreSQL, over real HTTP, seen with python-caldav and in the feed.

A canonical copy of an appointment a CalDAV client made keeps its ``meta.ical_uid``: imported as a new appointment
(another id) into the same calendar it is refused, naming the appointment that already is that event; into another
calendar it keeps the UID (on CalDAV too) as long as that calendar has no event with it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import icalendar

from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

DENVER = ZoneInfo("America/Denver")
UID = "visit-42@phone.example"
COPY_ID = "6f1c2d3e-0000-4000-8000-0000000000c1"


def _at(hour: int, days: int = 10) -> datetime:
    day: date = datetime.now(DENVER).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=DENVER)


def _dav_calendar(live: LiveServer, username: str, password: str) -> caldav.Calendar:
    (calendar,) = client_for(live, username, password).principal().calendars()
    return calendar


def _event(uid: str, start: datetime) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//uids//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Fitting\r\nLOCATION:Main St 1\r\n"
        f"DTSTART;TZID=America/Denver:{start:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=America/Denver:{start + timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _uids(calendar: caldav.Calendar) -> list[str]:
    """The UID of every resource of the calendar, as python-caldav GETs them."""
    return sorted(str(e.icalendar_component["UID"]) for e in calendar.events())


def _feed_uids(live: LiveServer, api: Api, calendar_id: str) -> list[str]:
    issued = api.post(f"/api/v1/calendars/{calendar_id}/feeds", json={"name": "uids", "privacy": "busy"})
    assert issued.status_code == 201, issued.text
    text = live.client().get(f"/feeds/{issued.json()['secret']}.ics").text
    return sorted(str(e["UID"]) for e in icalendar.Calendar.from_ical(text).walk("VEVENT"))


def _copy(original: dict[str, Any], appointment_id: str, hour: int) -> dict[str, Any]:
    copy = {**original, "id": appointment_id}
    copy["date_start"], copy["date_end"] = iso(_at(hour)), iso(_at(hour + 1))
    return copy


def test_a_copy_keeping_the_uid_is_refused_in_the_same_calendar_and_kept_in_another(
    live: LiveServer, people: People
) -> None:
    fitter = live.client(people.fitter.token)
    mine = _dav_calendar(live, people.fitter.username, people.fitter.password)
    mine.save_event(_event(UID, _at(10)))
    exported = fitter.get("/api/v1/export/canonical", params={"calendar_id": people.fitter.calendar_id})
    assert exported.status_code == 200, exported.text
    (original,) = exported.json()["items"]
    assert original["meta"]["ical_uid"] == UID

    # the same calendar: that UID is already this appointment's event; nothing is written
    refused = fitter.post("/api/v1/import/canonical", json=[_copy(original, COPY_ID, 15)])
    assert refused.status_code == 200, refused.text
    (result,) = refused.json()["results"]
    assert result["status"] == "error", result
    (error,) = result["errors"]
    assert error["field"] == "meta.ical_uid"
    assert UID in error["message"] and original["id"] in error["message"]
    assert fitter.get(f"/api/v1/appointments/{COPY_ID}").status_code == 404
    assert _uids(mine) == [UID]  # one resource for the UID on CalDAV
    assert _feed_uids(live, fitter, people.fitter.calendar_id or "") == [UID]
    # atomic: the whole import is refused with the same error
    atomic = fitter.post("/api/v1/import/canonical?atomic=true", json=[_copy(original, COPY_ID, 15)])
    assert atomic.status_code == 422, atomic.text
    assert [e["field"] for e in atomic.json()["errors"]] == ["0.meta.ical_uid"]
    # re-importing the original itself is the same event: unchanged, as before
    again = fitter.post("/api/v1/import/canonical", json=[original])
    assert [r["status"] for r in again.json()["results"]] == ["unchanged"], again.text

    # another calendar without that UID keeps it, on CalDAV too; a second copy there is refused
    dispatcher = live.client(people.dispatcher.token)
    other_id = people.other_fitter.calendar_id or ""
    theirs = _dav_calendar(live, people.other_fitter.username, people.other_fitter.password)
    second = "6f1c2d3e-0000-4000-8000-0000000000c2"
    moved = dispatcher.post(
        "/api/v1/import/canonical",
        params={"calendar_id": other_id},
        json=[_copy(original, COPY_ID, 15), _copy(original, second, 17)],
    )
    assert moved.status_code == 200, moved.text
    assert [r["status"] for r in moved.json()["results"]] == ["created", "error"], moved.text
    assert COPY_ID in moved.json()["results"][1]["errors"][0]["message"]
    made = dispatcher.get(f"/api/v1/appointments/{COPY_ID}").json()
    assert made["calendar"]["id"] == other_id and made["meta"]["ical_uid"] == UID
    assert _uids(theirs) == [UID]
    assert theirs.event_by_uid(UID).icalendar_component["LOCATION"] == "Main St 1"
    assert _feed_uids(live, dispatcher, other_id) == [UID]
    assert _uids(mine) == [UID]
