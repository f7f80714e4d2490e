"""Appointments whose CalDAV item reaches into a window from before it: the series.

A series written over CalDAV is one appointment whose row holds the first occurrence, while its DAV item's
range (Radicale's ``Item.time_range``) spans every occurrence. A window's listing (feeds, the page, REST)
finds the series begun before the window by their items, as the CalDAV store finds items in a range: long
items by their flag, short ones (a daily series of three) by a bounded range on their start. Never by
scanning a calendar's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from caldav_bridge.store.dav_tables import SHORT_SPAN, DavCollectionRow, DavItemRow

__all__ = ["reaching_from_before"]


def reaching_from_before(session: Session, calendar_ids: Sequence[str] | None, start: datetime) -> list[str]:
    """Ids of appointments (any calendar when ``calendar_ids`` is None) whose CalDAV item begins before ``start``
    and ends after it; the caller filters the rows (not deleted, ended before ``start``, ...)."""
    item = DavItemRow
    low = int(start.timestamp())
    collections = select(DavCollectionRow.id).where(
        DavCollectionRow.calendar_id.is_not(None)
        if calendar_ids is None
        else DavCollectionRow.calendar_id.in_(list(calendar_ids))
    )
    ranges = (
        and_(item.long_span.is_(True), item.time_start < low, item.time_end > low),
        and_(
            item.long_span.is_(False), item.time_start >= low - SHORT_SPAN, item.time_start < low, item.time_end > low
        ),
    )
    found: set[str] = set()
    for span in ranges:
        stmt = select(item.appointment_id).where(
            item.collection_id.in_(collections),
            item.component == "VEVENT",
            item.appointment_id.is_not(None),
            span,
        )
        found.update(i for i in session.scalars(stmt) if i is not None)
    return sorted(found)
