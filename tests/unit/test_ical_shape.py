"""caldav_bridge.converters.ical_shape: lines and components counted before any parse, as the parsers see them."""

from __future__ import annotations

from datetime import date, timedelta

import icalendar
import pytest

from caldav_bridge.converters.ical_shape import IcalShape, shape
from caldav_bridge.dav.errors import InvalidCalendarData, MalformedCalendarData
from caldav_bridge.dav.validate import MAX_LINES, MAX_OBJECTS, check_calendar_body
from tests.caldav.support import event_ics


def _parsed_lines(text: str) -> int:
    """Content lines as icalendar reads them (unfolded), for comparison."""
    return len([line for line in icalendar.Calendar.from_ical(text).content_lines() if line]) if text else 0


@pytest.mark.parametrize(
    "text",
    [
        event_ics("a@shape"),
        event_ics("b@shape", extra="DESCRIPTION:" + "x" * 70 + "\r\n y\r\n\tz\r\n"),
        event_ics("c@shape", extra="BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nEND:VALARM\r\n"),
    ],
)
def test_lines_are_the_unfolded_content_lines(text: str) -> None:
    assert shape(text).lines == _parsed_lines(text)
    assert shape(text.replace("\r\n", "\n")).lines == shape(text).lines
    assert shape(text.rstrip("\r\n")).lines == shape(text).lines  # no final line break: the last line counts


def test_components_and_depth() -> None:
    series = event_ics("s@shape", extra="RRULE:FREQ=WEEKLY\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n")
    moved = event_ics("s@shape", extra="RECURRENCE-ID:20261208T160000Z\r\n")
    vevent = moved[moved.index("BEGIN:VEVENT") : moved.index("END:VCALENDAR")]
    todo = "BEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\n"
    text = series.replace("END:VCALENDAR", vevent + todo + "END:VCALENDAR")
    assert shape(text) == IcalShape(lines=shape(text).lines, objects=3, events=2, depth=3)
    assert shape("begin:vcalendar\nbegin:vevent\nend:vevent\nend:vcalendar").events == 1  # names are caseless
    assert shape(b"").lines == 0


def test_a_put_body_over_the_line_bound_is_refused_before_it_is_parsed() -> None:
    head = event_ics("l@shape", extra="")
    fixed = shape(head).lines
    check_calendar_body(event_ics("l@shape", extra="X-A:1\r\n" * (MAX_LINES - fixed)).encode())  # at the bound
    with pytest.raises(InvalidCalendarData, match=f"content lines \\(at most {MAX_LINES:,}\\)"):
        check_calendar_body(event_ics("l@shape", extra="X-A:1\r\n" * (MAX_LINES - fixed + 1)).encode())
    # folded continuation lines are one content line each: a long folded DESCRIPTION is not refused for them
    check_calendar_body(event_ics("f@shape", extra="DESCRIPTION:x\r\n" + " y\r\n" * (2 * MAX_LINES)).encode())


def test_a_put_body_over_the_object_bound_is_refused_before_it_is_parsed() -> None:
    def series(moved: int) -> bytes:
        text = event_ics("o@shape", extra="RRULE:FREQ=DAILY\r\n")
        days = [(date(2026, 12, 2) + timedelta(days=d)).strftime("%Y%m%d") for d in range(moved)]
        overrides = "".join(
            f"BEGIN:VEVENT\r\nUID:o@shape\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID:{day}T160000Z\r\n"
            f"DTSTART:{day}T170000Z\r\nDTEND:{day}T180000Z\r\nEND:VEVENT\r\n"
            for day in days
        )
        return text.replace("END:VCALENDAR", overrides + "END:VCALENDAR").encode()

    assert shape(series(MAX_OBJECTS - 1)).objects == MAX_OBJECTS
    check_calendar_body(series(MAX_OBJECTS - 1))
    with pytest.raises(InvalidCalendarData, match=f"at most {MAX_OBJECTS}"):
        check_calendar_body(series(MAX_OBJECTS))


def test_a_put_body_icalendar_cannot_read_is_refused_not_left_to_radicale() -> None:
    """vobject (Radicale) reads it; left to Radicale, the never-occurring rule was scanned to the year 9999 (12 s)."""
    body = event_ics(
        "alarm@shape",
        extra="BEGIN:VALARM\r\nDTSTART:00000101\r\nEND:VALARM\r\nRRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2\r\n",
    )
    with pytest.raises(MalformedCalendarData, match="cannot be read"):
        check_calendar_body(body.encode())
