"""The VTIMEZONE a CalDAV item carries is read right by vobject (stock Radicale's and many clients' parser)
in every year an event touches, not only the year it was rendered for.

Regression: items got icalendar's ``Timezone.from_tzid`` (one-off observances); vobject misread those in a
later year, so stock Radicale answered a one-week REPORT with one event missing (bench/caldav_bench.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import vobject

from caldav_bridge.dav.render import render_event
from caldav_bridge.model.appointment import Appointment

ZONES = ["Europe/Berlin", "America/Denver", "America/New_York", "Australia/Sydney"]


def _appointment(start: datetime) -> Appointment:
    start = start.astimezone(UTC)  # an hour of real time, also across a DST change
    return Appointment.model_validate(
        {
            "id": str(uuid.uuid4()),
            "calendar": {"id": str(uuid.uuid4()), "name": "Fitter"},
            "name": "Fitting",
            "date_start": start.isoformat().replace("+00:00", "Z"),
            "date_end": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "status": "BOOKED",
            "meta": {"type": "FOLLOW_UP"},
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
            "guests": [],
        }
    )


@pytest.mark.parametrize("zone", ZONES)
def test_a_weekly_series_over_three_years_reads_right_in_vobject(zone: str) -> None:
    """A client's weekly series (no VTIMEZONE of its own) gets one from the service; every occurrence over
    three years, across six DST changes, must land on the instant zoneinfo gives."""
    tz = ZoneInfo(zone)
    first = datetime(2026, 1, 5, 9, 0, tzinfo=tz)
    base = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VEVENT\r\nUID:series-1\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART;TZID={zone}:20260105T090000\r\n"
        f"DTEND;TZID={zone}:20260105T100000\r\nRRULE:FREQ=WEEKLY;COUNT=156\r\nSUMMARY:x\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    text = render_event(_appointment(first), zone=zone, sequence=0, base_text=base, uid="series-1")
    assert text.count("BEGIN:VTIMEZONE") == 1
    vobject.icalendar.__dict__["__tzidMap"].pop(zone, None)  # vobject caches a TZID's first VTIMEZONE
    event = vobject.readOne(text).vevent
    occurrences = list(event.getrruleset(addRDate=True))
    assert len(occurrences) == 156
    for week, got in enumerate(occurrences):
        expected = (first.replace(tzinfo=None) + timedelta(weeks=week)).replace(tzinfo=tz)
        assert got.astimezone(UTC) == expected.astimezone(UTC), (week, got)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("year", [1999, 2026, 2031, 2049])
def test_a_fresh_item_reads_right_in_vobject(zone: str, year: int) -> None:
    tz = ZoneInfo(zone)
    for month in (1, 3, 4, 7, 10, 11):
        start = datetime(year, month, 28, 2, 30, tzinfo=tz)
        appointment = _appointment(start)
        text = render_event(appointment, zone=zone, sequence=0)
        vobject.icalendar.__dict__["__tzidMap"].pop(zone, None)
        event = vobject.readOne(text).vevent
        assert event.dtstart.value.astimezone(UTC) == appointment.date_start, (month, text)
        assert event.dtend.value.astimezone(UTC) == appointment.date_end
