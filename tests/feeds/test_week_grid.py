"""The calendar page's grid arithmetic (caldav_bridge.services.week_grid), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.services.week_grid import Hours, Segment, bands, free_time, hours_for, lay_out, position

DENVER = ZoneInfo("America/Denver")
DAY = datetime(2026, 12, 1, tzinfo=DENVER)


def at(hour: float, day: datetime = DAY) -> datetime:
    return day + timedelta(minutes=round(hour * 60))


def test_a_block_sits_at_its_time_and_is_as_long_as_it_lasts() -> None:
    hours = Hours(8, 18)
    block = position(at(9), at(10.5), DAY, hours)
    assert (block.top, block.height) == (10.0, 15.0)
    assert position(at(7), at(8.5), DAY, hours).top == 0.0  # clipped to the hours shown
    until_midnight = position(at(17), DAY + timedelta(days=1), DAY, Hours(8, 24))
    assert (until_midnight.top, until_midnight.height) == (56.25, 43.75)


def test_the_hours_shown_widen_to_every_appointment_and_working_hour() -> None:
    assert hours_for([], [DAY]) == Hours(8, 18)
    assert hours_for([(at(6.5), at(7)), (at(18), at(19.25))], [DAY]) == Hours(6, 20)
    assert hours_for([(at(23), at(26))], [DAY]) == Hours(8, 24)  # into the next day: to midnight
    utc = [(at(6).astimezone(UTC), at(17).astimezone(UTC))]  # working hours come in UTC: the day's wall clock counts
    assert hours_for(utc, [DAY]) == Hours(6, 18)
    later = DAY + timedelta(days=3)
    assert hours_for([(at(5, later), at(6, later))], [DAY]) == Hours(8, 18)  # not a shown day


def test_overlapping_blocks_stand_side_by_side_and_busy_ones_conflict() -> None:
    a = Segment("a", at(9), at(10), True)
    b = Segment("b", at(9), at(10), True)
    c = Segment("c", at(10), at(11), True)  # touches, does not overlap
    placed = {p.segment.item: p for p in lay_out([c, b, a], DAY, Hours(8, 18))}
    assert {placed["a"].column, placed["b"].column} == {0, 1} and placed["a"].columns == placed["b"].columns == 2
    assert placed["a"].conflict and placed["b"].conflict and not placed["c"].conflict
    assert (placed["c"].column, placed["c"].columns) == (0, 1)


def test_a_cancelled_block_takes_room_but_is_no_conflict() -> None:
    reserved = Segment("reserved", at(13.5), at(14.25), True)
    rescheduled = Segment("rescheduled", at(13), at(14.5), True)
    cancelled = Segment("cancelled", at(13), at(14), False)
    placed = {p.segment.item: p for p in lay_out([reserved, rescheduled, cancelled], DAY, Hours(8, 18))}
    assert placed["reserved"].conflict and placed["rescheduled"].conflict and not placed["cancelled"].conflict
    assert sorted(p.column for p in placed.values()) == [0, 1, 2]
    alone = lay_out([cancelled, Segment("x", at(13.5), at(14), False)], DAY, Hours(8, 18))
    assert not any(p.conflict for p in alone)


def test_free_time_is_working_time_without_appointments() -> None:
    working = [(at(9), at(17))]
    free = free_time(working, [(at(9), at(10)), (at(10.1), at(12)), (at(16.9), at(18))])
    assert free == [(at(12), at(16.9))]  # the 6 minutes between two appointments are not "free"
    blocks = bands(free, DAY, Hours(8, 18))
    assert [(b.top, b.height) for b in blocks] == [(40.0, 49.0)]


def test_on_a_team_page_only_one_fitters_appointments_conflict() -> None:
    ana = Segment("ana", at(9), at(10), True, owner="cal-ana")
    ben = Segment("ben", at(9), at(10), True, owner="cal-ben")
    ana_too = Segment("ana too", at(9.5), at(10.5), True, owner="cal-ana")
    placed = {p.segment.item: p for p in lay_out([ana, ben], DAY, Hours(8, 18))}
    assert not placed["ana"].conflict and not placed["ben"].conflict and placed["ana"].columns == 2
    placed = {p.segment.item: p for p in lay_out([ana, ben, ana_too], DAY, Hours(8, 18))}
    assert placed["ana"].conflict and placed["ana too"].conflict and not placed["ben"].conflict
