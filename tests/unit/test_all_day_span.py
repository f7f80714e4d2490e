"""An all-day occurrence's dates (``model.series.day_span``): an occurrence whose end is its start plus the
series' duration stays as many days long across a DST change (a 23- or 25-hour day), so the CalDAV override
and the Salesforce series line say the dates the phone shows (counted from the end's local time, 01:00 after
a 23-hour day would make it two days)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.model.series import day_span

DENVER = ZoneInfo("America/Denver")


def _midnight(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), DENVER).astimezone(UTC)


def test_a_day_is_one_day_across_dst_changes() -> None:
    for day in (date(2027, 3, 14), date(2027, 11, 7), date(2027, 6, 1)):  # spring forward, fall back, neither
        start = _midnight(day)
        assert day_span(start, start + timedelta(days=1), DENVER) == (day, day + timedelta(days=1))
        assert day_span(start, _midnight(day + timedelta(days=3)), DENVER) == (day, day + timedelta(days=3))


def test_at_least_one_day() -> None:
    start = _midnight(date(2027, 1, 5))
    assert day_span(start, start, DENVER) == (date(2027, 1, 5), date(2027, 1, 6))
