"""Busy time of recurring events written over CalDAV.

An appointment row holds the first occurrence of a recurring VEVENT; the DAV item keeps the
RRULE/RDATE/EXDATE and any overridden instances (RECURRENCE-ID). Availability expands them into
the requested window here (:func:`caldav_bridge.model.series.expand`), in the event's wall-clock zone,
so a weekly 09:00 stays 09:00 across DST changes.

The cost of a window does not grow with the age of the event or with what its rule says: each
rule is restarted at its period containing the window, its scan is metered and stops once past the
window, and an event with more than :data:`MAX_OCCURRENCES` occurrences in the window makes the whole
window busy (never free). A cancelled or transparent series (``TRANSP:TRANSPARENT``) occupies nothing.
"""

from __future__ import annotations

from datetime import datetime

from caldav_bridge.converters.ical_parse import event_in, read_vevents, series_in
from caldav_bridge.model.series import MAX_OCCURRENCES, TooManyOccurrences, expand

__all__ = ["MAX_OCCURRENCES", "occurrences"]

Interval = tuple[datetime, datetime]


def occurrences(text: str, default_zone: str, start: datetime, end: datetime) -> list[Interval]:
    """The occurrences of the recurring VEVENT in ``text`` overlapping ``[start, end)``, in UTC.

    Cancelled instances (``STATUS:CANCELLED`` overrides, EXDATE) are left out, as is a cancelled or
    transparent series; an unreadable item yields nothing; an item with more than
    :data:`MAX_OCCURRENCES` occurrences in the window yields the whole window.
    """
    try:
        vevents = read_vevents(text)  # parsed once for the event and its series
        master = event_in(vevents, default_zone)
        series = series_in(vevents, default_zone)
        if series is None or master.orphan_override or master.transparent or master.status == "CANCELLED":
            return []
        found = expand(series, master.start, master.end, default_zone, start, end)
    except TooManyOccurrences:
        return [(start, end)]
    except Exception:  # client-written text: anything may be wrong with it
        return []
    return [(o.start, o.end) for o in found]
