"""Whole .ics files read into items (caldav_bridge.converters.ical_items.read_calendar): what a recurring
event becomes, and that a hostile file costs a bounded amount of CPU whatever it holds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from caldav_bridge.converters import ConversionError, get_converter
from caldav_bridge.converters.ical_items import IcalOptions, read_calendar
from caldav_bridge.converters.ical_shape import MAX_DATES, MAX_RULE_VALUES

WINDOW = IcalOptions(window_start=datetime(2026, 1, 1, tzinfo=UTC), window_end=datetime(2030, 1, 1, tzinfo=UTC))


def _calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\n{e}END:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n{body}END:VCALENDAR\r\n"


def _event(uid: str, rule: str = "", start: str = "20260105T090000Z") -> str:
    end = start[:9] + "10" + start[11:]
    return f"UID:{uid}\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{uid}\r\n" + (f"RRULE:{rule}\r\n" if rule else "")


def test_a_series_becomes_its_occurrences_in_the_window_each_with_its_own_source_id() -> None:
    items = list(read_calendar(_calendar(_event("w", "FREQ=WEEKLY;COUNT=3")), WINDOW))
    converted = [get_converter("ical").to_canonical(item) for item in items]
    assert [c.source_id for c in converted] == ["w/20260105T090000Z", "w/20260112T090000Z", "w/20260119T090000Z"]
    assert [c.date_start.day for c in converted] == [5, 12, 19]


def test_without_a_window_a_series_is_an_error_item_naming_rrule() -> None:
    (item,) = read_calendar(_calendar(_event("w", "FREQ=WEEKLY")))
    with pytest.raises(ConversionError) as caught:
        get_converter("ical").to_canonical(item)
    assert caught.value.fields == ["rrule"]


def test_not_icalendar_at_all_is_one_error_naming_the_body() -> None:
    with pytest.raises(ConversionError) as caught:
        read_calendar("not a calendar")
    assert caught.value.fields == ["(body)"]


def test_a_hostile_file_costs_bounded_cpu_and_every_series_gets_an_answer() -> None:
    # 300 series, each 1440 occurrences a day for four years: billions of occurrences if expanded.
    minutes = ",".join(str(m) for m in range(60))
    hours = ",".join(str(h) for h in range(24))
    rule = f"FREQ=DAILY;BYHOUR={hours};BYMINUTE={minutes}"
    text = _calendar(*(_event(f"s{i}", rule, "20260101T000000Z") for i in range(300)))
    started = time.process_time()
    items = list(read_calendar(text, WINDOW))
    spent = time.process_time() - started
    assert spent < 30, spent  # generous: about 1 s here; unbounded it would run for hours
    assert len(items) == 300 and all("rrule_error" in item for item in items)
    assert "over 1000 occurrences" in items[0]["rrule_error"]
    assert "in all" in items[-1]["rrule_error"]


def test_a_file_listing_more_dates_or_rule_values_than_its_events_may_is_refused_before_it_is_parsed() -> None:
    """One EXDATE line may hold thousands of values (15,000 cost ~1 s to parse, store and compare), one RRULE
    thousands of BYxxx values; the line bounds do not bound them."""
    days = ",".join(f"2027{month:02d}{day:02d}T090000Z" for month in range(1, 13) for day in range(1, 29))
    series = _event("x", "FREQ=DAILY", "20270101T090000Z")
    allowed = MAX_DATES + WINDOW.dates_per_event  # one event
    lines = "".join(f"EXDATE:{days}\r\n" for _ in range(allowed // 336)) + "EXDATE:" + days[: 17 * (allowed % 336) - 1]
    assert len(list(read_calendar(_calendar(series + lines + "\r\n"), WINDOW))) > 0
    with pytest.raises(ConversionError, match="1,021 EXDATE and RDATE values for 1 events") as caught:
        read_calendar(_calendar(series + lines + ",20280101T090000Z\r\n"), WINDOW)
    assert caught.value.fields == ["(body)"]
    monthdays = ",".join(str(n % 28 + 1) for n in range(MAX_RULE_VALUES + WINDOW.rule_values_per_event + 1))
    with pytest.raises(ConversionError, match="1,101 RRULE and EXRULE values"):
        read_calendar(_calendar(_event("r", f"FREQ=MONTHLY;BYMONTHDAY={monthdays}")), WINDOW)


def test_rules_that_never_occur_or_began_long_ago_cost_little_and_say_why() -> None:
    never = [_event(f"n{i}", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "20260101T090000Z") for i in range(200)]
    old = _event("old", "FREQ=WEEKLY;BYDAY=MO", "19000101T090000Z")  # a Monday, every week since 1900
    started = time.process_time()
    items = list(read_calendar(_calendar(*never, old), WINDOW))
    assert time.process_time() - started < 30  # generous: well under a second here
    errors = [item for item in items if "rrule_error" in item]
    assert len(errors) == 200 and all("cannot be expanded" in e["rrule_error"] for e in errors)
    weekly = [item for item in items if item["uid"] == "old"]
    assert len(weekly) == 209  # the Mondays of 2026 to 2029 only
    assert weekly[0]["dtstart"].startswith("2026-01-05T09:00")


def test_floating_times_and_dates_are_kept_as_wall_times_for_the_calendar_they_land_on() -> None:
    """A floating DTSTART (no TZID, no Z) and an all-day date mean a wall time in the zone of the calendar the event
    lands on (as a CalDAV PUT reads them): the item carries them without an offset, and the converted item reads
    them in that zone only once it is given (``in_zone``). Failed before: they were read as UTC in the file."""
    text = _calendar(
        "UID:float\r\nDTSTART:20260705T090000\r\nDTEND:20260705T100000\r\n",
        "UID:day\r\nDTSTART;VALUE=DATE:20260706\r\nDTEND;VALUE=DATE:20260707\r\n",
        "UID:zoned\r\nDTSTART;TZID=America/New_York:20260707T090000\r\nDURATION:PT1H\r\n",
        "UID:weekly\r\nDTSTART:20260105T090000\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\n",
    )
    items = list(read_calendar(text, WINDOW))
    assert [(i["dtstart"], i["dtend"], i["all_day"]) for i in items] == [
        ("2026-07-05T09:00:00", "2026-07-05T10:00:00", False),
        ("2026-07-06T00:00:00", "2026-07-07T00:00:00", True),
        ("2026-07-07T09:00:00-04:00", "2026-07-07T10:00:00-04:00", False),
        ("2026-01-05T09:00:00", "2026-01-05T09:30:00", False),
        ("2026-01-12T09:00:00", "2026-01-12T09:30:00", False),
    ]
    floating, day, zoned, *weekly = (get_converter("ical").to_canonical(i) for i in items)
    assert floating.date_start == datetime(2026, 7, 5, 9, tzinfo=UTC)  # the options' default zone until then
    denver = [c.in_zone("America/Denver") for c in (floating, day, zoned, *weekly)]
    assert [(c.date_start, c.date_end) for c in denver] == [
        (datetime(2026, 7, 5, 15, tzinfo=UTC), datetime(2026, 7, 5, 16, tzinfo=UTC)),
        (datetime(2026, 7, 6, 6, tzinfo=UTC), datetime(2026, 7, 7, 6, tzinfo=UTC)),
        (datetime(2026, 7, 7, 13, tzinfo=UTC), datetime(2026, 7, 7, 14, tzinfo=UTC)),  # its own zone: as it was
        (datetime(2026, 1, 5, 16, tzinfo=UTC), datetime(2026, 1, 5, 16, 30, tzinfo=UTC)),
        (datetime(2026, 1, 12, 16, tzinfo=UTC), datetime(2026, 1, 12, 16, 30, tzinfo=UTC)),
    ]
    assert zoned.in_zone("America/Denver") is zoned
    assert (day.meta.model_extra or {})["all_day"] is True
    assert "local_start" not in floating.model_dump()  # the wall times are not part of the item's data


def test_a_floating_start_whose_zoned_end_comes_before_it_in_the_calendars_zone_is_refused() -> None:
    item = {"uid": "mixed", "dtstart": "2026-07-05T09:00:00", "dtend": "2026-07-05T10:00:00-04:00", "summary": "x"}
    converted = get_converter("ical").to_canonical(item)  # 09:00 UTC to 14:00 UTC: fine so far
    with pytest.raises(ValueError, match="must be after") as caught:
        converted.in_zone("America/Los_Angeles")  # 09:00 in Los Angeles is 16:00 UTC: after the end
    assert getattr(caught.value, "field", None) == "date_end"
