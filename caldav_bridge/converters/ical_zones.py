"""The IANA zone a client's TZID stands for, so that a series is expanded (and written in feeds) in its own zone.

Outlook and Exchange write Windows zone names (``TZID:Eastern Standard Time``) with a VTIMEZONE of their own;
other clients write names of their own (``Customized Time Zone``). The VTIMEZONE is what the event means
(RFC 5545 §3.2.19). :func:`iana_zone` gives

1. an IANA name as it is;
2. without a VTIMEZONE, a Windows name's IANA zone (CLDR's mapping, as icalendar ships it);
3. with one, the Windows name's IANA zone when it gives the same UTC offsets as the VTIMEZONE over the two
   calendar years from the event's start, else the first IANA zone of a Windows zone (in Windows' order) that
   does: compared every week, and in a week the zone changes its offset every day and every hour of the day
   of the change;
4. None when nothing matches (the caller falls back on the calendar's zone).

:class:`FileZones` reads every date-time of one file through :func:`iana_zone` (its own VTIMEZONEs), for the
CalDAV parse (:mod:`.ical_parse`) and the ``ical`` import (:mod:`.ical_items`) alike, so an Outlook file lands at
the same instants either way and never at those of a VTIMEZONE icalendar kept from another file with the same
TZID (icalendar caches the first VTIMEZONE of each unknown TZID for the whole process).

Bounded: about 140 zones against about 105 instants each (most fail at the first), plus 31 per transition of
those that agree; once per distinct VTIMEZONE text and year (cached).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

__all__ = ["FileZones", "iana_zone"]

_WEEKS = 105  # two years
_WEEK = timedelta(weeks=1)
_DAY = timedelta(days=1)


def iana_zone(tzid: str, around: datetime, vtimezone: str | None = None) -> str | None:
    """The IANA zone of ``tzid``, or None (see the module's note). ``around``: the event's start; ``vtimezone``:
    the text of the event's own VTIMEZONE for ``tzid``, if it has one."""
    name = tzid.strip()
    if not name:
        return None
    if _known(name):
        return name
    if vtimezone is None:
        return WINDOWS_TO_OLSON.get(name)
    return _matching(name, vtimezone, around.astimezone(UTC).year)


class FileZones:
    """The zones of one parsed iCalendar file's TZIDs (:func:`iana_zone` with the file's own VTIMEZONE), each
    resolved once; :meth:`local` reads a decoded DATE or DATE-TIME value in its zone."""

    def __init__(self, calendar: Any) -> None:
        self._vtimezones = {str(c.get("TZID") or ""): c for c in calendar.walk("VTIMEZONE")}
        self._found: dict[str, str | None] = {}
        self._read: dict[str, tzinfo | None] = {}

    def zone(self, tzid: str, around: datetime) -> str | None:
        """The IANA zone ``tzid`` stands for in this file (None: none; the caller keeps what it has)."""
        if tzid not in self._found:
            own = self._vtimezones.get(tzid)
            try:
                self._found[tzid] = iana_zone(tzid, around, own.to_ical().decode() if own is not None else None)
            except (ValueError, TypeError):
                self._found[tzid] = None
        return self._found[tzid]

    def local(self, value: date | datetime, tzid: object, fallback: tzinfo) -> datetime:
        """``value`` (a decoded property) as an aware date-time: the wall time of a TZID in the zone this file
        means by it; a floating time or a date in ``fallback``; anything else (UTC) as it is."""
        if not isinstance(value, datetime):
            return datetime.combine(value, time(0), tzinfo=fallback)
        if tzid:
            zone = self.zone(str(tzid), value)
            own = ZoneInfo(zone) if zone is not None else self._own(str(tzid))
            if own is not None:
                return value.replace(tzinfo=own)
        return value if value.tzinfo is not None else value.replace(tzinfo=fallback)

    def _own(self, tzid: str) -> tzinfo | None:
        """The zone of the file's own VTIMEZONE for ``tzid`` that no IANA zone matches (None: it has none)."""
        if tzid not in self._read:
            component = self._vtimezones.get(tzid)
            try:
                read = component.to_tz(lookup_tzid=False) if component is not None else None
            except Exception:  # a client's VTIMEZONE icalendar cannot read (as in _matching)
                read = None
            self._read[tzid] = read if isinstance(read, tzinfo) else None
        return self._read[tzid]

    def read(self, component: Any, name: str, fallback: tzinfo) -> datetime:
        """The property ``name`` of ``component`` (one value) through :meth:`local`."""
        return self.local(component.decoded(name), component[name].params.get("TZID"), fallback)


def _known(name: str) -> bool:
    if not name or name.startswith(("posix/", "right/")):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=256)
def _matching(name: str, vtimezone: str, year: int) -> str | None:
    try:  # this VTIMEZONE's own zone, never one icalendar keeps from another calendar with the same TZID
        component = icalendar.Timezone.from_ical(vtimezone)
        read = component.to_tz(lookup_tzid=False) if isinstance(component, icalendar.Timezone) else None
    except Exception:  # a client's VTIMEZONE icalendar cannot read: no zone of its own
        read = None
    if not isinstance(read, tzinfo):
        return WINDOWS_TO_OLSON.get(name)
    theirs = _Memo(read)
    start = datetime(year, 1, 1, 12, tzinfo=UTC)
    weekly = {at: theirs.offset(at) for at in (start + week * _WEEK for week in range(_WEEKS))}
    preferred = WINDOWS_TO_OLSON.get(name)
    for zone in (*((preferred,) if preferred else ()), *_candidates()):
        if _agrees(ZoneInfo(zone), theirs, weekly):
            return zone
    return None


class _Memo:
    """A VTIMEZONE's offsets, each instant computed once (its zone recomputes its rules at every call)."""

    def __init__(self, zone: tzinfo) -> None:
        self.zone = zone
        self.seen: dict[datetime, timedelta | None] = {}

    def offset(self, at: datetime) -> timedelta | None:
        if at not in self.seen:
            self.seen[at] = at.astimezone(self.zone).utcoffset()
        return self.seen[at]


def _agrees(zone: ZoneInfo, theirs: _Memo, weekly: dict[datetime, timedelta | None]) -> bool:
    """Whether ``zone`` gives ``weekly`` (the VTIMEZONE's offsets, a week apart) and, in each week ``zone``
    changes its offset, the VTIMEZONE's offset at noon UTC of every day and at every hour of the day of the
    change (a transition days or hours apart is told apart)."""
    previous: tuple[datetime, timedelta | None] | None = None
    for at, offset in weekly.items():
        mine = at.astimezone(zone).utcoffset()
        if mine != offset:
            return False
        if previous is not None and mine != previous[1] and not _same_week(zone, theirs, previous[0]):
            return False
        previous = (at, mine)
    return True


def _same_week(zone: ZoneInfo, theirs: _Memo, start: datetime) -> bool:
    before = start.astimezone(zone).utcoffset()
    for day in range(1, 8):
        noon = start + day * _DAY
        if noon.astimezone(zone).utcoffset() != theirs.offset(noon):
            return False
        if noon.astimezone(zone).utcoffset() != before:  # the change lies in the day up to this noon
            hours = (noon - timedelta(hours=h) for h in range(1, 24))
            return all(at.astimezone(zone).utcoffset() == theirs.offset(at) for at in hours)
    return True


@lru_cache(maxsize=1)
def _candidates() -> tuple[str, ...]:
    """The IANA zones of the Windows zones, in Windows' order, once each."""
    return tuple(z for z in dict.fromkeys(WINDOWS_TO_OLSON.values()) if _known(z))
