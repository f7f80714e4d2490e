"""The same ``.ics`` means the same appointment whether a CalDAV client PUTs it or it is imported through the ``ical``
interchange (``POST /api/v1/import/ical`` with ``text/calendar``): floating times (DTSTART without TZID or ``Z``) and
all-day dates are read in the zone of the calendar the event lands on, as the CalDAV PUT reads them; an all-day event
stays all-day (``meta.all_day``: midnight to midnight in that zone), and a zoned time is read in its zone.

Real HTTP (python-caldav for the PUT), SQLite and PostgreSQL, calendars in America/Denver. Failed before: the import
read floating times and dates as UTC, 6 or 7 hours off the CalDAV appointment, and its feed event a day off.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import system_actor
from tests.caldav.conftest import client_for
from tests.caldav.support import DENVER, new_feed
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

ICS = {"Content-Type": "text/calendar"}
NEW_YORK = ZoneInfo("America/New_York")


def _event(uid: str, summary: str, start: str, end: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n{start}\r\n{end}\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\n"
    )


def _calendar(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Old calendar//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def _events(day: date) -> dict[str, str]:
    """A floating time, an all-day event and a zoned time (New York) on and after ``day``."""
    d0, d1, d2 = (f"{day + timedelta(days=n):%Y%m%d}" for n in range(3))
    return {
        "Floating": _event("floating@old", "Floating", f"DTSTART:{d0}T090000", f"DTEND:{d0}T100000"),
        "All day": _event("allday@old", "All day", f"DTSTART;VALUE=DATE:{d1}", f"DTEND;VALUE=DATE:{d2}"),
        "Zoned": _event("zoned@old", "Zoned", f"DTSTART;TZID={NEW_YORK}:{d2}T090000", "DURATION:PT1H"),
    }


def _appointments(api: Api, calendar_id: str, day: date) -> dict[str, tuple[str, str, bool]]:
    """name → (date_start, date_end, meta.all_day) of the calendar's appointments around ``day``."""
    start = datetime.combine(day - timedelta(days=2), time(0), tzinfo=UTC)
    params = {"calendar_id": calendar_id, "from": iso(start), "to": iso(start + timedelta(days=8)), "kind": "all"}
    r = api.get("/api/v1/appointments", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return {i["name"]: (i["date_start"], i["date_end"], i["meta"].get("all_day") is True) for i in items}


def _feed_times(text: str) -> dict[str, list[str]]:
    """SUMMARY → its event's DTSTART and DTEND lines, as the feed writes them."""
    out: dict[str, list[str]] = {}
    for block in text.split("BEGIN:VEVENT")[1:]:
        summary = re.search(r"^SUMMARY:(.*)\r$", block, re.MULTILINE)
        assert summary is not None, block
        out[summary.group(1)] = sorted(re.findall(r"^(DT(?:START|END)[;:].*)\r$", block, re.MULTILINE))
    return out


def test_floating_all_day_and_zoned_times_land_alike_through_caldav_and_import(
    live: LiveServer, people: People
) -> None:
    admin = live.client(people.admin.token)
    day = datetime.now(DENVER).date() + timedelta(days=21)
    events = _events(day)
    # over CalDAV into the Denver fitter's calendar, one resource per event as a client writes it
    caldav_id = people.fitter.calendar_id or ""
    (denver,) = client_for(live, people.fitter.username, people.fitter.password).principal().calendars()
    for event in events.values():
        denver.save_event(_calendar(event))
    # imported, all in one file, into another calendar in America/Denver
    imported = calendars.create(
        live.runtime.uow(), system_actor(), CalendarDraft(name="Imported", kind="team", timezone="America/Denver")
    )
    whole = _calendar(*events.values())
    r = admin.post("/api/v1/import/ical", data=whole.encode(), headers=ICS, params={"calendar_id": imported.id})
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["created"] == 3, r.text

    nine = datetime.combine(day, time(9), tzinfo=DENVER)
    midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=DENVER)
    zoned = datetime.combine(day + timedelta(days=2), time(9), tzinfo=NEW_YORK)

    def z(value: datetime) -> str:
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    expected = {
        "Floating": (z(nine), z(nine + timedelta(hours=1)), False),
        "All day": (z(midnight), z(datetime.combine(day + timedelta(days=2), time(0), tzinfo=DENVER)), True),
        "Zoned": (z(zoned), z(zoned + timedelta(hours=1)), False),
    }
    assert _appointments(admin, caldav_id, day) == expected
    assert _appointments(admin, imported.id, day) == expected

    # the feeds write the same DTSTART/DTEND for each (an all-day event as DATE values)
    caldav_feed = _feed_times(new_feed(live, admin, caldav_id, "full").text)
    imported_feed = _feed_times(new_feed(live, admin, imported.id, "full").text)
    assert set(caldav_feed) == set(imported_feed) == set(events)
    assert caldav_feed == imported_feed
    assert f"DTSTART;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}" in imported_feed["All day"]

    # imported again without calendar_id: each lands where it is, read in that calendar's zone: unchanged
    again = admin.post("/api/v1/import/ical", data=whole.encode(), headers=ICS)
    assert again.status_code == 200, again.text
    assert [x["status"] for x in again.json()["results"]] == ["unchanged"] * 3, again.text
