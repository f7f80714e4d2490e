"""A series moved as a whole: its first occurrence (DTSTART) given new times by a change of the appointment
(REST ``PATCH`` of ``date_start``/``date_end``, ``POST …/reschedule``, a booking flow's reschedule).

Its exceptions move with it, as Apple Calendar and Google move them when a whole series is dragged: every
EXDATE and RDATE, every override's RECURRENCE-ID and a rule's UNTIL are shifted by the same offset, so the same
occurrences stay removed, added, moved and counted. An override keeps its own times (an occurrence moved
elsewhere stays where it was moved); only which occurrence it is follows.

The offset is the change of DTSTART's wall-clock time in the series' zone (``Series.timezone``, else the
calendar's), as its rule is expanded: a weekly 10:00 Denver series moved an hour later is at 11:00 local on
both sides of a DST change, and so are its exceptions. A date-valued UNTIL moves by the days DTSTART's date
moved.

A CalDAV client's new version of its series is not moved here: it writes the exceptions it means.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from caldav_bridge.model.series import Override, Series

__all__ = ["series_moved"]

_UNTIL = re.compile(r"(?i)(?<![A-Z])UNTIL=([0-9]{8})(T[0-9]{6}(Z?))?")


def series_moved(series: Series, old_start: datetime, new_start: datetime, zone: str) -> Series:
    """``series`` with its exceptions moved as its first occurrence moved from ``old_start`` to ``new_start``
    (``zone``: the calendar's, for a series that names none). The same series when the wall-clock time of its
    first occurrence did not change."""
    tz = ZoneInfo(series.timezone or zone)
    shift = _wall(new_start, tz) - _wall(old_start, tz)
    if not shift:
        return series
    days = _wall(new_start, tz).date() - _wall(old_start, tz).date()

    def moved(instant: datetime) -> datetime:
        return (_wall(instant, tz) + shift).replace(tzinfo=tz).astimezone(UTC)

    return Series(
        rrule=_moved_until(series.rrule, moved, shift, days) if series.rrule else None,
        exdates=tuple(sorted(moved(d) for d in series.exdates)),
        rdates=tuple(sorted(moved(d) for d in series.rdates)),
        overrides=tuple(
            sorted((replace(o, recurrence_id=moved(o.recurrence_id)) for o in series.overrides), key=_by_rid)
        ),
        timezone=series.timezone,
    )


def _wall(instant: datetime, tz: tzinfo) -> datetime:
    """``instant``'s wall-clock time in ``tz``, naive."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _by_rid(override: Override) -> datetime:
    return override.recurrence_id


def _moved_until(rule: str, moved: Callable[[datetime], datetime], shift: timedelta, days: timedelta) -> str:
    """``rule`` with its UNTIL moved: a UTC instant as the exceptions move (``moved``), a floating time by
    ``shift``, a date by ``days``. A rule without UNTIL is returned as it is."""

    def one(match: re.Match[str]) -> str:
        day, clock, utc = match.group(1), match.group(2), match.group(3)
        if not clock:
            return f"UNTIL={date.fromisoformat(_iso_day(day)) + days:%Y%m%d}"
        local = datetime.strptime(day + clock[:7], "%Y%m%dT%H%M%S")
        if utc:
            shifted = moved(local.replace(tzinfo=UTC))
            return f"UNTIL={shifted:%Y%m%dT%H%M%S}Z"
        return f"UNTIL={local + shift:%Y%m%dT%H%M%S}"

    return _UNTIL.sub(one, rule)


def _iso_day(compact: str) -> str:
    return f"{compact[:4]}-{compact[4:6]}-{compact[6:]}"
