"""model.series: a series' occurrences in a window, its cost independent of the series' age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from caldav_bridge.model import series as series_module
from caldav_bridge.model.recurrence import Meter
from caldav_bridge.model.series import Override, Series, TooManyOccurrences, expand

DENVER = "America/Denver"


def _local(y: int, m: int, d: int, h: int) -> datetime:
    return datetime(y, m, d, h, tzinfo=ZoneInfo(DENVER)).astimezone(UTC)


def _spent(monkeypatch: pytest.MonkeyPatch) -> list[Meter]:
    """The meters the expansions below charge (one per rule)."""
    meters: list[Meter] = []
    real = series_module.metered

    def spy(rule, meter, dtstart=None):
        meters.append(meter)
        return real(rule, meter, dtstart)

    monkeypatch.setattr(series_module, "metered", spy)
    return meters


@pytest.mark.parametrize("since", [2026, 1976, 1926])
def test_a_weekly_series_costs_the_same_whatever_its_age(monkeypatch: pytest.MonkeyPatch, since: int) -> None:
    meters = _spent(monkeypatch)
    first = _local(since, 1, 6, 9)  # a Tuesday in 2026; in other years another weekday, the rule follows it
    weekday = first.astimezone(ZoneInfo(DENVER)).weekday()
    window = (_local(2026, 12, 1, 0), _local(2026, 12, 15, 0))
    found = expand(Series(rrule="FREQ=WEEKLY"), first, first + timedelta(hours=1), DENVER, *window)
    assert [o.start.astimezone(ZoneInfo(DENVER)).weekday() for o in found] == [weekday, weekday]
    assert all(o.start.astimezone(ZoneInfo(DENVER)).hour == 9 for o in found)  # 09:00 across DST
    assert len(meters) == 1 and meters[0].spent <= 4  # a year or two scanned, never the decades since DTSTART


def test_exdates_overrides_and_cancelled_occurrences() -> None:
    first = _local(2026, 12, 1, 9)
    day = timedelta(days=1)
    series = Series(
        rrule="FREQ=DAILY;COUNT=5",
        exdates=(first + 2 * day,),
        overrides=(
            Override(first + day, first + day + timedelta(hours=5), first + day + timedelta(hours=6)),
            Override(first + 3 * day, first + 3 * day, first + 3 * day + timedelta(hours=1), cancelled=True),
        ),
    )
    found = expand(series, first, first + timedelta(hours=1), DENVER, first - day, first + 10 * day)
    assert [(o.recurrence_id, o.start) for o in found] == [
        (first, first),
        (first + day, first + day + timedelta(hours=5)),  # moved, keeps its recurrence id
        (first + 4 * day, first + 4 * day),
    ]


def test_rdates_without_a_rule_and_a_utc_series() -> None:
    first = datetime(2026, 3, 2, 16, tzinfo=UTC)
    extra = datetime(2026, 3, 20, 16, tzinfo=UTC)
    found = expand(
        Series(rdates=(extra,)), first, first + timedelta(hours=1), DENVER, first, first + timedelta(days=30)
    )
    assert [o.start for o in found] == [first, extra]
    # a rule in UTC stays at 16:00 UTC across the DST change of the calendar's zone (2026-03-08)
    weekly = expand(
        Series(rrule="FREQ=WEEKLY;COUNT=3", timezone="UTC"), first, first + timedelta(hours=1), DENVER, first, extra
    )
    assert [o.start.hour for o in weekly] == [16, 16, 16]


def test_too_many_occurrences_in_a_window_is_an_error_not_a_long_scan() -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(TooManyOccurrences):
        expand(
            Series(rrule="FREQ=MINUTELY"), first, first + timedelta(minutes=1), "UTC", first, first + timedelta(days=5)
        )


def test_the_json_round_trip() -> None:
    first = datetime(2026, 12, 1, 16, tzinfo=UTC)
    series = Series(
        rrule="FREQ=DAILY;COUNT=3",
        exdates=(first,),
        rdates=(first + timedelta(days=9),),
        overrides=(Override(first, first, first + timedelta(hours=1), cancelled=True),),
        timezone=DENVER,
    )
    assert Series.from_json(series.to_json()) == series
    assert Series.of_meta({"recurrence": series.to_json()}) == series
    assert Series.of_meta({"recurrence": {"exdates": ["not a time"]}}) is None
    assert Series.of_meta({}) is None
