"""An appointment as a DAV item: its iCalendar text (merged into what a client stored) and time range."""

from __future__ import annotations

from caldav_bridge.converters.ical_series import feed_uid
from caldav_bridge.dav.records import NewItem
from caldav_bridge.dav.render import etag_of_text, is_recurring, render_event, utc_seconds
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.dav_tables import SHORT_SPAN, DavItemRow
from caldav_bridge.store.tables import AppointmentRow

__all__ = ["TIMESTAMP_MAX", "TIMESTAMP_MIN", "is_long", "item_for", "new_item"]

#: Radicale's open-range sentinels (``radicale.item.filter``), for items whose range we do not expand.
TIMESTAMP_MIN = -62135596800
TIMESTAMP_MAX = 253402300800


def is_long(start: int, end: int) -> bool:
    """Whether an item's range is longer than the short-item index covers (``DavItemRow.long_span``)."""
    return end - start > SHORT_SPAN


def item_for(row: AppointmentRow, base: DavItemRow | None) -> NewItem:
    """The DAV item of appointment ``row``, merged into the stored item ``base`` if a client wrote it.

    A stored item the service wrote whole, untouched by any client since (its ETag still ``service_etag``), has
    nothing of a client's to keep: it is written afresh, as a new item is, under its UID.
    """
    if base is None:
        return new_item(row, appointment_from_row(row))
    if base.service_etag is not None and base.service_etag == base.etag:
        return new_item(row, appointment_from_row(row), uid=base.uid)
    meta = row.meta_extra or {}
    # An all-day event's dates are the calendar's (a timed override's TZID is no zone of the series').
    own = None if meta.get("all_day") is True else _zone_of(base.text)
    zone = own or meta.get("timezone") or row.calendar.timezone
    text = render_event(
        appointment_from_row(row), zone=str(zone), sequence=row.sequence, base_text=base.text, uid=base.uid
    )
    return _item(base.uid, text, row)


def new_item(row: AppointmentRow, appointment: Appointment, uid: str | None = None) -> NewItem:
    """The DAV item of appointment ``row`` written whole (no stored text to merge into); ``appointment`` is ``row``
    as canonical. Its UID is ``uid`` if given (the stored item's), else the one feeds show
    (:func:`~caldav_bridge.converters.ical_series.feed_uid`): ``meta.ical_uid`` where the appointment has one (a
    canonical import of an event a client made), else its id."""
    zone = (row.meta_extra or {}).get("timezone") or row.calendar.timezone
    uid = uid or feed_uid(appointment)
    text = render_event(appointment, zone=str(zone), sequence=row.sequence, uid=uid)
    return _item(uid, text, row, service_written=True)


def _item(uid: str, text: str, row: AppointmentRow, *, service_written: bool = False) -> NewItem:
    if is_recurring(text):
        start, end = TIMESTAMP_MIN, TIMESTAMP_MAX  # the exact range is Radicale's to compute
    else:
        start, end = utc_seconds(row.date_start), utc_seconds(row.date_end)
    return NewItem(uid, "VEVENT", text, etag_of_text(text), start, end, service_written=service_written)


def _zone_of(text: str | None) -> str | None:
    if not text:
        return None
    for line in text.split("\r\n"):
        if line.startswith("DTSTART;") and "TZID=" in line:
            return line.split("TZID=", 1)[1].split(":", 1)[0].split(";", 1)[0].strip('"')
    return None
