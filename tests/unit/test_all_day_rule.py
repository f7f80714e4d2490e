"""model.all_day: an all-day appointment's times are midnights of its calendar's zone (either side of DST); a
request that says all_day with other times is refused naming ``meta.all_day``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from caldav_bridge.errors import FieldValueError
from caldav_bridge.model.all_day import check_all_day, on_midnights

DENVER = ZoneInfo("America/Denver")


def test_midnights_of_the_calendars_zone_across_dst() -> None:
    start = datetime(2027, 3, 13, tzinfo=DENVER)  # MST; the day after DST begins
    end = datetime(2027, 3, 15, tzinfo=DENVER)  # MDT
    assert on_midnights(start, end, "America/Denver")
    assert not on_midnights(start, end, "UTC")
    utc = datetime(2027, 3, 13, 6, 30, tzinfo=UTC), datetime(2027, 3, 13, 7, 30, tzinfo=UTC)
    assert not on_midnights(*utc, "America/Denver")
    with pytest.raises(FieldValueError) as refused:
        check_all_day(*utc, "America/Denver")
    assert refused.value.field == "meta.all_day"
