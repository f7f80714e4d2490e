"""Appointments ↔ the VEVENTs of appointment calendars, both ways, in the caller's transaction.

- CalDAV → appointment (:func:`item_written`, :func:`item_deleted`): a VEVENT PUT into an
  appointment calendar creates or updates the canonical appointment through the appointment
  service, so its outbox, status history and audit rows are written in the same transaction.
- appointment → CalDAV is not here: the event handlers of :mod:`caldav_bridge.dav.item_sync`
  re-render the items of changes from every other channel (and of the consequences of a CalDAV
  change). A change made here carries the ``caldav`` channel on its actor, so those handlers leave
  its item to the DAV store, which stores the client's text.

What a stock CalDAV server accepts is accepted here too (RFC 5545 §3.6.1, RFC 4791 §4.1):

- an event without DTEND or DURATION ends at its start (a date-time) or lasts one day (a date);
- an event the canonical appointment cannot hold (one that takes no time, or lasts longer than
  :data:`~caldav_bridge.model.appointment.MAX_DURATION`, such as a vacation) is kept as a
  calendar-only event: stored and served over CalDAV (free-busy included), not an appointment.
  A long opaque one still blocks availability (:mod:`caldav_bridge.scheduling.queries`). An
  existing appointment cannot be turned into one: that PUT is refused (``C:valid-calendar-data``),
  since the appointment (and its Salesforce record) could not follow it;
- an event naming no customer (no attendee with a guest id) and no ``X-APPOINTMENT-TYPE`` ("Lunch",
  "Dentist") is the fitter's own time, never a customer appointment. Opaque, it is a **busy block**
  (``meta.kind`` ``busy``, :class:`~caldav_bridge.model.appointment.AppointmentKind`): it blocks
  availability, feeds and pages show it as busy, REST lists it only when asked, Salesforce gets at most
  a detail-less busy Event. Transparent (``TRANSP:TRANSPARENT``) it is a calendar-only event: free time
  that never blocks availability; a busy block made transparent (or too long) becomes one. A busy block
  that comes to name a customer or a type becomes a customer appointment; an appointment never becomes
  a busy block by losing them (clients drop X- properties);
- an all-day event (DTSTART ``VALUE=DATE``) is an all-day appointment: ``meta.all_day`` true, its
  dates midnight to midnight in the calendar's zone (feeds and pages render it from there,
  :func:`caldav_bridge.converters.ical.all_day_dates`);
- a resource holding only an overridden occurrence (RECURRENCE-ID, no master) is read as that
  occurrence;
- an ``X-APPOINTMENT-TYPE`` that names no known type is kept as written (in the item, and in
  ``meta.type_as_written``); the appointment gets the default type;
- ``TRANSP`` of an appointment is its ``meta.show_as`` (:class:`~caldav_bridge.model.appointment.ShowAs`):
  ``TRANSPARENT`` sets ``free`` (listed everywhere, occupying no time), ``OPAQUE`` turns a ``free`` one
  ``busy``, no ``TRANSP`` (opaque, RFC 5545 §3.8.2.7) removes a ``free`` (the default, busy);
  ``out_of_office`` (from Salesforce) stays while the event is opaque. A cancelled event's ``TRANSP`` is not
  read (some clients mark cancellations free; this store's items carry the cancellation in STATUS alone), nor
  one the PUT did not change from the stored item's.
- LOCATION, CATEGORIES, ORGANIZER and the attendees' ``mailto:`` addresses are kept in ``meta`` (``location``,
  ``categories``, ``organizer``, ``attendees``: :func:`~caldav_bridge.converters.ical_parse.client_meta`);
  a client's text that drops one removes it. A ``meta.location`` object (from another format) whose shown text
  is the LOCATION written stays as it is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import ValidationError

from caldav_bridge.converters.disclosure import location_text
from caldav_bridge.converters.ical_parse import (
    IcalParseError,
    ParsedEvent,
    VEvents,
    client_meta,
    description_of,
    event_in,
    master_transp,
    read_vevents,
    series_in,
    summary_name,
)
from caldav_bridge.dav.errors import InvalidCalendarData
from caldav_bridge.dav.records import NewItem
from caldav_bridge.dav.render import with_appointment_status
from caldav_bridge.errors import Conflict, Forbidden, ValidationFailed
from caldav_bridge.model.appointment import (
    MAX_DURATION,
    SHOW_AS_META,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    ShowAs,
)
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch
from caldav_bridge.model.series import ICAL_UID_META, RECURRENCE_META
from caldav_bridge.model.timestamps import to_utc_ms
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import CALDAV_CHANNEL, Actor
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["item_deleted", "item_moved", "item_written"]

S = AppointmentStatus
_KNOWN_TYPES = frozenset(t.value for t in AppointmentType)
#: iCalendar STATUS → the canonical statuses it stands for (the first is the default for new ones).
_STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "TENTATIVE": (S.RESERVED, S.INITIAL),
    "CONFIRMED": (S.BOOKED, S.RESCHEDULED),
    "CANCELLED": (S.CANCELLED,),
}


def _status_for(parsed: ParsedEvent, current: str | None) -> str:
    group = _STATUS_GROUPS.get(parsed.status or "")
    if group is None:  # no STATUS (or an unknown one): keep what it was; new events are booked
        return current or S.BOOKED
    if parsed.appointment_status in group:
        return str(parsed.appointment_status)
    if current in group:
        return current
    return group[0]


def _guests(uow: UnitOfWork, parsed: ParsedEvent, calendar_id: str) -> list[dict[str, Any]]:
    """The guests an event's attendees name by id: only people already seen in this calendar.

    An id of anyone else (another fitter's patient, an unknown id) resolves to nothing: the
    attendee stays in the item's text, and no names come from the shared people table.
    """
    ids = [a.guest_id for a in parsed.attendees if a.guest_id]
    if not ids:
        return []
    names, seen = uow.people.names_if_visible([calendar_id], ids)  # one query: the names and who is seen
    guests = []
    for gid in dict.fromkeys(ids):
        if gid in seen:
            first, last, zone = names[gid]
            guests.append({"id": gid, "first_name": first, "last_name": last, "timezone": zone})
    return guests


def item_written(
    uow: UnitOfWork,
    actor: Actor,
    calendar_id: str,
    item: NewItem,
    appointment: AppointmentRow | None,
    previous_text: str | None = None,
) -> tuple[str, str | None]:
    """Create or update the appointment behind a VEVENT PUT into an appointment calendar (``previous_text``:
    the item it replaces, whose ``TRANSP`` tells whether the client changed it).

    ``appointment`` is the item's appointment (None: the item has none yet), read and locked for update by the
    caller in this transaction (the DAV store locks it before the item): it is not read again here. A deleted
    one (a tombstone) counts as none: the event makes a new appointment.

    Returns the text to store (the client's, its ``X-APPOINTMENT-STATUS`` made to say the appointment's status
    where it said another) and the appointment id.

    Raises (data only; ``storage_plugin`` answers them with DAV statuses and preconditions):
        InvalidCalendarData: the text is no usable event.
        ValidationFailed: the event does not fit an appointment.
        Conflict, NotFound: a refused change (a status transition, a taken slot).
        Forbidden: the actor may not write.
    """
    calendar = uow.calendars.get(calendar_id)
    zone = calendar.timezone if calendar else "UTC"
    try:
        # parsed once: the event here, its series below; not at all when the body's parse reads alike
        vevents = read_vevents(item.text, item.body)
        parsed = event_in(vevents, zone)
    except IcalParseError as exc:
        raise InvalidCalendarData(str(exc)) from exc
    actor = _over_caldav(actor)
    row = appointment if appointment is not None and appointment.deleted_at is None else None
    if row is not None and _busy_block(row) and _no_longer_busy(parsed):
        item_deleted(uow, actor, row.id)  # the busy block became free time or a vacation: calendar-only
        return item.text, None
    if not _fits(parsed) or (row is None and _free_time(parsed)):
        if row is not None:
            raise InvalidCalendarData(
                f"appointment {row.id} must end after it starts and last at most {MAX_DURATION.days} days"
            )
        return item.text, None  # a calendar-only event
    recurrence = _recurrence(vevents, zone)
    # what X-APPOINTMENT-STATUS says is the status the appointment is left with (a client that changed STATUS
    # alone sent ours back as it had read it)
    text = with_appointment_status(item.text, _status_for(parsed, row.status if row is not None else None))
    if row is None:
        return text, _create(uow, actor, calendar_id, parsed, recurrence)
    # the client's TRANSP is read when it changed it (an item stored before TRANSP followed meta.show_as may say
    # OPAQUE of an appointment Salesforce shows as free: a phone saving it unchanged must not make it busy)
    read_transp = previous_text is None or master_transp(previous_text) != parsed.transp
    _update(uow, actor, row, parsed, recurrence, read_transp=read_transp)
    return text, row.id


def _recurrence(vevents: VEvents, zone: str) -> dict[str, Any] | None:
    """``meta.recurrence`` of the event's series (None: no series)."""
    try:
        series = series_in(vevents, zone)
    except IcalParseError as exc:
        raise InvalidCalendarData(str(exc)) from exc
    return None if series is None else series.to_json()


def _fits(parsed: ParsedEvent) -> bool:
    """Whether a canonical appointment can hold the event's times (it takes time, and not too long)."""
    return parsed.start < parsed.end and parsed.end - parsed.start <= MAX_DURATION  # no sum: none overflows


def _names_customer_or_type(parsed: ParsedEvent) -> bool:
    """Whether the event is a customer appointment: it names an appointment type or a customer (an
    attendee with a guest id). One that names neither ("Lunch", "Dentist") is the fitter's own time."""
    return parsed.appointment_type is not None or any(a.guest_id for a in parsed.attendees)


def _free_time(parsed: ParsedEvent) -> bool:
    """A transparent event naming no customer and no appointment type ("Lunch, free to book"): it
    does not occupy the fitter's time (RFC 5545 §3.8.2.7), so it is neither appointment nor busy block."""
    return parsed.transparent and not _names_customer_or_type(parsed)


def _no_longer_busy(parsed: ParsedEvent) -> bool:
    """A busy block's new text is free time (transparent) or no longer fits one (a vacation), and still
    names no customer or type: it becomes a calendar-only event."""
    return (not _fits(parsed) or parsed.transparent) and not _names_customer_or_type(parsed)


def _busy_block(row: AppointmentRow) -> bool:
    return (row.meta_extra or {}).get("kind") == AppointmentKind.BUSY.value


def _type_meta(parsed: ParsedEvent) -> dict[str, Any]:
    """``meta.type`` of a known ``X-APPOINTMENT-TYPE``; an unknown one kept as written beside it."""
    if parsed.appointment_type is None:
        return {}
    if parsed.appointment_type in _KNOWN_TYPES:
        return {"type": parsed.appointment_type}
    return {"type_as_written": parsed.appointment_type_as_written}


def _show_as(parsed: ParsedEvent, row: AppointmentRow | None) -> dict[str, Any]:
    """The ``meta.show_as`` change the event's ``TRANSP`` makes ({} for none; a None value removes it)."""
    if parsed.status == "CANCELLED":
        return {}  # a cancellation's TRANSP says nothing of show_as
    current = (row.meta_extra or {}).get(SHOW_AS_META) if row is not None else None
    if parsed.transparent:
        return {} if current == ShowAs.FREE else {SHOW_AS_META: ShowAs.FREE.value}
    if current != ShowAs.FREE:
        return {}  # opaque and not free: busy (default) or out of office, as it was
    return {SHOW_AS_META: ShowAs.BUSY.value if parsed.transp == "OPAQUE" else None}


def _over_caldav(actor: Actor) -> Actor:
    """The actor of a change the DAV store writes: channel ``caldav`` (the item handlers leave its item alone)."""
    return actor if actor.channel == CALDAV_CHANNEL else replace(actor, channel=CALDAV_CHANNEL)


def _create(
    uow: UnitOfWork, actor: Actor, calendar_id: str, parsed: ParsedEvent, recurrence: dict[str, Any] | None
) -> str:
    meta: dict[str, Any] = {"type": AppointmentType.FOLLOW_UP.value, **_type_meta(parsed)}
    if parsed.uid:
        meta[ICAL_UID_META] = parsed.uid  # the client's UID: the feed and the page use it too
    if recurrence is not None:
        meta[RECURRENCE_META] = recurrence
    if not _names_customer_or_type(parsed):
        meta["kind"] = AppointmentKind.BUSY.value
    if parsed.all_day:
        meta["all_day"] = True
    meta.update({k: v for k, v in _show_as(parsed, None).items() if v is not None})
    if parsed.zone:
        meta["timezone"] = parsed.zone
    meta.update({k: v for k, v in client_meta(parsed).items() if v is not None})
    try:
        draft = AppointmentDraft.model_validate(
            {
                "calendar": {"id": calendar_id},
                "date_start": to_utc_ms(parsed.start),
                "date_end": to_utc_ms(parsed.end),
                "name": summary_name(parsed.summary),
                "description": description_of(parsed.description),
                "guests": _guests(uow, parsed, calendar_id),
                "meta": meta,
                "status": _status_for(parsed, None),
            }
        )
    except ValidationError as exc:
        raise InvalidCalendarData(f"event does not fit an appointment: {exc.errors()[0]['msg']}") from exc
    return appointments.create_in(uow, actor, draft).id


def _update(
    uow: UnitOfWork,
    actor: Actor,
    row: AppointmentRow,
    parsed: ParsedEvent,
    recurrence: dict[str, Any] | None,
    *,
    read_transp: bool = True,
) -> None:
    changes: dict[str, Any] = {}
    name = summary_name(parsed.summary)
    if name != row.name:
        changes["name"] = name
    description = description_of(parsed.description)
    if description != row.description:
        changes["description"] = description
    start, end = to_utc_ms(parsed.start), to_utc_ms(parsed.end)
    if (start, end) != (row.date_start, row.date_end):
        changes["date_start"], changes["date_end"] = start, end
    status = _status_for(parsed, row.status)
    if status != row.status:
        changes["status"] = status
    guests = _guests(uow, parsed, row.calendar_id)
    if [g["id"] for g in guests] != [g.person_id for g in row.guests]:
        changes["guests"] = guests
    meta: dict[str, Any] = {
        k: v for k, v in _type_meta(parsed).items() if v != (row.type if k == "type" else (row.meta_extra or {}).get(k))
    }
    if parsed.all_day != bool((row.meta_extra or {}).get("all_day")):
        meta["all_day"] = parsed.all_day
    if parsed.zone and parsed.zone != (row.meta_extra or {}).get("timezone"):
        meta["timezone"] = parsed.zone
    if recurrence != (row.meta_extra or {}).get(RECURRENCE_META):
        meta[RECURRENCE_META] = recurrence  # None removes it (merge patch): no longer a series
    if read_transp:
        meta.update(_show_as(parsed, row))
    if _busy_block(row) and _names_customer_or_type(parsed):
        meta["kind"] = None  # it names a customer or a type now: a customer appointment from here on
    meta.update(_client_meta_changes(parsed, row.meta_extra or {}))
    if meta:
        changes["meta"] = meta
    if not changes:
        return  # only what the canonical model does not carry changed: the item text alone
    try:
        patch = AppointmentPatch.model_validate(changes)
    except ValidationError as exc:
        raise InvalidCalendarData(f"event does not fit an appointment: {exc.errors()[0]['msg']}") from exc
    appointments.update_locked_in(uow, actor, row, patch)  # the row the DAV store has locked


def _client_meta_changes(parsed: ParsedEvent, current: dict[str, Any]) -> dict[str, Any]:
    """The ``meta`` keys of :func:`client_meta` that differ from ``current`` (None removes one). A location is
    compared by the text calendars show of it, so an object another format stored is not flattened."""
    changes = {}
    for key, value in client_meta(parsed).items():
        stored = current.get(key)
        same = location_text(stored) == value if key == "location" else stored == value
        if not same:
            changes[key] = value
    return changes


def item_deleted(uow: UnitOfWork, actor: Actor, appointment_id: str) -> None:
    """The VEVENT of an appointment was deleted (or moved away): the appointment is deleted."""
    try:
        appointments.delete_in(uow, _over_caldav(actor), appointment_id)
    except (Forbidden, ValidationFailed) as exc:
        raise Conflict(exc.detail) from exc  # the item may go; its appointment stays: a conflict


def item_moved(uow: UnitOfWork, actor: Actor, appointment_id: str, calendar_id: str) -> None:
    """The VEVENT of an appointment was moved (MOVE) into another appointment calendar: the
    appointment moves with it, keeping its id (outbox, audit as for any change)."""
    try:
        appointments.move_in(uow, _over_caldav(actor), appointment_id, calendar_id)
    except ValidationFailed as exc:  # a calendar the actor does not reach
        raise Forbidden(exc.detail) from exc
