"""An Outlook export lands at the same UTC instants whether it is imported through the ``ical`` interchange
(``POST /api/v1/import/ical``, a whole ``.ics`` file) or written over CalDAV (python-caldav), because both read
its TZIDs the one way (:class:`caldav_bridge.converters.ical_zones.FileZones`): a Windows name
(``W. Europe Standard Time``) and Outlook's ``Customized Time Zone`` through the file's own VTIMEZONE.

Real HTTP, SQLite and PostgreSQL. Failed before: the import read each TZID through icalendar, which keeps the
first VTIMEZONE it sees for a TZID it does not know for the whole process, so after an American export with a
``Customized Time Zone`` a Berlin export's ``Customized Time Zone`` meeting landed at 09:00 Pacific time.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.caldav.conftest import client_for
from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

BERLIN = ZoneInfo("Europe/Berlin")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
ICS = {"Content-Type": "text/calendar"}
PRODID = "PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\n"


def _vtimezone(tzid: str, *, standard: str, daylight: str, offsets: tuple[str, str], hours: tuple[str, str]) -> str:
    """A VTIMEZONE as Outlook 16 writes it (observances from 1601, a yearly RRULE each)."""
    std, dst = offsets
    return (
        f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
        f"BEGIN:STANDARD\r\nDTSTART:16010101T{hours[0]}\r\nTZOFFSETFROM:{dst}\r\nTZOFFSETTO:{std}\r\n"
        f"RRULE:FREQ=YEARLY;INTERVAL=1;{standard}\r\nEND:STANDARD\r\n"
        f"BEGIN:DAYLIGHT\r\nDTSTART:16010101T{hours[1]}\r\nTZOFFSETFROM:{std}\r\nTZOFFSETTO:{dst}\r\n"
        f"RRULE:FREQ=YEARLY;INTERVAL=1;{daylight}\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
    )


def _berlin_rules(tzid: str) -> str:
    return _vtimezone(
        tzid,
        standard="BYDAY=-1SU;BYMONTH=10",
        daylight="BYDAY=-1SU;BYMONTH=3",
        offsets=("+0100", "+0200"),
        hours=("030000", "020000"),
    )


PACIFIC_CUSTOM = _vtimezone(
    "Customized Time Zone",
    standard="BYDAY=1SU;BYMONTH=11",
    daylight="BYDAY=2SU;BYMONTH=3",
    offsets=("-0800", "-0700"),
    hours=("020000", "020000"),
)


def _vevent(uid: str, tzid: str, day: date, summary: str, extra: str = "") -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART;TZID={tzid}:{day:%Y%m%d}T090000\r\nDTEND;TZID={tzid}:{day:%Y%m%d}T100000\r\n"
        f"{extra}X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nEND:VEVENT\r\n"
    )


def _calendar(zones: str, *events: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\n" + PRODID + zones + "".join(events) + "END:VCALENDAR\r\n"
    )


def _dst_start(year: int) -> date:
    """Berlin's change to summer time: the last Sunday of March."""
    last = date(year, 3, 31)
    return last - timedelta(days=(last.weekday() + 1) % 7)


def _import(api: Api, calendar_id: str, text: str) -> None:
    r = api.post("/api/v1/import/ical", data=text.encode(), headers=ICS, params={"calendar_id": calendar_id})
    assert r.status_code == 200, r.text
    assert r.json()["summary"]["error"] == 0, r.text


def _listed(api: Api, calendar_id: str, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
    """(title, UTC start) of every appointment (each occurrence of a series) of the calendar in the window."""
    params = {
        "calendar_id": calendar_id,
        "from": iso(start),
        "to": iso(end),
        "expand": "true",
        "kind": "all",
        "limit": 100,
    }
    r = api.get("/api/v1/appointments", params=params)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return sorted((i["name"], datetime.fromisoformat(i["date_start"].replace("Z", "+00:00"))) for i in items)


def test_an_outlook_export_lands_at_the_same_instants_imported_or_put_over_caldav(
    live: LiveServer, people: People
) -> None:
    admin = live.client(people.admin.token)
    year = datetime.now(UTC).year + 1
    change = _dst_start(year)
    # an American fitter's export first: its "Customized Time Zone" is Pacific time
    us_day = date(year, 2, 2)
    _import(
        admin,
        people.fitter.calendar_id or "",
        _calendar(PACIFIC_CUSTOM, _vevent("us@outlook", "Customized Time Zone", us_day, "US visit")),
    )
    us = datetime.combine(us_day, time(9), tzinfo=LOS_ANGELES).astimezone(UTC)

    # a Berlin fitter's export: a fitting and a weekly series across Berlin's change to summer time in its
    # Windows zone, and a meeting from an invitation in a "Customized Time Zone" (Berlin's rules too)
    weu = "W. Europe Standard Time"
    tuesdays = [change - timedelta(days=12) + timedelta(weeks=n) for n in range(4)]
    events = {
        "fitting@outlook": _vevent("fitting@outlook", weu, change - timedelta(days=4), "Fitting"),
        "weekly@outlook": _vevent("weekly@outlook", weu, tuesdays[0], "Weekly check", "RRULE:FREQ=WEEKLY;COUNT=4\r\n"),
        "invited@outlook": _vevent("invited@outlook", "Customized Time Zone", change + timedelta(days=3), "Invited"),
    }
    zones = _berlin_rules(weu) + _berlin_rules("Customized Time Zone")

    def at_nine(title: str, day: date) -> tuple[str, datetime]:
        return title, datetime.combine(day, time(9), tzinfo=BERLIN).astimezone(UTC)

    expected = sorted(
        [at_nine("Fitting", change - timedelta(days=4)), at_nine("Invited", change + timedelta(days=3))]
        + [at_nine("Weekly check", day) for day in tuesdays]
    )
    assert [s.hour for n, s in expected if n == "Weekly check"] == [8, 8, 7, 7]  # 09:00 in Berlin, across its change

    # imported through the interchange into the Berlin fitter's calendar ...
    berlin_id = people.other_fitter.calendar_id or ""
    _import(admin, berlin_id, _calendar(zones, *events.values()))
    # ... and PUT over CalDAV, one resource per UID as a client writes it, into the Denver fitter's calendar
    (denver,) = client_for(live, people.fitter.username, people.fitter.password).principal().calendars()
    for event in events.values():
        denver.save_event(_calendar(zones, event))

    low = datetime.combine(change - timedelta(days=20), time(0), tzinfo=UTC)
    high = datetime.combine(change + timedelta(days=20), time(0), tzinfo=UTC)
    assert _listed(admin, berlin_id, low, high) == expected
    assert _listed(admin, people.fitter.calendar_id or "", low, high) == expected
    us_window = _listed(admin, people.fitter.calendar_id or "", us - timedelta(days=1), us + timedelta(days=1))
    assert us_window == [("US visit", us)]
