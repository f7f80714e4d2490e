"""Whole .ics files read into items (caldav_bridge.converters.ical_items.read_calendar): what a recurring
event becomes, and that a hostile file costs a bounded amount of CPU whatever it holds."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from caldav_bridge.converters import ConversionError, get_converter
from caldav_bridge.converters.ical_items import IcalOptions, read_calendar

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
