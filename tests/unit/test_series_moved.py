"""model.series_move: a series moved as a whole (its first occurrence given new times over REST) takes its
exceptions along: EXDATEs, RDATEs, its overrides' RECURRENCE-IDs and an UNTIL, shifted in the series' own
wall-clock time, so the same occurrences stay removed, moved and counted, across DST changes too.

Failed before: the module did not exist; a REST reschedule of a series moved DTSTART alone, so the removed
occurrence came back and the moved one was listed twice (at its new place and at the shifted original).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.model.series import Override, Series, expand
from caldav_bridge.model.series_move import series_moved

DENVER = "America/Denver"
TZ = ZoneInfo(DENVER)


def _at(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=TZ).astimezone(UTC)


def _starts(series: Series, first: datetime, zone: str = DENVER) -> list[datetime]:
    found = expand(
        series, first, first + timedelta(hours=1), zone, first - timedelta(days=1), first + timedelta(days=90)
    )
    return [o.start for o in found]


def _weekly_with_exceptions(first_day: int, month: int, until: str | None = None) -> Series:
    """Weekly x 4 at 10:00 Denver from ``month``/``first_day`` 2027: the 2nd removed, the 3rd moved a day later
    to 14:00."""
    second, third = _at(2027, month, first_day + 7, 10), _at(2027, month, first_day + 14, 10)
    moved = third.astimezone(TZ) + timedelta(days=1)
    return Series(
        rrule=f"FREQ=WEEKLY;UNTIL={until}" if until else "FREQ=WEEKLY;COUNT=4",
        exdates=(second,),
        overrides=(Override(third, moved.replace(hour=14).astimezone(UTC), moved.replace(hour=15).astimezone(UTC)),),
        timezone=DENVER,
    )


def test_an_hour_later_keeps_the_removed_and_the_moved_occurrence() -> None:
    series = _weekly_with_exceptions(1, 2)
    old, new = _at(2027, 2, 1, 10), _at(2027, 2, 1, 11)
    moved = series_moved(series, old, new, DENVER)
    assert moved.exdates == (_at(2027, 2, 8, 11),)
    (override,) = moved.overrides
    assert override.recurrence_id == _at(2027, 2, 15, 11)
    assert (override.start, override.end) == (_at(2027, 2, 16, 14), _at(2027, 2, 16, 15))  # stays where it was put
    assert _starts(moved, new) == [_at(2027, 2, 1, 11), _at(2027, 2, 16, 14), _at(2027, 2, 22, 11)]


def test_the_shift_is_in_the_series_wall_clock_across_dst() -> None:
    """Weekly from Monday 8 March 2027 (MST); DST starts on the 14th. Moved a week and an hour later (to 15
    March 11:00 MDT: 7 days in UTC), the exceptions after DST follow the rule's 11:00 local, not 10:00."""
    series = _weekly_with_exceptions(8, 3)
    old, new = _at(2027, 3, 8, 10), _at(2027, 3, 15, 11)
    moved = series_moved(series, old, new, DENVER)
    assert moved.exdates == (_at(2027, 3, 22, 11),)
    assert moved.overrides[0].recurrence_id == _at(2027, 3, 29, 11)
    assert _starts(moved, new) == [_at(2027, 3, 15, 11), _at(2027, 3, 23, 14), _at(2027, 4, 5, 11)]


def test_an_until_follows_so_the_last_occurrence_stays() -> None:
    series = _weekly_with_exceptions(1, 2, until="20270222T170000Z")  # exactly the 4th occurrence (10:00 MST)
    moved = series_moved(series, _at(2027, 2, 1, 10), _at(2027, 2, 1, 11), DENVER)
    assert moved.rrule == "FREQ=WEEKLY;UNTIL=20270222T180000Z"
    assert _starts(moved, _at(2027, 2, 1, 11))[-1] == _at(2027, 2, 22, 11)
    dated = series_moved(
        _weekly_with_exceptions(1, 2, until="20270222"), _at(2027, 2, 1, 10), _at(2027, 2, 2, 9), DENVER
    )
    assert dated.rrule == "FREQ=WEEKLY;UNTIL=20270223"  # a date moves by the days the start moved


def test_rdates_move_too_and_a_series_without_a_zone_moves_in_the_calendars() -> None:
    first = _at(2027, 2, 1, 10)
    series = Series(rdates=(_at(2027, 2, 3, 10),), exdates=(_at(2027, 2, 3, 10),))
    moved = series_moved(series, first, first + timedelta(minutes=30), DENVER)
    assert moved.rdates == (_at(2027, 2, 3, 10, 30),) and moved.exdates == (_at(2027, 2, 3, 10, 30),)


def test_an_all_day_series_moved_a_day_keeps_its_exdates_on_midnights() -> None:
    first = _at(2027, 3, 8, 0)  # midnight MST; the EXDATE two weeks on is a midnight MDT
    series = Series(rrule="FREQ=WEEKLY;COUNT=4", exdates=(_at(2027, 3, 22, 0),))
    moved = series_moved(series, first, _at(2027, 3, 9, 0), DENVER)
    assert moved.exdates == (_at(2027, 3, 23, 0),)


def test_unmoved_is_the_same_series() -> None:
    series = _weekly_with_exceptions(1, 2)
    assert series_moved(series, _at(2027, 2, 1, 10), _at(2027, 2, 1, 10), DENVER) is series
