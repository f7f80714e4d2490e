"""Free-slot computation as pure functions: DST, time zones, buffers, breaks, exceptions, limits."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.scheduling.intervals import (
    SlotSpec,
    free_slots,
    local_days,
    merge,
    subtract,
    unfit_reason,
    working_intervals,
)
from caldav_bridge.scheduling.rules import AvailabilityRules, TimeRange

DENVER, BERLIN = ZoneInfo("America/Denver"), ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rules(**extra: object) -> AvailabilityRules:
    data: dict[str, object] = {
        "weekly_hours": {
            d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        }
    }
    data.update(extra)
    return AvailabilityRules.model_validate(data)


def test_merge_and_subtract() -> None:
    a, b, c = utc(2026, 1, 1, 9), utc(2026, 1, 1, 10), utc(2026, 1, 1, 11)
    assert merge([(b, c), (a, b)]) == [(a, c)]
    assert subtract([(a, c)], [(b, b + timedelta(minutes=30))]) == [(a, b), (b + timedelta(minutes=30), c)]
    assert subtract([(a, b)], [(a - H, c)]) == []


def test_working_hours_follow_dst_in_the_calendars_zone() -> None:
    # Denver springs forward on 2026-03-08 and falls back on 2026-11-01: 09:00 local stays 09:00 local.
    days = [date(2026, 3, 7), date(2026, 3, 8), date(2026, 10, 31), date(2026, 11, 1)]
    got = working_intervals(rules(), {}, DENVER, days)
    assert [start for start, _ in got] == [
        utc(2026, 3, 7, 16),
        utc(2026, 3, 8, 15),
        utc(2026, 10, 31, 15),
        utc(2026, 11, 1, 16),
    ]
    assert all(end - start == 8 * H for start, end in got)


def test_a_working_day_across_the_dst_gap_is_23_hours_long() -> None:
    all_day = rules(weekly_hours={"sun": [{"start": "00:00", "end": "24:00"}]})
    ((start, end),) = working_intervals(all_day, {}, BERLIN, [date(2026, 3, 29)])  # Europe springs forward
    assert end - start == 23 * H
    ((start, end),) = working_intervals(all_day, {}, BERLIN, [date(2026, 10, 25)])  # and falls back
    assert end - start == 25 * H


def test_slots_on_a_dst_day_are_whole_and_in_local_working_hours() -> None:
    r = rules(weekly_hours={"sun": [{"start": "01:00", "end": "04:00"}]})
    day = date(2026, 3, 29)  # 02:00-03:00 does not exist in Berlin that night
    working = working_intervals(r, {}, BERLIN, [day])
    slots = free_slots(working, [], SlotSpec(duration=H, step=H, zone=BERLIN))
    local = [(s.astimezone(BERLIN).strftime("%H:%M"), e - s) for s, e in slots]
    assert local == [("01:00", H), ("03:00", H)]  # two real hours between 01:00 and 04:00 local


def test_breaks_and_exceptions() -> None:
    r = rules(breaks={"mon": [{"start": "12:00", "end": "13:00"}]})
    monday, tuesday = date(2026, 12, 7), date(2026, 12, 8)
    exceptions = {tuesday: [TimeRange(start="10:00", end="11:00")], date(2026, 12, 9): []}
    working = working_intervals(r, exceptions, DENVER, [monday, tuesday, date(2026, 12, 9)])
    local = [(s.astimezone(DENVER).strftime("%a %H:%M"), e.astimezone(DENVER).strftime("%H:%M")) for s, e in working]
    assert local == [("Mon 09:00", "12:00"), ("Mon 13:00", "17:00"), ("Tue 10:00", "11:00")]


def test_buffers_keep_travel_time_on_both_sides() -> None:
    day = date(2026, 12, 7)
    working = working_intervals(rules(), {}, BERLIN, [day])
    busy = [(datetime(2026, 12, 7, 11, tzinfo=BERLIN), datetime(2026, 12, 7, 12, tzinfo=BERLIN))]
    spec = SlotSpec(duration=H, step=timedelta(minutes=30), after=timedelta(minutes=30), zone=BERLIN)
    starts = [s.astimezone(BERLIN).strftime("%H:%M") for s, _ in free_slots(working, busy, spec)]
    # A slot ending at 11:00 needs 30 min of travel before the 11:00 visit: 09:30 is the last before it;
    # after the visit (ends 12:00) 30 min of travel: 12:30 is the first.
    assert "10:00" not in starts and "09:30" in starts and "12:00" not in starts and "12:30" in starts
    assert unfit_reason((busy[0][1], busy[0][1] + H), working, busy, spec) == (
        "the slot overlaps another appointment or its buffer"
    )


def test_notice_horizon_and_max_per_day() -> None:
    days = [date(2026, 12, 7), date(2026, 12, 8)]
    working = working_intervals(rules(), {}, BERLIN, days)
    busy = [(datetime(2026, 12, 7, 9, tzinfo=BERLIN), datetime(2026, 12, 7, 10, tzinfo=BERLIN))]
    spec = SlotSpec(
        duration=H,
        step=H,
        zone=BERLIN,
        max_per_day=1,
        not_before=datetime(2026, 12, 8, 10, tzinfo=BERLIN),
        not_after=datetime(2026, 12, 8, 14, tzinfo=BERLIN),
    )
    starts = [s.astimezone(BERLIN).strftime("%d %H:%M") for s, _ in free_slots(working, busy, spec)]
    assert starts == ["08 10:00", "08 11:00", "08 12:00", "08 13:00", "08 14:00"]


def test_local_days_cover_the_window_in_the_zone() -> None:
    assert local_days(utc(2026, 12, 7, 23), utc(2026, 12, 8, 1), DENVER) == [date(2026, 12, 7)]
    assert local_days(utc(2026, 12, 7, 23), utc(2026, 12, 8, 1), BERLIN) == [date(2026, 12, 8)]


def test_recurring_occurrences_follow_dst_exdate_and_overrides() -> None:
    from caldav_bridge.scheduling.recurring import occurrences

    text = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:r1\r\nDTSTAMP:20261101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20261005T090000\r\nDTEND;TZID=Europe/Berlin:20261005T100000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=6\r\nEXDATE;TZID=Europe/Berlin:20261019T090000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:r1\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261026T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20261026T140000\r\nDTEND;TZID=Europe/Berlin:20261026T150000\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:r1\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Berlin:20261102T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20261102T090000\r\nDTEND;TZID=Europe/Berlin:20261102T100000\r\n"
        "STATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    got = sorted(occurrences(text, "UTC", utc(2026, 10, 1), utc(2026, 12, 1)))
    local = [s.astimezone(BERLIN).strftime("%m-%d %H:%M") for s, _ in got]
    assert local == ["10-05 09:00", "10-12 09:00", "10-26 14:00", "11-09 09:00"]
    assert got[0][0] == utc(2026, 10, 5, 7) and got[-1][0] == utc(2026, 11, 9, 8)  # CEST, then CET
    assert occurrences("not ical", "UTC", utc(2026, 10, 1), utc(2026, 12, 1)) == []
