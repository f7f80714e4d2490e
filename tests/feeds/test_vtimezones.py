"""VTIMEZONEs in the Outlook/Exchange style (one STANDARD and one DAYLIGHT from 1970 with a yearly RRULE),
generated from IANA data, must be read by every parser as the IANA zone itself.

Feeds whose windows cross New Year and both DST transitions, in ten zones (DST both hemispheres, none,
half-hour, DST abolished), with events right before, at and after every transition: icalendar, vobject,
ical, x-wr-timezone and ical.js must read the canonical UTC instants. Each feed is also read with its
TZID renamed to a non-IANA name, so that the parsers that know IANA names (icalendar, ical,
x-wr-timezone) must use the VTIMEZONE's own definition too (vobject and ical.js always do). Zones whose
rules change inside the window (DST abolished, Ramadan breaks) get explicit observances, read alike as well.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from dateutil import tz as dateutil_tz  # type: ignore[import-untyped]

from caldav_bridge.converters.ical import EventOptions, vtimezone, vtimezones
from caldav_bridge.model.appointment import Appointment
from tests.feeds.samples import expected_instants, feed_of
from tests.feeds.validators import (
    Instants,
    ical_instants,
    icalendar_and_x_wr_instants,
    icaljs_instants,
    validate_all,
)

REGULAR = {
    # zone: ((DAYLIGHT DTSTART, RRULE), (STANDARD DTSTART, RRULE)), or None for one STANDARD without RRULE
    "America/Denver": (("19700308T020000", "2SU", 3), ("19701101T020000", "1SU", 11)),
    "America/New_York": (("19700308T020000", "2SU", 3), ("19701101T020000", "1SU", 11)),
    "America/Phoenix": None,
    "America/St_Johns": (("19700308T020000", "2SU", 3), ("19701101T020000", "1SU", 11)),
    "America/Sao_Paulo": None,
    "Europe/Berlin": (("19700329T020000", "-1SU", 3), ("19701025T030000", "-1SU", 10)),
    "Europe/London": (("19700329T010000", "-1SU", 3), ("19701025T020000", "-1SU", 10)),
    "Australia/Sydney": (("19701004T020000", "1SU", 10), ("19700405T030000", "1SU", 4)),
    "Asia/Kolkata": None,
    "Pacific/Auckland": (("19700927T020000", "-1SU", 9), ("19700405T030000", "1SU", 4)),
}
#: Windows (first day, last day exclusive, in UTC): across New Year; two whole years; one year.
WINDOWS = (
    (date(2026, 10, 1), date(2027, 6, 1)),
    (date(2025, 1, 1), date(2027, 1, 1)),
    (date(2027, 1, 1), date(2028, 1, 1)),
)
#: Zones and windows in which the rules change: no single yearly rule fits.
IRREGULAR = (
    ("America/Sao_Paulo", date(2018, 6, 1), date(2020, 1, 1)),  # the last DST, then none
    ("America/Mexico_City", date(2022, 3, 1), date(2023, 6, 1)),  # DST abolished in October 2022
    ("Africa/Casablanca", date(2026, 1, 1), date(2028, 1, 1)),  # +00 during Ramadan, which moves
    ("America/Nuuk", date(2023, 1, 1), date(2025, 1, 1)),  # -03 to -02 as standard in 2023
)
_NS = uuid.UUID("5f0c1d2e-7a43-4c55-9a0e-2b6f0e7c9d31")
_OFFSETS = (-30 * 60, -120, -61, -60, -59, -31, -30, -1, 0, 1, 29, 30, 59, 60, 61, 120, 30 * 60)


def _transitions(zone: ZoneInfo, first: datetime, last: datetime) -> list[datetime]:
    out = []
    at = first
    while at < last:
        if (at + timedelta(hours=1)).astimezone(zone).utcoffset() != at.astimezone(zone).utcoffset():
            low, high = at, at + timedelta(hours=1)
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            out.append(high.replace(second=0, microsecond=0))
        at += timedelta(hours=1)
    return out


def _appointment(key: str, start: datetime, minutes: int = 45) -> Appointment:
    return Appointment.model_validate(
        {
            "calendar": {"id": "c"},
            "created_at": datetime(2025, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
            "date_start": start,
            "date_end": start + timedelta(minutes=minutes),
            "id": str(uuid.uuid5(_NS, key)),
            "name": key,
            "meta": {"type": "FOLLOW_UP"},
            "status": "BOOKED",
        }
    )


def _window_appointments(zone_name: str, first: date, last: date) -> list[Appointment]:
    """Every transition's surroundings (minutes before and after, and a day either side), local 09:00 and 23:30
    every 13 days (every weekday and month in turn; weekly, they were two thirds of the events and of the parsers'
    time), and the hours around New Year."""
    zone = ZoneInfo(zone_name)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC)
    items = []
    for when in _transitions(zone, start, end):
        for minutes in _OFFSETS:
            at = when + timedelta(minutes=minutes)
            items.append(_appointment(f"{zone_name}/{at.isoformat()}", at, 30))
    day = first + timedelta(days=2)
    while day < last - timedelta(days=2):
        for hour, minute in ((9, 0), (23, 30)):
            local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            items.append(_appointment(f"{zone_name}/day/{local.isoformat()}", local.astimezone(UTC)))
        day += timedelta(days=13)
    for year in range(first.year + 1, last.year + 1):
        new_year = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
        if start < new_year - timedelta(hours=3) and new_year + timedelta(hours=3) < end:
            for minutes in (-90, -30, 0, 30, 90):
                at = new_year + timedelta(minutes=minutes)
                items.append(_appointment(f"{zone_name}/new-year/{at.isoformat()}", at))
    return items


def _renamed(data: bytes, zone: str, first: date) -> bytes:
    """The feed with its TZID renamed to a name no parser knows: only the VTIMEZONE defines it. (Unique
    per zone and window: icalendar keeps the zones it has built by TZID for the whole process.)"""
    custom = f"Custom {zone.replace('/', ' ')} {first}".encode()
    return data.replace(f"TZID={zone}:".encode(), b"TZID=" + custom + b":").replace(
        f"TZID:{zone}\r\n".encode(), b"TZID:" + custom + b"\r\n"
    )


def _forget(zone: str) -> None:
    """vobject keeps the first VTIMEZONE it reads for a TZID for the whole process: drop it, so that this
    feed's own (a zone whose rules change gets a VTIMEZONE that depends on the window) is used."""
    getattr(vobject.icalendar, "__tzidMap").pop(zone, None)


def _check_feeds(cases: list[tuple[str, date, date]]) -> None:
    feeds: dict[str, bytes] = {}
    expected: dict[str, Instants] = {}
    for zone, first, last in cases:
        items = _window_appointments(zone, first, last)
        assert len(items) > 40
        want = expected_instants(items, zone)
        data = feed_of(items, EventOptions(timezone=zone))
        assert data.count(b"BEGIN:VTIMEZONE") == 1
        _forget(zone)
        validate_all(data, expect=want)
        # vobject and ical.js know no IANA names: they read every TZID with the feed's own VTIMEZONE (vobject with
        # the one it registered for the TZID, which _forget left to this feed's: checked here), so they read the
        # renamed feed as they read this one, and only the parsers that know IANA names read it.
        registered = vobject.icalendar.getTzid(zone, False)
        assert getattr(registered, "_tzid", None) == zone, f"vobject read {zone} from {registered!r}"
        renamed = _renamed(data, zone, first)
        by_icalendar, by_x_wr = icalendar_and_x_wr_instants(renamed)
        read = {"icalendar": by_icalendar, "x-wr-timezone": by_x_wr}
        if b"RRULE" in data or b"RDATE" in data:
            # ical (1.x) ignores an observance with neither RRULE nor RDATE (one STANDARD, no DST) for a
            # TZID it does not know; feeds use IANA TZIDs, which it resolves itself (checked above).
            read["ical"] = ical_instants(renamed)
        for reader, instants in read.items():
            assert instants == want, f"{reader} reads other instants in {zone} renamed"
        feeds[f"{zone} {first}"] = data
        expected[f"{zone} {first}"] = want
    got = icaljs_instants(feeds)
    for name in feeds:
        assert got[name] == expected[name], f"ical.js reads other instants in {name}"


@pytest.mark.parametrize("window", WINDOWS, ids=lambda w: f"{w[0]}..{w[1]}")
def test_feeds_across_new_year_and_transitions_read_alike_everywhere(window: tuple[date, date]) -> None:
    _check_feeds([(zone, *window) for zone in REGULAR])


def test_zones_whose_rules_change_in_the_window_read_alike_everywhere() -> None:
    for zone, first, last in IRREGULAR:
        (tz,) = vtimezones([zone], first, last)
        assert "RRULE" not in tz.to_ical().decode(), zone
    _check_feeds(list(IRREGULAR))


@pytest.mark.parametrize("zone", REGULAR)
def test_the_outlook_style(zone: str) -> None:
    """One STANDARD and one DAYLIGHT from 1970 with yearly rules, DTSTART the wall time before the
    transition; one STANDARD alone without DST; no COMMENT; the same for every window."""
    shapes = set()
    for first, last in WINDOWS:
        (tz,) = vtimezones([zone, "UTC"], first, last)
        shapes.add(tz.to_ical())
    assert len(shapes) == 1, "a regular zone's VTIMEZONE does not depend on the window"
    tz = vtimezone(zone, *WINDOWS[0])
    assert str(tz["TZID"]) == zone and "COMMENT" not in tz
    text = tz.to_ical().decode()
    lines = text.split("\r\n")
    rule = REGULAR[zone]
    if rule is None:
        assert [c.name for c in tz.subcomponents] == ["STANDARD"]
        (only,) = tz.subcomponents
        assert "RRULE" not in only and "RDATE" not in only
        assert only.decoded("TZOFFSETFROM") == only.decoded("TZOFFSETTO")
        assert "DTSTART:19700101T000000" in lines
        return
    assert sorted(c.name for c in tz.subcomponents) == ["DAYLIGHT", "STANDARD"]
    for name, (start, byday, month) in zip(("DAYLIGHT", "STANDARD"), rule, strict=True):
        (component,) = tz.walk(name)
        block = component.to_ical().decode().split("\r\n")
        assert f"DTSTART:{start}" in block, (name, block)
        assert f"RRULE:FREQ=YEARLY;BYDAY={byday};BYMONTH={month}" in block, (name, block)
        assert component["TZNAME"] and component.decoded("TZOFFSETFROM") != component.decoded("TZOFFSETTO")
    (daylight,) = tz.walk("DAYLIGHT")
    (standard,) = tz.walk("STANDARD")
    assert daylight.decoded("TZOFFSETTO") > standard.decoded("TZOFFSETTO")
    assert daylight.decoded("TZOFFSETFROM") == standard.decoded("TZOFFSETTO")


@pytest.mark.parametrize("zone", [*REGULAR, *(z for z, _, _ in IRREGULAR)])
def test_local_times_get_zoneinfos_offsets(zone: str) -> None:
    """The VTIMEZONE alone, as icalendar and dateutil (vobject's engine) read it, gives every local time
    zoneinfo's offset: every 3 hours and minutes around each transition (a time that occurs twice is
    written in UTC by the feeds, so it is skipped)."""
    iana = ZoneInfo(zone)
    windows = [(first, last) for z, first, last in IRREGULAR if z == zone] or list(WINDOWS)
    # The instants of every window whose VTIMEZONE is the same text are read once from that text (a regular zone's
    # is the same for every window, test_the_outlook_style; WINDOWS overlap, and each instant was read again).
    definitions: dict[bytes, tuple[date, set[datetime]]] = {}
    for first, last in windows:
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC)
        instants = [start + timedelta(hours=3 * i) for i in range(int((end - start) / timedelta(hours=3)))]
        for when in _transitions(iana, start, end):
            instants += [when + timedelta(minutes=m) for m in _OFFSETS]
        assert instants
        definitions.setdefault(vtimezone(zone, first, last).to_ical(), (first, set()))[1].update(instants)
    for text, (first, moments) in definitions.items():
        custom = f"Offsets {zone} {first}"  # icalendar keeps the zones it built by TZID
        data = text.replace(f"TZID:{zone}".encode(), f"TZID:{custom}".encode())
        readers = {
            "icalendar": icalendar.Timezone.from_ical(data).to_tz(lookup_tzid=False),  # type: ignore[attr-defined]
            "dateutil": dateutil_tz.tzical(io.StringIO(data.decode())).get(),
        }
        for at in sorted(moments):
            local = at.astimezone(iana)
            if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
                continue
            wall = local.replace(tzinfo=None)
            for name, reader in readers.items():
                assert wall.replace(tzinfo=reader).utcoffset() == local.utcoffset(), (zone, name, at, wall)
