"""The IANA zone of a client's TZID (:func:`caldav_bridge.converters.ical_zones.iana_zone`): Windows names and
names of a client's own, told apart by what their VTIMEZONE says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caldav_bridge.converters.ical_zones import iana_zone
from tests.caldav.test_windows_zone_series import OUTLOOK_EASTERN

AROUND = datetime(2027, 3, 1, 14, tzinfo=UTC)


def _renamed(tzid: str, *, march: str = "2SU", november: str = "1SU;BYMONTH=11") -> str:
    return (
        OUTLOOK_EASTERN.replace("TZID:Eastern Standard Time", f"TZID:{tzid}")
        .replace("BYDAY=2SU;BYMONTH=3", f"BYDAY={march};BYMONTH=3")
        .replace("BYDAY=1SU;BYMONTH=11", f"BYDAY={november}")
    )


@pytest.mark.parametrize(
    ("tzid", "vtimezone", "expected"),
    [
        ("America/Denver", None, "America/Denver"),  # IANA as it is, with or without a VTIMEZONE
        ("Europe/Berlin", OUTLOOK_EASTERN, "Europe/Berlin"),
        ("UTC", None, "UTC"),
        ("Eastern Standard Time", None, "America/New_York"),  # Windows, no VTIMEZONE: CLDR's mapping
        ("Eastern Standard Time", OUTLOOK_EASTERN, "America/New_York"),
        ("Customized Time Zone", _renamed("Customized Time Zone"), "America/New_York"),  # by its offsets
        # a VTIMEZONE that contradicts its Windows name: its rules win (Europe's dates, New York's offsets)
        ("W. Europe Standard Time", _renamed("W. Europe Standard Time"), "America/New_York"),
        ("Odd", _renamed("Odd", march="-1SU", november="-1SU;BYMONTH=10"), None),  # no IANA zone keeps these
        ("Nowhere", None, None),
        ("", None, None),
    ],
)
def test_the_zone_of_a_tzid(tzid: str, vtimezone: str | None, expected: str | None) -> None:
    assert iana_zone(tzid, AROUND, vtimezone) == expected


def test_havana_is_not_new_york() -> None:
    """Cuba changes on New York's days but at midnight: the hours of the day of the change tell them apart."""
    cuba = _renamed("Cuba-like").replace("DTSTART:16010101T020000", "DTSTART:16010101T000000")
    cuba = cuba.replace("BEGIN:STANDARD\r\nDTSTART:16010101T000000", "BEGIN:STANDARD\r\nDTSTART:16010101T010000")
    assert iana_zone("Cuba-like", AROUND, cuba) == "America/Havana"
