"""caldav_bridge.converters.ical_shape: lines, components and listed values (EXDATE/RDATE dates, RRULE BYxxx
values) counted before any parse, as the parsers see them."""

from __future__ import annotations

from datetime import date, timedelta

import icalendar
import pytest

from caldav_bridge.converters.ical_shape import MAX_DATES, MAX_RULE_VALUES, IcalShape, shape
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
    assert shape(text) == IcalShape(lines=shape(text).lines, objects=3, events=2, depth=3, dates=0, rule_values=1)
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


def _stamps(count: int, first: int = 0) -> list[str]:
    return [f"{date(2027, 1, 1) + timedelta(days=first + n):%Y%m%d}T090000" for n in range(count)]


def _exdates(count: int, per_line: int = 500) -> str:
    stamps = _stamps(count)
    return "".join(
        "EXDATE;TZID=America/Denver:" + ",".join(stamps[i : i + per_line]) + "\r\n" for i in range(0, count, per_line)
    )


def _icalendar_dates(text: str) -> int:
    """EXDATE and RDATE values as icalendar reads them, for comparison."""
    total = 0
    for event in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        for name in ("EXDATE", "RDATE"):
            value = event.get(name)
            total += sum(len(v.dts) for v in (value if isinstance(value, list) else [value] if value else []))
    return total


@pytest.mark.parametrize(
    "extra",
    [
        "RRULE:FREQ=DAILY\r\n" + _exdates(7, per_line=3),
        "RRULE:FREQ=DAILY\r\nRDATE:20270301T090000Z,20270302T090000Z\r\nexdate:20270303T090000Z\r\n",
        # folded anywhere, the name too: unfolded as the parsers unfold it before it is counted
        "RRULE:FREQ=DAILY\r\nEX\r\n DATE:20270301T090000Z,\r\n 20270302T090000Z\r\n",
    ],
)
def test_dates_are_the_values_the_parser_reads(extra: str) -> None:
    text = event_ics("d@shape", extra=extra)
    assert shape(text).dates == _icalendar_dates(text)
    assert shape(text.replace("\r\n", "\n")).dates == shape(text).dates


def test_rule_values_are_each_rule_lines_commas_and_one() -> None:
    rule = "RRULE:FREQ=MONTHLY;BYMONTHDAY=1,15,-1;BYHOUR=9,14\r\nEXRULE:FREQ=YEARLY;BYMONTH=12\r\n"
    # a line's commas and one: two lists on a line count one less than their values, one list exactly its values
    assert shape(event_ics("r@shape", extra=rule)).rule_values == 4 + 1


def test_a_put_body_over_the_date_bound_is_refused_before_it_is_parsed() -> None:
    check_calendar_body(event_ics("x@shape", extra="RRULE:FREQ=DAILY\r\n" + _exdates(MAX_DATES)).encode())
    over = event_ics(
        "x@shape",
        extra="RRULE:FREQ=DAILY\r\n" + _exdates(MAX_DATES - 1) + "RDATE:20280101T090000Z,20280102T090000Z\r\n",
    )
    with pytest.raises(
        InvalidCalendarData, match=f"{MAX_DATES + 1:,} EXDATE and RDATE values \\(at most {MAX_DATES:,}\\)"
    ):
        check_calendar_body(over.encode())
    # one line of 15,000 values (the most a PUT's 256 KiB hold; ~1.05 s of CPU before the bound), folded
    folded = event_ics("x@shape", extra="RRULE:FREQ=DAILY\r\nEXDATE:" + ",\r\n ".join(_stamps(15_000)) + "\r\n")
    with pytest.raises(InvalidCalendarData, match="15,000 EXDATE and RDATE values"):
        check_calendar_body(folded.encode())


def test_a_put_body_over_the_rule_value_bound_is_refused_before_it_is_parsed() -> None:
    def rule(values: int) -> bytes:
        days = ",".join(str(n % 28 + 1) for n in range(values))
        return event_ics("y@shape", extra=f"RRULE:FREQ=MONTHLY;BYMONTHDAY={days}\r\n").encode()

    check_calendar_body(rule(MAX_RULE_VALUES))
    with pytest.raises(InvalidCalendarData, match=f"list {MAX_RULE_VALUES + 1:,} values"):
        check_calendar_body(rule(MAX_RULE_VALUES + 1))
