"""``format_timestamp`` (isoformat-based, on every API read) writes what the strftime form wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from caldav_bridge.model.timestamps import format_timestamp, to_utc_ms

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7)), timezone(timedelta(0))]
)


def _reference(value: datetime) -> str:
    value = to_utc_ms(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


@settings(max_examples=500, deadline=None)
@given(st.datetimes(min_value=datetime(1001, 1, 1), max_value=datetime(9998, 12, 31)), zones)
def test_format_timestamp_equals_the_strftime_form(naive: datetime, zone: timezone) -> None:
    value = naive.replace(tzinfo=zone)
    assert format_timestamp(value) == _reference(value)
    assert format_timestamp(value).endswith("Z") and len(format_timestamp(value)) == 24
