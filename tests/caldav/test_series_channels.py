"""A series written by a CalDAV client (python-caldav) on every channel, on SQLite and PostgreSQL:
availability, the feed (RRULE, EXDATE, overrides, the client's UID) and REST (``meta.recurrence``,
``?expand=true``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import caldav

from tests.conftest import People
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

DENVER = ZoneInfo("America/Denver")


def _stamp(day: date, hour: int) -> str:
    return f"{day:%Y%m%d}T{hour:02d}0000"


def series_ics(uid: str, day: date, *, summary: str, hour: int, rule: str, extra: str = "", tail: str = "") -> str:
    """A recurring VEVENT in Denver time (one hour at ``hour``), ``extra`` lines in the master, ``tail``
    further VEVENTs (overrides)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//series//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(day, hour)}\r\nDTEND;TZID=America/Denver:{_stamp(day, hour + 1)}\r\n"
        f"RRULE:{rule}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n{tail}END:VCALENDAR\r\n"
    )


def override_ics(uid: str, original: date, moved: date, hour: int, moved_hour: int, summary: str) -> str:
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=America/Denver:{_stamp(original, hour)}\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(moved, moved_hour)}\r\n"
        f"DTEND;TZID=America/Denver:{_stamp(moved, moved_hour + 1)}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
    )


@dataclass
class Days:
    d0: date

    def at(self, offset: int, hour: int) -> datetime:
        return datetime.combine(self.d0 + timedelta(days=offset), time(hour), tzinfo=DENVER)


def future_tuesday() -> Days:
    today = datetime.now(DENVER).date()
    return Days(today + timedelta(days=14 + (1 - today.weekday()) % 7))


def write_daily_series(calendar: caldav.Calendar, days: Days) -> None:
    """Daily x 4 at 09:00 from a Tuesday: the 2nd moved to 14:00, the 3rd removed (EXDATE); and a
    transparent daily x 3 at 11:00 ("Lunch walk", no customer, no type)."""
    d0 = days.d0
    calendar.save_event(
        series_ics(
            "daily-fitting@client",
            d0,
            summary="Daily check",
            hour=9,
            rule="FREQ=DAILY;COUNT=4",
            extra=f"EXDATE;TZID=America/Denver:{_stamp(d0 + timedelta(days=2), 9)}\r\n",
            tail=override_ics("daily-fitting@client", d0 + timedelta(days=1), d0 + timedelta(days=1), 9, 14, "Moved"),
        )
    )
    calendar.save_event(
        series_ics(
            "walk@client", d0, summary="Lunch walk", hour=11, rule="FREQ=DAILY;COUNT=3", extra="TRANSP:TRANSPARENT\r\n"
        )
    )


def slot_starts(api: Api, calendar_id: str, start: datetime, end: datetime) -> set[datetime]:
    response = api.get(
        "/api/v1/availability",
        params={"calendar_id": calendar_id, "type": "FOLLOW_UP", "from": iso(start), "to": iso(end)},
    )
    assert response.status_code == 200, response.text
    return {datetime.fromisoformat(s["start_utc"].replace("Z", "+00:00")) for s in response.json()["slots"]}


def test_every_occurrence_of_a_short_series_blocks_availability(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    write_daily_series(fitter_calendar, days)
    api = live.client(people.fitter.token)
    slots = slot_starts(api, people.fitter.calendar_id or "", days.at(0, 0), days.at(5, 0))
    free = {
        (offset, hour): days.at(offset, hour).astimezone(UTC) in slots for offset in range(4) for hour in (9, 11, 14)
    }
    assert free == {
        (0, 9): False,  # the first occurrence
        (0, 11): True,  # transparent: free time
        (0, 14): True,
        (1, 9): True,  # moved away from here ...
        (1, 11): True,
        (1, 14): False,  # ... to here
        (2, 9): True,  # EXDATE
        (2, 11): True,
        (2, 14): True,
        (3, 9): False,  # the 4th occurrence
        (3, 11): True,
        (3, 14): True,
    }


def test_a_series_begun_long_ago_blocks_this_week(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    first = days.d0 - timedelta(weeks=52 * 3)  # weekly on Tuesdays for three years and more
    first -= timedelta(days=(first.weekday() - 1) % 7)
    fitter_calendar.save_event(series_ics("weekly@client", first, summary="Team call", hour=10, rule="FREQ=WEEKLY"))
    api = live.client(people.fitter.token)
    slots = slot_starts(api, people.fitter.calendar_id or "", days.at(0, 0), days.at(2, 0))
    assert days.at(0, 10).astimezone(UTC) not in slots
    assert days.at(1, 10).astimezone(UTC) in slots
    assert days.at(0, 12).astimezone(UTC) in slots
