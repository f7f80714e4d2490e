"""New appointments and every side effect of creating them, for one or many at a time.

This is the one place that knows what creating an appointment writes. :func:`write_new` is used by
the appointment service for a single create (``appointments.create`` / ``create_in``: REST, OLS,
CalDAV PUTs, scheduling), by imports (``services.interchange``: chunks of 1,000) and by the Salesforce
mirror's bulk path (``salesforce.bulk``), so none of them can drift from the others. For each new
appointment it writes:

* the appointment row and its guests, and the guests' ``people`` rows (inserted when missing; a
  guest's non-null names and zone written over the person's, as ``PeopleRepository.ensure`` does);
* then one :class:`~caldav_bridge.events.model.AppointmentsCreated` event for all of them, whose
  handlers (registered on the runtime's bus) write, again one many-row INSERT per table: the
  status-history rows (``None`` → the status), the audit rows (``action``, optional per-item
  ``detail``), the Salesforce outbox rows (not for the mirror's own records: no echo), the webhook
  events, and the CalDAV items with one change-log revision per collection.

The rows are written with one many-row INSERT per table (:func:`caldav_bridge.store.bulk_insert.insert_many`),
past the ORM. Callers build :class:`PlainRow` s (validated values; no ORM instrumentation, which cost
more than the inserts at import volumes); the value builders :func:`history_values`,
:func:`outbox_values` and :func:`audit_values` are shared with the handlers of every other change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import AppointmentsCreated
from caldav_bridge.model.appointment import AppointmentStatus, Guest, Meta
from caldav_bridge.model.requests import MetaInput
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.plain_rows import CalendarLike, PlainGuest, PlainRow
from caldav_bridge.store.read_audit import Reads
from caldav_bridge.store.repositories import PERSON_COLUMNS
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "CalendarLike",
    "NewValues",
    "PlainGuest",
    "PlainRow",
    "audit_values",
    "history_values",
    "insert_dicts",
    "new_row",
    "outbox_values",
    "plain_guests",
    "write_new",
]

_GUEST_FIELDS = ("id", "first_name", "last_name", "timezone")
#: ``audit_log.detail``
MAX_DETAIL = 1000


class NewValues(Protocol):
    """A validated new appointment's values (an ``AppointmentDraft``, an import's ``ConvertedAppointment``)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def status(self) -> AppointmentStatus: ...

    @property
    def date_start(self) -> datetime: ...

    @property
    def date_end(self) -> datetime: ...

    @property
    def guests(self) -> Sequence[Guest]: ...

    @property
    def meta(self) -> Meta | MetaInput: ...


def new_row(
    appointment_id: str, calendar: CalendarLike, values: NewValues, now: datetime, *, created_at: datetime | None = None
) -> PlainRow:
    """The row of a new appointment from validated ``values``: type and Salesforce ids in columns, the rest of
    ``meta`` kept as JSON (as ``appointments._apply_meta`` stores it); created and updated ``now`` unless
    ``created_at`` (an import's source time) says otherwise."""
    meta = values.meta.model_dump(mode="json")
    salesforce = meta.pop("salesforce", None) or {}
    meta.pop("type", None)
    return PlainRow(
        id=appointment_id,
        calendar_id=calendar.id,
        calendar=calendar,
        name=values.name,
        description=values.description,
        type=values.meta.type.value,
        status=values.status.value,
        date_start=values.date_start,
        date_end=values.date_end,
        created_at=created_at or now,
        updated_at=now,
        meta_extra=meta,
        sf_appointment_gid=salesforce.get("appointment_gid"),
        sf_opportunity_gid=salesforce.get("opportunity_gid"),
        sf_customer_gid=salesforce.get("customer_gid"),
        guests=plain_guests(values.guests),
    )


def plain_guests(guests: Iterable[Guest]) -> list[PlainGuest]:
    """Validated guests as stored: the known fields in columns, other keys in ``extra``."""
    out = []
    for position, guest in enumerate(guests):
        extra = {k: v for k, v in guest.model_dump(mode="json").items() if k not in _GUEST_FIELDS}
        out.append(PlainGuest(position, guest.id, guest.first_name, guest.last_name, guest.timezone, extra))
    return out


# --------------------------------------------------------------------------- values shared with updates


def history_values(
    row: AppointmentRow | PlainRow,
    actor: Actor,
    now: datetime,
    *,
    old_status: str | None = None,
    old_start: datetime | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """A status-history row: ``old_status`` → the row's status (and start)."""
    return {
        "appointment_id": row.id,
        "old_status": old_status,
        "new_status": row.status,
        "old_start": old_start,
        "new_start": row.date_start,
        "at": now,
        "actor": actor.username,
        "channel": actor.channel,
        "reason": reason,
    }


def outbox_values(appointment_id: str, operation: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """An outbox row for the Salesforce push: ``payload`` is the appointment's canonical JSON."""
    return {
        "appointment_id": appointment_id,
        "operation": operation,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "last_error": None,
        "created_at": now,
        "available_at": now,
    }


def reads_of(actor: Actor, action: str, pairs: Sequence[tuple[str, str]]) -> Reads:
    """``actor``'s read (``action``) of the ``(appointment_id, calendar_id)`` pairs, now, for its audit."""
    return Reads(utcnow(), actor.username, actor.channel, action, actor.request_id, pairs)


def audit_values(
    actor: Actor, action: str, appointment_id: str, calendar_id: str, at: datetime, detail: str | None = None
) -> dict[str, Any]:
    """An audit row of ``action`` on one appointment."""
    return {
        "at": at,
        "actor": actor.username,
        "channel": actor.channel,
        "action": action,
        "appointment_id": appointment_id,
        "calendar_id": calendar_id,
        "request_id": actor.request_id,
        "detail": detail[:MAX_DETAIL] if detail else detail,
    }


# --------------------------------------------------------------------------- writing


def write_new(
    uow: UnitOfWork,
    rows: Sequence[PlainRow],
    *,
    actor: Actor,
    action: str,
    now: datetime,
    details: Sequence[str | None] | None = None,
    bulk: bool = False,
) -> None:
    """Insert new appointments ``rows`` and raise their :class:`AppointmentsCreated` event, in ``uow``'s transaction.

    ``action`` is the audit action (``create``, ``mirror``); ``details`` one audit detail per row; ``bulk``
    (an import chunk): only calendars that already have a DAV collection get items. The actor's channel
    decides the echo (the mirror's records get no outbox rows). The caller has checked access and
    validated the values; nothing is committed.
    """
    if not rows:
        return
    uow.flush()  # pending ORM changes first: the statements below read and write people
    _people(uow, rows, now, actor)
    uow.appointments.insert_new(
        [_appointment_tuple(r) for r in rows],
        [
            (r.id, g.position, g.person_id, g.first_name, g.last_name, g.timezone, g.extra)
            for r in rows
            for g in r.guests
        ],
    )
    uow.add_event(
        AppointmentsCreated(
            actor=actor, appointments=tuple(rows), action=action, details=tuple(details or ()), bulk=bulk
        )
    )


def _appointment_tuple(r: PlainRow) -> tuple[Any, ...]:
    return (
        r.id,
        r.calendar_id,
        r.name,
        r.description,
        r.type,
        r.status,
        r.date_start,
        r.date_end,
        r.sf_appointment_gid,
        r.sf_opportunity_gid,
        r.sf_customer_gid,
        r.meta_extra or {},
        r.created_at,
        r.updated_at,
        None,
        1,
        r.sequence,
    )


def insert_dicts(uow: UnitOfWork, model: type[Any], values: list[dict[str, Any]]) -> None:
    """Rows of ``model`` (dicts of one shape) in one many-row INSERT."""
    uow.insert_rows(model, values)


def _guests_by_person(rows: Sequence[PlainRow]) -> dict[str, list[PlainGuest]]:
    wanted: dict[str, list[PlainGuest]] = {}
    for row in rows:
        for guest in row.guests:
            if isinstance(guest.person_id, str):
                wanted.setdefault(guest.person_id, []).append(guest)
    return wanted


def _merged_names(before: tuple[Any, ...], guests: list[PlainGuest]) -> tuple[Any, ...]:
    """``before`` (first name, last name, zone) with every guest's non-null values written over it."""
    after = list(before)
    for guest in guests:
        for i, value in enumerate((guest.first_name, guest.last_name, guest.timezone)):
            if value is not None:
                after[i] = value
    return tuple(after)


def _people(uow: UnitOfWork, rows: Sequence[PlainRow], now: datetime, actor: Actor) -> None:
    """Guests' people rows, as ``PeopleRepository.ensure`` keeps them: inserted if missing (a racing insert is
    fine), and a guest's non-null names and zone written over the person's if ``actor`` sees that person
    (``PeopleRepository.visible_to``). A guest naming a person the actor does not see is this appointment's own:
    its link is dropped and the person's record neither read nor changed."""
    wanted = _guests_by_person(rows)
    if not wanted:
        return
    current, seen = uow.people.names_if_visible(actor.calendar_ids, wanted)
    for person_id in set(current) - seen:  # an existing person the actor does not see: this guest's own, unlinked
        for guest in wanted.pop(person_id):
            guest.person_id = None
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for person_id in sorted(wanted):
        before = current.get(person_id, (None, None, None))
        after = _merged_names(before, wanted[person_id])
        values = dict(zip(PERSON_COLUMNS, after, strict=True))
        if person_id not in current:
            inserts.append({"id": person_id, **values, "created_at": now, "updated_at": now})
        elif after != before:
            updates.append({"b_id": person_id, **{f"b_{k}": v for k, v in values.items()}, "b_updated_at": now})
    uow.people.write_names(inserts, updates)
