"""The ``ical`` interchange format carries what a CalDAV client wrote that the canonical model keeps: LOCATION,
CATEGORIES, ORGANIZER and ``mailto:`` ATTENDEEs (``meta.location``, ``categories``, ``organizer``, ``attendees``).
Over real HTTP on SQLite and PostgreSQL: a python-caldav client writes the event; the JSON export and the ``.ics``
export both carry them; importing either into another calendar keeps them in REST and in the CalDAV item there,
and importing the other one afterwards finds nothing changed."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import caldav
import icalendar

from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.support.live import LiveServer

DENVER = ZoneInfo("America/Denver")
UID = "fields-ical@phone.example"
ICS = {"Content-Type": "text/calendar"}
EXPECTED = {
    "location": "Main St 1, Denver",
    "categories": ["Fitting", "Home visit"],
    "organizer": {"name": "Frank Fitter", "email": "frank@example.com"},
    "attendees": [
        {"name": "Jane Roe", "email": "jane.roe@example.com"},
        {"name": None, "email": "john.doe@example.com"},
    ],
}


def _start() -> datetime:
    day = datetime.now(DENVER).date() + timedelta(days=12)
    return datetime.combine(day, time(10), tzinfo=DENVER)


def _dav_calendar(live: LiveServer, username: str, password: str) -> caldav.Calendar:
    (calendar,) = client_for(live, username, password).principal().calendars()
    return calendar


def _event(start: datetime) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//ical-fields//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{UID}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:Fitting\r\n"
        f"DTSTART;TZID=America/Denver:{start:%Y%m%dT%H%M%S}\r\n"
        f"DTEND;TZID=America/Denver:{start + timedelta(hours=1):%Y%m%dT%H%M%S}\r\n"
        "LOCATION:Main St 1\\, Denver\r\nCATEGORIES:Fitting,Home visit\r\n"
        "ORGANIZER;CN=Frank Fitter:mailto:frank@example.com\r\n"
        "ATTENDEE;CN=Jane Roe;PARTSTAT=ACCEPTED:mailto:jane.roe@example.com\r\n"
        "ATTENDEE:mailto:john.doe@example.com\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _client_fields(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: meta.get(k) for k in EXPECTED}


def _dav_fields(text: str) -> dict[str, Any]:
    (event,) = icalendar.Calendar.from_ical(text).walk("VEVENT")
    attendees = event.get("ATTENDEE")
    categories = event["CATEGORIES"]
    assert isinstance(categories, icalendar.vCategory), categories
    return {
        "location": str(event.get("LOCATION")),
        "categories": [str(c) for c in categories.cats],
        "organizer": str(event["ORGANIZER"]),
        "attendees": [str(a) for a in (attendees if isinstance(attendees, list) else [attendees])],
    }


def test_the_ical_format_carries_the_client_fields_both_ways(live: LiveServer, people: People) -> None:
    dispatcher = live.client(people.dispatcher.token)
    mine = _dav_calendar(live, people.fitter.username, people.fitter.password)
    mine.save_event(_event(_start()))
    source = people.fitter.calendar_id or ""

    exported = dispatcher.get("/api/v1/export/ical", params={"calendar_id": source})
    assert exported.status_code == 200, exported.text
    (item,) = exported.json()["items"]
    assert item["uid"] == UID  # the UID CalDAV and the feed show
    assert {k: item.get(k) for k in EXPECTED} == EXPECTED

    # JSON item → another calendar: REST and that calendar's CalDAV item keep them
    target = people.other_fitter.calendar_id or ""
    imported = dispatcher.post("/api/v1/import/ical", params={"calendar_id": target}, json=[item])
    assert imported.status_code == 200, imported.text
    (result,) = imported.json()["results"]
    assert result["status"] == "created", result
    made = dispatcher.get(f"/api/v1/appointments/{result['id']}").json()
    assert _client_fields(made["meta"]) == EXPECTED
    theirs = _dav_calendar(live, people.other_fitter.username, people.other_fitter.password)
    assert _dav_fields(theirs.event_by_uid(result["id"]).data) == {
        "location": "Main St 1, Denver",
        "categories": ["Fitting", "Home visit"],
        "organizer": "mailto:frank@example.com",
        "attendees": ["mailto:jane.roe@example.com", "mailto:john.doe@example.com"],
    }
    # exported again from there, the item says the same (ical → canonical → ical)
    back = dispatcher.get(f"/api/v1/appointments/{result['id']}", params={"format": "ical"}).json()
    assert {k: back.get(k) for k in ("uid", *EXPECTED)} == {k: item.get(k) for k in ("uid", *EXPECTED)}

    # the calendar as an .ics file says the same thing: importing it finds the appointment unchanged
    ics = dispatcher.get(f"/api/v1/calendars/{source}/appointments.ics")
    assert ics.status_code == 200, ics.text
    window = {"from": (_start() - timedelta(days=1)).isoformat(), "to": (_start() + timedelta(days=1)).isoformat()}
    again = dispatcher.post(
        "/api/v1/import/ical", data=ics.content, headers=ICS, params={"calendar_id": target, **window}
    )
    assert again.status_code == 200, again.text
    assert [(r["status"], r.get("id")) for r in again.json()["results"]] == [("unchanged", result["id"])]

    # and the .ics file alone, into a third calendar, carries them too
    third = people.consultant.calendar_id or ""
    fresh = dispatcher.post(
        "/api/v1/import/ical",
        data=ics.content.replace(UID.encode(), b"other-" + UID.encode()),
        headers=ICS,
        params={"calendar_id": third, **window},
    )
    (created,) = fresh.json()["results"]
    assert created["status"] == "created", fresh.text
    assert _client_fields(dispatcher.get(f"/api/v1/appointments/{created['id']}").json()["meta"]) == EXPECTED
