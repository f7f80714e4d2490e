"""Whether an appointment is all-day (``meta.all_day``) when a change gives it times.

An all-day appointment lies on the dates its instants touch in the calendar's zone
(:func:`caldav_bridge.converters.ical.all_day_dates`): its start and end are midnights there. The rule is the one
an occurrence of an all-day series follows (``Override.timed``, :mod:`caldav_bridge.model.occurrence_change`):

- times that are midnights of the calendar's zone keep an all-day appointment all-day (other dates);
- times that are not make it timed (``meta.all_day`` false), unless the change itself says ``meta.all_day``;
- a change that says ``meta.all_day: true`` with times that are not midnights is refused (naming
  ``meta.all_day``): no channel could show it as both.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from caldav_bridge.errors import FieldValueError

__all__ = ["ALL_DAY_META", "check_all_day", "on_midnights"]

#: ``meta`` key of an all-day appointment.
ALL_DAY_META = "all_day"


def on_midnights(start: datetime, end: datetime, zone: str) -> bool:
    """Whether ``start`` and ``end`` are both midnights in ``zone``."""
    tz = ZoneInfo(zone)
    return start.astimezone(tz).time() == time() and end.astimezone(tz).time() == time()


def check_all_day(start: datetime, end: datetime, zone: str) -> None:
    """Raise :class:`FieldValueError` naming ``meta.all_day`` unless an all-day appointment may have these times:
    midnights of the calendar's ``zone``."""
    if not on_midnights(start, end, zone):
        raise FieldValueError(
            f"meta.{ALL_DAY_META}",
            f"an all-day appointment starts and ends at midnight in its calendar's time zone ({zone}): give "
            "midnights, or leave all_day out (times that are not midnights make it timed)",
        )
