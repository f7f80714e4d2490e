"""Appointment use cases: create, read, list, update, delete, book, reschedule, cancel, follow up,
and the changes an outside system (the Salesforce mirror) says happened.

Every change writes the appointment and raises a domain event (:mod:`caldav_bridge.events.model`) on
the unit of work; the handlers registered on the runtime's bus write its consequences in the same
transaction (status history, audit, Salesforce outbox, webhook events, slot claims and the chain,
the CalDAV item). Every read of patient data writes an audit row.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.disclosure import location_text
from caldav_bridge.errors import (
    Conflict,
    FieldError,
    FieldValueError,
    InvalidTransition,
    NotFound,
    PreconditionFailed,
    ValidationFailed,
)
from caldav_bridge.events.model import (
    AppointmentCancelled,
    AppointmentChanged,
    AppointmentDeleted,
    AppointmentEvent,
    AppointmentMoved,
    AppointmentRescheduled,
    OccurrenceChanged,
    OverlapCheck,
)
from caldav_bridge.model.all_day import ALL_DAY_META, check_all_day, on_midnights
from caldav_bridge.model.appointment import (
    EARLIEST,
    LATEST,
    SHOW_AS_META,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Guest,
    Meta,
    check_busy_guests,
    check_input_keys,
    show_as_error,
)
from caldav_bridge.model.occurrence_change import (
    SeriesTexts,
    changed_fields,
    changed_occurrence,
    occurrence_changes,
)
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.model.requests import (
    AppointmentDraft,
    AppointmentPatch,
    CancelRequest,
    FollowUpRequest,
    OccurrencePatch,
    RescheduleRequest,
)
from caldav_bridge.model.series import (
    ATTENDEES_META,
    CALDAV_META,
    RECURRENCE_META,
    Override,
    Series,
    TooManyOccurrences,
    UnknownOccurrence,
    applied,
    occurrence_at,
    occurrences_of,
    with_override,
)
from caldav_bridge.model.series_move import series_moved
from caldav_bridge.model.timestamps import format_timestamp, parse_timestamp
from caldav_bridge.services import creates
from caldav_bridge.services.actor import CALDAV_CHANNEL, Actor, UncheckedActor
from caldav_bridge.services.mapping import appointment_from_row, canonical_json, canonical_text, etag_of, guest_rows
from caldav_bridge.services.slot_check import ensure_free
from caldav_bridge.services.validation import field_errors
from caldav_bridge.store.plain_reads import EncodedRow
from caldav_bridge.store.plain_rows import PlainRow
from caldav_bridge.store.tables import (
    AppointmentRow,
    CalendarRow,
    StatusHistoryRow,
)
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "MAX_OCCURRENCE_CHANGES",
    "OCCURRENCE_ACTION",
    "TRANSITIONS",
    "EncodedAppointment",
    "ExternalChange",
    "ExternalValues",
    "Occurrence",
    "OccurrencePage",
    "Page",
    "Stored",
    "apply_external_change",
    "book",
    "book_in",
    "cancel",
    "cancel_in",
    "change_occurrence",
    "create",
    "create_all_in",
    "create_in",
    "delete",
    "delete_in",
    "follow_up",
    "get",
    "get_encoded",
    "get_row",
    "history",
    "list_appointments",
    "list_encoded",
    "list_occurrences",
    "meta_columns",
    "move_in",
    "reschedule",
    "reschedule_in",
    "update",
    "update_in",
    "update_locked_in",
]

S = AppointmentStatus
#: The audit and history action of a change of one occurrence of a series.
OCCURRENCE_ACTION = "occurrence"
#: Occurrences one change of a whole series (a CalDAV client's PUT) is read as changing one by one: a phone changes
#: one at a time; a PUT changing more at once (a client rewriting its exceptions wholesale, an EXDATE line of
#: thousands) is a change of the series, since each occurrence's event writes its own history, audit, outbox
#: and webhook rows.
MAX_OCCURRENCE_CHANGES = 20
#: The statuses each status may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.INITIAL: frozenset({S.RESERVED, S.BOOKED, S.RESCHEDULED, S.CANCELLED}),
    S.RESERVED: frozenset({S.INITIAL, S.BOOKED, S.RESCHEDULED, S.CANCELLED}),
    S.BOOKED: frozenset({S.RESCHEDULED, S.CANCELLED}),
    S.RESCHEDULED: frozenset({S.BOOKED, S.RESCHEDULED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}


@dataclass(frozen=True)
class Stored:
    """An appointment as stored, with its ETag.

    Built on the loaded row: :attr:`appointment` (the model) is made when first asked for, and
    :meth:`document` (its JSON) straight from the row, without a model (``mapping.canonical_json``).
    """

    row: AppointmentRow
    etag: str

    @cached_property
    def appointment(self) -> Appointment:
        return appointment_from_row(self.row)

    def document(self) -> dict[str, Any]:
        """``appointment.model_dump(mode="json")``, built directly from the row."""
        return canonical_json(self.row)


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of an appointment (``list_occurrences``): the appointment with the occurrence's times,
    and ``recurrence_id`` (its original start; None for a single appointment)."""

    appointment: Appointment
    etag: str
    recurrence_id: datetime | None


@dataclass(frozen=True)
class OccurrencePage:
    items: list[Occurrence]
    next_cursor: str | None


@dataclass(frozen=True)
class Page:
    items: list[Stored]
    next_cursor: str | None


@dataclass(frozen=True)
class EncodedAppointment:
    """One appointment as its canonical JSON text (ASCII, compact), with its ETag."""

    json: str
    etag: str


@dataclass(frozen=True)
class EncodedPage:
    """A page of appointments, each as its canonical JSON text (ASCII, compact)."""

    items: list[str]
    next_cursor: str | None


class ReadRow(Protocol):
    """What a read needs of each row it returns: its audit (id, calendar) and a cursor after it (start, id)."""

    @property
    def id(self) -> str: ...

    @property
    def calendar_id(self) -> str: ...

    @property
    def date_start(self) -> datetime: ...


R = TypeVar("R", bound=ReadRow)


# --------------------------------------------------------------------------- reads


def get(uow: UnitOfWork, actor: Actor, appointment_id: str) -> Stored:
    row = _read_one(uow, actor, appointment_id, lambda found: (uow.appointments.get_plain(found), None)).as_row()
    return Stored(row, etag_of(row))


def get_encoded(uow: UnitOfWork, actor: Actor | UncheckedActor, appointment_id: str) -> EncodedAppointment:
    """:func:`get` as the appointment's canonical JSON text, encoded by the database where it can (what the API
    answers without ``?format=``): no row object, dict or JSON encoding here. The authorisation clock is read in
    the same statement: an :class:`UncheckedActor` is checked there (:class:`ClockMoved` if it moved)."""
    row = _read_one(uow, actor, appointment_id, lambda found: uow.appointments.get_encoded(found, _encode_plain))
    return EncodedAppointment(row.json, etag_of(row))


def _read_one(
    uow: UnitOfWork,
    actor: Actor | UncheckedActor,
    appointment_id: str,
    read: Callable[[str], tuple[R | None, int | None]],
) -> R:
    """The appointment ``read`` finds in a read-only transaction (with the authorisation clock its statement saw,
    None if it read none), audited as read; NotFound where the actor does not reach it. ``read`` looks the
    repositories up when called: they exist once the transaction is entered."""
    reader, unchecked = _reader(actor)
    with uow.reading():
        row, clock = read(appointment_id)
        checked = _confirmed(reader, unchecked, clock)
        if row is None or not checked.reaches(row.calendar_id):
            raise NotFound("appointment", appointment_id)
        _audit_reads(uow, checked, "read", [row])
        uow.commit()
        return row


def _reader(actor: Actor | UncheckedActor) -> tuple[Actor, UncheckedActor | None]:
    """The actor a read searches as, and the unchecked actor its statement must confirm (None for an
    :class:`Actor`, whose ``read`` scope is checked now, before the read)."""
    if isinstance(actor, UncheckedActor):
        return actor.actor, actor
    actor.require("read")
    return actor, None


def _confirmed(reader: Actor, unchecked: UncheckedActor | None, clock: int | None) -> Actor:
    """``reader`` once the read's statement saw the authorisation clock (``clock``): an unchecked actor is checked
    against it (:class:`ClockMoved`), then for the ``read`` scope."""
    if unchecked is not None:
        unchecked.checked(clock).require("read")
    return reader


def list_appointments(
    uow: UnitOfWork, actor: Actor, filters: AppointmentFilters, *, limit: int, cursor: str | None = None
) -> Page:
    """A page of appointments in (date_start, id) order; ``next_cursor`` continues it."""

    def search(
        after: tuple[datetime, str] | None, calendar_ids: list[str] | None
    ) -> tuple[list[AppointmentRow], int | None]:
        found = uow.appointments.search_plain(filters, limit + 1, calendar_ids=calendar_ids, after=after)
        return [r.as_row() for r in found], None

    rows, next_cursor = _read_page(uow, actor, filters, limit, cursor, search)
    return Page([Stored(r, etag_of(r)) for r in rows], next_cursor)


def list_encoded(
    uow: UnitOfWork,
    actor: Actor | UncheckedActor,
    filters: AppointmentFilters,
    *,
    limit: int,
    cursor: str | None = None,
) -> EncodedPage:
    """:func:`list_appointments` with each appointment as its canonical JSON text (what the REST list answers),
    encoded by the database where it can: no row objects, dicts or JSON encoding per appointment here. The
    authorisation clock is read in the same statement: an :class:`UncheckedActor` is checked there."""

    def search(after: tuple[datetime, str] | None, calendar_ids: list[str] | None) -> tuple[list[EncodedRow], int]:
        return uow.appointments.search_encoded(
            filters, limit + 1, _encode_plain, calendar_ids=calendar_ids, after=after
        )

    rows, next_cursor = _read_page(uow, actor, filters, limit, cursor, search)
    return EncodedPage([r.json for r in rows], next_cursor)


def _encode_plain(row: PlainRow) -> str:
    return canonical_text(row.as_row())


def _read_page(
    uow: UnitOfWork,
    actor: Actor | UncheckedActor,
    filters: AppointmentFilters,
    limit: int,
    cursor: str | None,
    search: Callable[[tuple[datetime, str] | None, list[str] | None], tuple[list[R], int | None]],
) -> tuple[list[R], str | None]:
    """Up to ``limit`` rows ``search`` finds after ``cursor`` in the calendars the actor reaches (with the
    authorisation clock its statement saw, None if it read none), audited as read, and the cursor of the page after
    them (None: the last page). The calendar filter is checked after the search, with the checked actor."""
    reader, unchecked = _reader(actor)
    if filters.start and filters.end and filters.end <= filters.start:
        raise ValidationFailed([FieldError("to", "must be after 'from'")])
    calendar_ids = reader.visible(None if filters.calendar_id is None else [filters.calendar_id])
    after = _decode_cursor(cursor) if cursor else None
    with uow.reading():
        found, clock = search(after, None if calendar_ids is None else list(calendar_ids))
        checked = _confirmed(reader, unchecked, clock)
        if filters.calendar_id is not None:
            _check_calendar_filter(uow, checked, filters.calendar_id)
        rows = found[:limit]
        _audit_reads(uow, checked, "read", rows)
        uow.commit()
        return rows, _encode_cursor(rows[-1]) if len(found) > limit else None


#: ``list_occurrences``: the widest window, and the most appointments one expansion reads.
MAX_EXPAND_WINDOW = timedelta(days=92)
MAX_EXPAND_APPOINTMENTS = 2000


def list_occurrences(
    uow: UnitOfWork, actor: Actor, filters: AppointmentFilters, *, limit: int, cursor: str | None = None
) -> OccurrencePage:
    """A page of occurrences in ``[filters.start, filters.end)``: a single appointment once, a series once per
    occurrence there (its times; ``recurrence_id`` its original start), in (start, id, recurrence_id) order.

    Bounded: the window spans at most :data:`MAX_EXPAND_WINDOW`, and at most :data:`MAX_EXPAND_APPOINTMENTS`
    appointments (each series with at most ``model.series.MAX_OCCURRENCES`` occurrences) are expanded; beyond
    either, a 422 asks for a narrower window. Each series is expanded from the window, never from its start.
    """
    actor.require("read")
    start, end = filters.start, filters.end
    if start is None or end is None:
        raise ValidationFailed([FieldError("from" if start is None else "to", "required with expand=true")])
    if end <= start:
        raise ValidationFailed([FieldError("to", "must be after 'from'")])
    if end - start > MAX_EXPAND_WINDOW:
        raise ValidationFailed(
            [FieldError("to", f"with expand=true at most {MAX_EXPAND_WINDOW.days} days after 'from'")]
        )
    after = _decode_occurrence_cursor(cursor) if cursor else None
    calendar_ids = actor.visible(None if filters.calendar_id is None else [filters.calendar_id])
    with uow.reading():
        if filters.calendar_id is not None:
            _check_calendar_filter(uow, actor, filters.calendar_id)
        rows = uow.appointments.search(filters, MAX_EXPAND_APPOINTMENTS + 1, calendar_ids=calendar_ids)
        if len(rows) > MAX_EXPAND_APPOINTMENTS:
            raise ValidationFailed(
                [FieldError("to", f"over {MAX_EXPAND_APPOINTMENTS} appointments: narrow the window")]
            )
        found = sorted(
            (key, row, rid, copy)
            for row in rows
            for rid, copy in _expanded(row, start, end)
            for key in [_occurrence_key(copy.date_start, row.id, rid)]
            if after is None or key > after
        )
        page = found[:limit]
        _audit_reads(uow, actor, "read", {row.id: row for _, row, _, _ in page}.values())
        uow.commit()
        next_cursor = _encode_occurrence_cursor(page[-1][0]) if len(found) > limit else None
        return OccurrencePage([Occurrence(copy, etag_of(row), rid) for _, row, rid, copy in page], next_cursor)


def _expanded(row: AppointmentRow, start: datetime, end: datetime) -> list[tuple[datetime | None, Appointment]]:
    try:
        return occurrences_of(appointment_from_row(row), row.calendar.timezone, start, end)
    except TooManyOccurrences as exc:
        raise ValidationFailed([FieldError("to", f"appointment {row.id}: {exc}: narrow the window")]) from exc


def _occurrence_key(start: datetime, appointment_id: str, recurrence_id: datetime | None) -> tuple[str, str, str]:
    return (format_timestamp(start), appointment_id, format_timestamp(recurrence_id) if recurrence_id else "")


def _encode_occurrence_cursor(key: tuple[str, str, str]) -> str:
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_occurrence_cursor(cursor: str) -> tuple[str, str, str]:
    try:
        start, appointment_id, recurrence_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return (format_timestamp(parse_timestamp(start)), str(appointment_id), str(recurrence_id))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationFailed([FieldError("cursor", "not a cursor this service issued")]) from exc


def history(uow: UnitOfWork, actor: Actor, appointment_id: str) -> list[StatusHistoryRow]:
    """The appointment's status history; audited as a read (it shows what the appointment shows)."""
    actor.require("read")
    with uow.reading():
        row = _visible_row(uow, actor, appointment_id)
        rows = uow.appointments.history(row.id)
        _audit_reads(uow, actor, "read_history", [row])
        uow.commit()
        return rows


# --------------------------------------------------------------------------- writes


def create(
    uow: UnitOfWork,
    actor: Actor,
    draft: AppointmentDraft,
    *,
    appointment_id: str | None = None,
    exclusive: bool = False,
) -> Stored:
    """Create an appointment (a repeated POST is answered at the HTTP edge: ``Idempotency-Key``,
    :mod:`caldav_bridge.services.idempotency`).

    ``exclusive``: refuse (:class:`SlotTaken`) a time that overlaps a live appointment on the calendar.

    ``appointment_id`` fixes the new appointment's id (seeding, imports); by default one is made.
    """
    actor.require("write")
    with uow:
        if exclusive:
            ensure_free(uow, draft.calendar.id, draft.date_start, draft.date_end)
        row = _insert(uow, actor, draft, appointment_id)
        uow.commit()
        return _stored(row)


def update(
    uow: UnitOfWork, actor: Actor, appointment_id: str, patch: AppointmentPatch, *, if_match: str | None = None
) -> Stored:
    """Apply the fields present in ``patch``; a status change must be an allowed transition."""
    actor.require("write")
    with uow:
        row = _changeable_row(uow, actor, appointment_id)
        _check_etag(row, if_match)
        _apply_patch(uow, actor, row, patch)
        return _commit(uow, row)


def _apply_patch(
    uow: UnitOfWork, actor: Actor, row: AppointmentRow, patch: AppointmentPatch, *, reason: str | None = None
) -> None:
    given = patch.model_fields_set
    if row.status == S.CANCELLED:
        raise InvalidTransition(row.status, "change")
    now = utcnow()
    before = _Before.of(row)
    series_before = _SeriesVersion.of(row) if RECURRENCE_META in (patch.meta or {}) else None
    if "name" in given:
        if patch.name is None:
            raise ValidationFailed([FieldError("name", "may not be null")])
        row.name = patch.name
    if "description" in given:
        row.description = patch.description
    start = patch.date_start if "date_start" in given else row.date_start
    end = patch.date_end if "date_end" in given else row.date_end
    if start is None or end is None:
        raise ValidationFailed([FieldError("date_start" if start is None else "date_end", "may not be null")])
    if end <= start:
        raise ValidationFailed([FieldError("date_end", "must be after date_start")])
    revised = (start, end) != (row.date_start, row.date_end)
    row.date_start, row.date_end = start, end
    if "guests" in given:
        _set_guests(uow, actor, row, patch.guests or [], now)
    if "meta" in given:
        _check_caldav_meta(actor, patch.meta or {}, row.meta_extra or {})
        _check_meta_input(patch.meta or {})
        _apply_meta(row, _merged_meta(row, patch.meta or {}))
    _series_follows(actor, row, before)
    _all_day_follows(actor, row, before, said="meta" in given and ALL_DAY_META in (patch.meta or {}))
    if "guests" in given or "meta" in given:
        _check_busy_guests(row)
    if "status" in given and patch.status is not None and patch.status != row.status:
        revised = revised or _status_revises(row.status, patch.status.value)
        _transition(row, patch.status.value, "set status " + patch.status.value + " on")
    occurrences = _occurrence_changes(series_before, row)
    if not occurrences and not uow.changed(row):
        return  # every value given is the one it holds: no new version, history, event, push or webhook
    if revised or occurrences:  # new times, a new status, occurrences changed: a new revision (RFC 5545 §3.8.7.4)
        row.sequence += 1
    row.updated_at = now
    if not (occurrences and given == {"meta"} and set(patch.meta or {}) == {RECURRENCE_META}):
        _changed(uow, actor, row, before, "update", reason=reason)  # not when its occurrences are all it changed
    for change in occurrences:  # checked as the series' change is: only a slot claim of its own follows it
        _occurrence_changed(uow, actor, row, change, OverlapCheck.NONE, reason=reason)


def _all_day_follows(actor: Actor, row: AppointmentRow, before: _Before, *, said: bool) -> None:
    """An all-day appointment (``meta.all_day``, after the change) given times that are not midnights of its
    calendar's zone becomes timed, as an occurrence of an all-day series does; a change that says ``all_day: true``
    itself (``said``) with such times is refused (:mod:`caldav_bridge.model.all_day`). A CalDAV client's all-day
    event is dates, read as those midnights: its text is taken as written."""
    extra = row.meta_extra or {}
    moved = (before.start, before.end) != (row.date_start, row.date_end)
    if actor.channel == CALDAV_CHANNEL or extra.get(ALL_DAY_META) is not True or not (said or moved):
        return
    zone = row.calendar.timezone
    if said:
        _check_all_day(row.date_start, row.date_end, zone)
    elif not on_midnights(row.date_start, row.date_end, zone):
        row.meta_extra = {**extra, ALL_DAY_META: False}


def _check_all_day(start: datetime, end: datetime, zone: str) -> None:
    try:
        check_all_day(start, end, zone)
    except FieldValueError as exc:
        raise ValidationFailed([FieldError(exc.field, str(exc))]) from exc


def _series_follows(actor: Actor, row: AppointmentRow, before: _Before) -> None:
    """A series whose first occurrence a change moved takes its exceptions along (EXDATEs, RDATEs, its
    overrides' RECURRENCE-IDs, UNTIL: :func:`~caldav_bridge.model.series_move.series_moved`), so the same
    occurrences stay removed and moved. Not for a CalDAV client's write: its text says the exceptions it means."""
    if actor.channel == CALDAV_CHANNEL or row.date_start == before.start:
        return
    series = Series.of_meta(row.meta_extra)
    if series is None:
        return
    moved = series_moved(series, before.start, row.date_start, row.calendar.timezone)
    if moved is not series:
        row.meta_extra = {**(row.meta_extra or {}), RECURRENCE_META: moved.to_json()}


@dataclass(frozen=True)
class _SeriesVersion:
    """A series as an appointment has it, with what its occurrences are read against: the series' own texts and
    its first occurrence."""

    series: Series
    texts: SeriesTexts
    start: datetime
    end: datetime

    @classmethod
    def of(cls, row: AppointmentRow) -> _SeriesVersion | None:
        series = Series.of_meta(row.meta_extra)
        if series is None:
            return None
        location = location_text((row.meta_extra or {}).get("location"))
        return cls(series, SeriesTexts(row.name, row.description, location), row.date_start, row.date_end)

    def frame(self) -> tuple[object, ...]:
        """What its occurrences' original starts follow from: rule, RDATEs, zone, first occurrence."""
        return (self.series.rrule, self.series.rdates, self.series.timezone, self.start, self.end)


def _occurrence_changes(before: _SeriesVersion | None, row: AppointmentRow) -> list[tuple[Override, Override]]:
    """The occurrences a change of the series ``row`` (written; ``before``: as it was) changed one by one (an
    override or EXDATE added, changed or removed); none when it changed the series' rule or first occurrence (a
    change of the whole series), changed more than :data:`MAX_OCCURRENCE_CHANGES` of them at once (a client
    rewriting its series' exceptions wholesale: a change of the series) or was no series before or after."""
    after = _SeriesVersion.of(row)
    if before is None or after is None or before.frame() != after.frame():
        return []
    changes = occurrence_changes((before.series, before.texts), (after.series, after.texts), after.end - after.start)
    return changes if len(changes) <= MAX_OCCURRENCE_CHANGES else []


def delete(uow: UnitOfWork, actor: Actor, appointment_id: str, *, if_match: str | None = None) -> None:
    """Delete an appointment (kept as a tombstone so that history and sync can see it)."""
    actor.require("write")
    with uow:
        row = _changeable_row(uow, actor, appointment_id)
        _check_etag(row, if_match)
        _mark_deleted(uow, actor, row)
        _commit(uow, row)


def _mark_deleted(uow: UnitOfWork, actor: Actor, row: AppointmentRow, action: str = "delete") -> None:
    now = utcnow()
    before = _Before.of(row)
    row.deleted_at = now
    row.updated_at = now
    _changed(uow, actor, row, before, action, deleted=True)


def book(uow: UnitOfWork, actor: Actor, appointment_id: str, *, if_match: str | None = None) -> Stored:
    return _set_status(uow, actor, appointment_id, S.BOOKED, "book", if_match=if_match)


def cancel(
    uow: UnitOfWork, actor: Actor, appointment_id: str, request: CancelRequest, *, if_match: str | None = None
) -> Stored:
    return _set_status(uow, actor, appointment_id, S.CANCELLED, "cancel", reason=request.reason, if_match=if_match)


def reschedule(
    uow: UnitOfWork, actor: Actor, appointment_id: str, request: RescheduleRequest, *, if_match: str | None = None
) -> Stored:
    """Move an appointment to new times; its status becomes RESCHEDULED and the old times stay in history."""
    actor.require("write")
    with uow:
        row = _reschedule(uow, actor, appointment_id, request, if_match)
        return _commit(uow, row)


def _reschedule(
    uow: UnitOfWork, actor: Actor, appointment_id: str, request: RescheduleRequest, if_match: str | None
) -> AppointmentRow:
    row = _changeable_row(uow, actor, appointment_id)
    _check_etag(row, if_match)
    before = _Before.of(row)
    _transition(row, S.RESCHEDULED, "reschedule")
    row.date_start, row.date_end = request.date_start, request.date_end
    _series_follows(actor, row, before)
    _all_day_follows(actor, row, before, said=False)
    row.sequence += 1
    row.updated_at = utcnow()
    _changed(uow, actor, row, before, "reschedule", reason=request.reason)
    return row


def change_occurrence(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    recurrence_id: datetime,
    patch: OccurrencePatch,
    *,
    if_match: str | None = None,
) -> Occurrence:
    """Move, retitle or cancel one occurrence of a series (the one whose original start is ``recurrence_id``):
    its override (RFC 5545 RECURRENCE-ID) is made or changed in ``meta.recurrence``, so REST, feeds and the
    CalDAV item (re-rendered by the change's handler) all show it. The change is an :class:`OccurrenceChanged`:
    its handlers record it in the history and re-check a moved occurrence's time (as a reschedule's).

    Raises:
        NotFound: no such appointment, or no such occurrence of it.
        Conflict: the appointment is no series, or is cancelled; the new time is taken (``SlotUnavailable``).
        ValidationFailed: the occurrence's new times are not a valid interval.
    """
    actor.require("write")
    with uow:
        row = _changeable_row(uow, actor, appointment_id)
        _check_etag(row, if_match)
        series = _series_of(row, appointment_id)
        if not EARLIEST <= recurrence_id < LATEST:  # no appointment lies there (and its arithmetic would overflow)
            raise NotFound("occurrence", format_timestamp(recurrence_id))
        all_day_zone = row.calendar.timezone if (row.meta_extra or {}).get("all_day") is True else None
        current = occurrence_at(series, row.date_start, row.date_end, recurrence_id)
        changed = changed_occurrence(current, patch, all_day_zone)
        try:
            updated = with_override(series, row.date_start, row.calendar.timezone, changed)
        except (UnknownOccurrence, ValueError) as exc:
            raise NotFound("occurrence", format_timestamp(recurrence_id)) from exc
        row.meta_extra = {**(row.meta_extra or {}), RECURRENCE_META: updated.to_json()}
        row.sequence += 1
        row.updated_at = utcnow()
        overlap = OverlapCheck.CLAIMS if patch.allow_overlap else OverlapCheck.BUSY
        _occurrence_changed(uow, actor, row, (current, changed), overlap, reason=patch.reason)
        stored = _commit(uow, row)
        copy = applied(stored.appointment, changed.start, changed.end, changed)
        if changed.cancelled:
            copy = copy.model_copy(update={"status": S.CANCELLED})
        return Occurrence(copy, stored.etag, changed.recurrence_id)


def _series_of(row: AppointmentRow, appointment_id: str) -> Series:
    """The series of ``row``, whose occurrences may be changed one by one."""
    if row.status == S.CANCELLED:
        raise InvalidTransition(row.status, "change an occurrence of")
    series = Series.of_meta(row.meta_extra)
    if series is None:
        raise Conflict(f"appointment {appointment_id} is not a series: change it with PATCH /appointments/{{id}}")
    return series


def _occurrence_changed(
    uow: UnitOfWork,
    actor: Actor,
    row: AppointmentRow,
    change: tuple[Override, Override],
    overlap: OverlapCheck,
    *,
    reason: str | None = None,
) -> None:
    """Raise the :class:`OccurrenceChanged` of one occurrence of the series ``row`` (already written): ``change``
    is the occurrence before and after. Its handlers record it in the history and audit and re-check a moved
    occurrence's time as ``overlap`` says. Every channel's change of an occurrence is raised here: a REST change
    of one (:func:`change_occurrence`), a CalDAV client's new version of the series (:func:`_apply_patch`)."""
    before, after = change
    uow.add_event(
        OccurrenceChanged(
            actor=actor,
            appointment_id=row.id,
            calendar_id=row.calendar_id,
            action=OCCURRENCE_ACTION,
            old_status=row.status,
            new_status=row.status,
            old_start=row.date_start,
            new_start=row.date_start,
            old_end=row.date_end,
            new_end=row.date_end,
            reason=reason,
            before=before,
            after=after,
            changed=changed_fields(before, after),
            overlap=overlap,
        )
    )


def follow_up(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    request: FollowUpRequest,
) -> Stored:
    """The fitter-cockpit flow: a FOLLOW_UP for the same customer and opportunity, queued for Salesforce.

    It lands on ``request.calendar`` if given, else on the original appointment's calendar; a time taken by
    another appointment there is refused (:class:`SlotTaken`) unless ``request.allow_overlap``.
    """
    actor.require("write")
    with uow:
        original = _visible_row(uow, actor, appointment_id)
        source = appointment_from_row(original)
        calendar_id = request.calendar.id if request.calendar else original.calendar_id
        meta = {k: v for k, v in source.meta.model_dump(mode="json").items() if k != "salesforce"}
        meta.update(
            type=AppointmentType.FOLLOW_UP.value,
            salesforce={
                "opportunity_gid": source.meta.salesforce.opportunity_gid,
                "customer_gid": source.meta.salesforce.customer_gid,
            },
            follow_up_of=str(source.id),
        )
        draft_data = {
            "calendar": {"id": calendar_id},
            "date_start": request.date_start,
            "date_end": request.date_end,
            "name": request.name or f"Follow-up: {source.name}",
            "description": request.description,
            "guests": [g.model_dump(mode="json") for g in source.guests],
            "meta": meta,
            "status": S.BOOKED.value,
        }
    try:
        draft = AppointmentDraft.model_validate(draft_data)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc
    return create(uow, actor, draft, exclusive=not request.allow_overlap)


# --------------------------------------------------------------------------- in the caller's transaction
# (CalDAV: the storage plugin's transaction also writes the DAV item and its change log)


def create_in(
    uow: UnitOfWork, actor: Actor, draft: AppointmentDraft, *, appointment_id: str | None = None
) -> AppointmentRow:
    """Create an appointment in ``uow``'s open transaction, without committing."""
    actor.require("write")
    return _insert(uow, actor, draft, appointment_id)


def create_all_in(uow: UnitOfWork, actor: Actor, drafts: Sequence[tuple[str, AppointmentDraft]]) -> None:
    """Create appointments (id, draft) in ``uow``'s open transaction with one :func:`creates.write_new` (one
    many-row INSERT per table, one change-log revision per DAV collection), without committing; each draft is
    checked as :func:`create_in` checks it."""
    actor.require("write")
    now = utcnow()
    calendars: dict[str, CalendarRow] = {}
    rows = []
    for appointment_id, draft in drafts:
        calendar = calendars.get(draft.calendar.id)
        if calendar is None:
            calendar = calendars[draft.calendar.id] = _writable_calendar(uow, actor, draft.calendar.id, "calendar.id")
        rows.append(_new_row(actor, appointment_id, calendar, draft, now))
    creates.write_new(uow, rows, actor=actor, action="create", now=now)


def book_in(uow: UnitOfWork, actor: Actor, appointment_id: str) -> AppointmentRow:
    """:func:`book` in ``uow``'s open transaction, without committing."""
    actor.require("write")
    return _status_set(uow, actor, appointment_id, S.BOOKED, "book", None, None)


def cancel_in(uow: UnitOfWork, actor: Actor, appointment_id: str, request: CancelRequest) -> AppointmentRow:
    """:func:`cancel` in ``uow``'s open transaction, without committing."""
    actor.require("write")
    return _status_set(uow, actor, appointment_id, S.CANCELLED, "cancel", request.reason, None)


def reschedule_in(uow: UnitOfWork, actor: Actor, appointment_id: str, request: RescheduleRequest) -> AppointmentRow:
    """:func:`reschedule` in ``uow``'s open transaction, without committing."""
    actor.require("write")
    return _reschedule(uow, actor, appointment_id, request, None)


def update_in(
    uow: UnitOfWork, actor: Actor, appointment_id: str, patch: AppointmentPatch, *, reason: str | None = None
) -> AppointmentRow:
    """Apply ``patch`` in ``uow``'s open transaction, without committing (``reason`` goes to history)."""
    actor.require("write")
    row = _changeable_row(uow, actor, appointment_id)
    _apply_patch(uow, actor, row, patch, reason=reason)
    return row


def update_locked_in(
    uow: UnitOfWork, actor: Actor, row: AppointmentRow, patch: AppointmentPatch, *, reason: str | None = None
) -> AppointmentRow:
    """:func:`update_in` of a row the caller has read for update in ``uow``'s transaction (the CalDAV store
    locks an item's appointment before the item), without reading it again; the same checks."""
    actor.require("write")
    if row.deleted_at is not None or not actor.reaches(row.calendar_id):
        raise NotFound("appointment", row.id)
    actor.require_change(row.calendar_id)
    _apply_patch(uow, actor, row, patch, reason=reason)
    return row


def move_in(uow: UnitOfWork, actor: Actor, appointment_id: str, calendar_id: str) -> AppointmentRow:
    """Move an appointment to another calendar in ``uow``'s open transaction, without committing.

    The appointment keeps its id; its slot claim (if any) moves along, and a claim that overlaps
    another in the new calendar is a :class:`Conflict` (PostgreSQL's exclusion constraint; raised by
    the scheduling handler of the :class:`AppointmentMoved` event).
    """
    actor.require("write")
    row = _changeable_row(uow, actor, appointment_id)
    if row.calendar_id == calendar_id:
        return row
    calendar = _writable_calendar(uow, actor, calendar_id, "calendar.id")
    before = _Before.of(row)
    row.calendar_id = calendar.id
    row.calendar = calendar
    row.updated_at = utcnow()
    _changed(uow, actor, row, before, "move")  # the slot claim moves along (scheduling's handler)
    return row


def delete_in(uow: UnitOfWork, actor: Actor, appointment_id: str) -> None:
    """Delete (tombstone) an appointment in ``uow``'s open transaction, without committing."""
    actor.require("write")
    row = uow.appointments.get(appointment_id, for_update=True)
    if row is not None:
        _mark_deleted(uow, actor, row)


# --------------------------------------------------------------------------- changes an outside system reports


@dataclass(frozen=True)
class ExternalValues:
    """An appointment's own fields as an outside system now has them."""

    name: str
    description: str | None
    date_start: datetime
    date_end: datetime
    status: str


@dataclass(frozen=True)
class ExternalChange:
    """What an outside system (the Salesforce mirror) says happened to an appointment; ``None`` keeps a part.

    The source system decides: no transition rules, a CANCELLED appointment may change, a deleted one
    may come back (``deleted=False``). ``meta`` replaces the whole ``meta`` (validated as any ``meta``);
    ``calendar_id`` moves the appointment.
    """

    values: ExternalValues | None = None
    meta: dict[str, Any] | None = None
    guests: list[Guest] | None = None
    calendar_id: str | None = None
    deleted: bool | None = None


def apply_external_change(
    uow: UnitOfWork, actor: Actor, appointment_id: str, change: ExternalChange, *, action: str = "mirror"
) -> AppointmentRow | None:
    """Apply ``change`` in ``uow``'s open transaction, without committing; the row, or None if there is none.

    The change's event carries ``actor``: its channel decides the echo (the mirror's channel ``sync`` is not
    queued back to Salesforce); ``action`` is the audit action (``mirror``, ``reconcile``).
    """
    actor.require("write")
    row = uow.appointments.including_deleted(appointment_id)
    if row is None or not actor.reaches(row.calendar_id):
        return None
    before = _Before.of(row)
    now = utcnow()
    if change.deleted:
        if row.deleted_at is None:
            row.deleted_at = row.updated_at = now
            _changed(uow, actor, row, before, action, deleted=True)
        return row
    if change.calendar_id is not None and change.calendar_id != row.calendar_id:
        calendar = _writable_calendar(uow, actor, change.calendar_id, "calendar.id")
        row.calendar_id, row.calendar = calendar.id, calendar
    if change.deleted is False:
        row.deleted_at = None
    if change.values is not None:
        _apply_values(row, change.values)
    if change.meta is not None:
        _apply_meta(row, change.meta)
    if change.guests is not None:
        _set_guests(uow, actor, row, change.guests, now)
    row.updated_at = now
    _changed(uow, actor, row, before, action)
    return row


def _apply_values(row: AppointmentRow, values: ExternalValues) -> None:
    if (values.date_start, values.date_end) != (row.date_start, row.date_end) or _status_revises(
        row.status, values.status
    ):
        row.sequence += 1
    row.name, row.description = values.name, values.description
    row.date_start, row.date_end = values.date_start, values.date_end
    row.status = values.status


def meta_columns(meta: dict[str, Any]) -> dict[str, Any]:
    """A ``meta`` as stored: ``type`` and the Salesforce ids in columns, the rest as JSON (``meta_extra``)."""
    try:
        validated = Meta.model_validate(meta)
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc, prefix="meta")) from exc
    sf = validated.salesforce
    return {
        "type": validated.type.value,
        "sf_appointment_gid": sf.appointment_gid,
        "sf_opportunity_gid": sf.opportunity_gid,
        "sf_customer_gid": sf.customer_gid,
        "meta_extra": {k: v for k, v in validated.model_dump(mode="json").items() if k not in {"type", "salesforce"}},
    }


def get_row(uow: UnitOfWork, appointment_id: str) -> AppointmentRow | None:
    """The live appointment row, for callers already inside a transaction."""
    return uow.appointments.get(appointment_id)


# --------------------------------------------------------------------------- helpers


def _insert(uow: UnitOfWork, actor: Actor, draft: AppointmentDraft, appointment_id: str | None) -> AppointmentRow:
    """Write a new appointment with every side effect of a create (:func:`creates.write_new`, shared with the
    bulk writers), and return its stored row."""
    calendar = _writable_calendar(uow, actor, draft.calendar.id, "calendar.id")
    now = utcnow()
    new = _new_row(actor, appointment_id or str(uuid.uuid4()), calendar, draft, now)
    creates.write_new(uow, [new], actor=actor, action="create", now=now)
    row = uow.appointments.get(new.id)
    assert row is not None
    return row


def _new_row(
    actor: Actor, appointment_id: str, calendar: CalendarRow, draft: AppointmentDraft, now: datetime
) -> PlainRow:
    """The row of a new appointment from ``draft``, its ``meta`` checked as a create checks it."""
    meta = draft.meta.model_dump(mode="json")
    _check_caldav_meta(actor, meta, {})
    _check_meta_input(meta)
    if meta.get(ALL_DAY_META) is True:
        _check_all_day(draft.date_start, draft.date_end, calendar.timezone)
    return creates.new_row(appointment_id, calendar, draft, now)


def _set_status(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    status: str,
    action: str,
    *,
    reason: str | None = None,
    if_match: str | None = None,
) -> Stored:
    actor.require("write")
    with uow:
        row = _status_set(uow, actor, appointment_id, status, action, reason, if_match)
        return _commit(uow, row)


def _status_set(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    status: str,
    action: str,
    reason: str | None,
    if_match: str | None,
) -> AppointmentRow:
    """Move the appointment to ``status`` (an allowed transition) in ``uow``'s open transaction; the row."""
    row = _changeable_row(uow, actor, appointment_id)
    _check_etag(row, if_match)
    before = _Before.of(row)
    revised = _status_revises(row.status, status)
    _transition(row, status, action)
    row.sequence += revised
    row.updated_at = utcnow()
    _changed(uow, actor, row, before, action, reason=reason)
    return row


def _status_revises(old: str, new: str) -> bool:
    """Whether a status change is a new revision of the stored SEQUENCE (RFC 5545 §3.8.7.4: a new
    STATUS is). Not into CANCELLED: every rendering already adds one for a cancelled appointment
    (``converters.ical``), so that appointments cancelled before this rule keep their SEQUENCE."""
    return new != old and new != S.CANCELLED


def _transition(row: AppointmentRow, status: str, action: str) -> None:
    if status not in TRANSITIONS[row.status]:
        raise InvalidTransition(row.status, action)
    row.status = status


def _visible_row(uow: UnitOfWork, actor: Actor, appointment_id: str) -> AppointmentRow:
    row = uow.appointments.get(appointment_id)
    if row is None or not actor.reaches(row.calendar_id):
        raise NotFound("appointment", appointment_id)
    return row


def _changeable_row(uow: UnitOfWork, actor: Actor, appointment_id: str) -> AppointmentRow:
    """The appointment, locked for update: 404 outside the actor's reach, 403 in a calendar it only reads."""
    row = uow.appointments.get(appointment_id, for_update=True)
    if row is None or not actor.reaches(row.calendar_id):
        raise NotFound("appointment", appointment_id)
    actor.require_change(row.calendar_id)
    return row


def _check_calendar_filter(uow: UnitOfWork, actor: Actor, calendar_id: str) -> None:
    """A list filtered by a calendar that does not exist (or the actor does not reach) is an error, not empty."""
    if not actor.reaches(calendar_id) or uow.calendars.get(calendar_id) is None:
        raise ValidationFailed(
            [FieldError("calendar_id", f"unknown calendar {calendar_id[:64]!r}, or not one this token reaches")]
        )


def _writable_calendar(uow: UnitOfWork, actor: Actor, calendar_id: str, field: str) -> CalendarRow:
    calendar = uow.calendars.get(calendar_id)
    if calendar is None or not actor.reaches(calendar.id):
        raise ValidationFailed([FieldError(field, f"unknown calendar {calendar_id!r}")])
    actor.require_change(calendar.id)
    return calendar


def _check_etag(row: AppointmentRow, if_match: str | None) -> None:
    if if_match is None or if_match.strip() == "*":
        return
    current = etag_of(row)
    candidates = [tag.strip() for tag in if_match.split(",")]  # strong comparison: a weak tag matches nothing
    if current not in candidates:
        raise PreconditionFailed(if_match, current)


def _apply_meta(row: AppointmentRow, meta: dict[str, Any]) -> None:
    """Store a validated ``meta``: type and Salesforce ids in columns, the rest kept as JSON."""
    for column, value in meta_columns(meta).items():
        setattr(row, column, value)


def _check_caldav_meta(actor: Actor, meta: dict[str, Any], current: dict[str, Any]) -> None:
    """Refuse a change of ``meta.recurrence``, ``meta.ical_uid``, ``meta.organizer`` or ``meta.attendees`` from any
    channel but CalDAV: they say what the CalDAV client wrote (its series, its UID, its organizer and attendees),
    and only a client's write changes them."""
    if actor.channel == CALDAV_CHANNEL:
        return
    errors = [
        FieldError(f"meta.{key}", "read-only: set from what a CalDAV client wrote")
        for key in sorted(CALDAV_META)
        if key in meta and meta[key] != current.get(key)
    ]
    if errors:
        raise ValidationFailed(errors)


def _check_meta_input(meta: dict[str, Any]) -> None:
    """Refuse a ``meta.show_as`` that is no :class:`~caldav_bridge.model.appointment.ShowAs` (null removes it), and a
    ``kind``, ``categories`` or ``location`` of another shape than the schema's."""
    problem = show_as_error(meta)
    if problem is not None:
        raise ValidationFailed([FieldError(f"meta.{SHOW_AS_META}", problem)])
    try:
        check_input_keys(meta)
    except FieldValueError as exc:
        raise ValidationFailed([FieldError(f"meta.{exc.field}", str(exc))]) from None


def _check_busy_guests(row: AppointmentRow) -> None:
    try:
        check_busy_guests((row.meta_extra or {}).get("kind"), len(row.guests))
    except FieldValueError as exc:
        raise ValidationFailed([FieldError(exc.field, str(exc))]) from exc


def _merged_meta(row: AppointmentRow, patch: dict[str, Any]) -> dict[str, Any]:
    """``meta`` after a merge patch: keys set to null are removed, ``salesforce`` merges by key."""
    current = appointment_from_row(row).meta.model_dump(mode="json")
    for key, value in patch.items():
        if key == "salesforce" and isinstance(value, dict):
            current["salesforce"] = {**current["salesforce"], **value}
        elif value is None and key not in {"type", "salesforce"}:
            current.pop(key, None)
        else:
            current[key] = value
    return current


def _set_guests(uow: UnitOfWork, actor: Actor, row: AppointmentRow, guests: Iterable[Guest], now: datetime) -> None:
    """The appointment's guests and their people records (created if missing, else updated).

    A guest naming an existing person the actor does not see (``PeopleRepository.visible_to``) stays this
    appointment's own: names as given, no link, and the person's record is neither read nor changed.
    A guest no longer among them leaves ``meta.attendees`` too (:func:`_drop_guest_attendees`).
    """
    before = {g.person_id for g in row.guests if g.person_id is not None}
    rows = guest_rows(list(guests))
    ids = [g.person_id for g in rows if g.person_id is not None]
    existing = uow.people.existing(ids)
    visible = existing if actor.calendar_ids is None else uow.people.visible_to(actor.calendar_ids, ids)
    for guest in rows:
        if guest.person_id in existing and guest.person_id not in visible:
            guest.person_id = None
        if guest.person_id is None:
            continue
        person = uow.people.ensure(guest.person_id, now)
        for attr in ("first_name", "last_name", "timezone"):
            value = getattr(guest, attr)
            if value is not None and getattr(person, attr) != value:
                setattr(person, attr, value)
                person.updated_at = now
    row.guests = rows
    if actor.channel != CALDAV_CHANNEL:  # a client's PUT sets meta.attendees from its own text
        _drop_guest_attendees(row, before - {g.person_id for g in rows})


def _drop_guest_attendees(row: AppointmentRow, removed: set[str]) -> None:
    """Remove the ``meta.attendees`` entries (what a CalDAV client wrote) that name one of the ``removed`` guests by
    ``guest_id``, so that a guest removed or replaced on any channel but CalDAV leaves REST and the feeds as it
    leaves the CalDAV item (``dav.render`` drops its ATTENDEE). Attendees that are no guest (a colleague, an id
    that names nobody known) stay."""
    listed = (row.meta_extra or {}).get(ATTENDEES_META)
    if not removed or not isinstance(listed, list):
        return
    kept = [a for a in listed if not (isinstance(a, dict) and a.get("guest_id") in removed)]
    if len(kept) == len(listed):
        return
    meta = {k: v for k, v in (row.meta_extra or {}).items() if k != ATTENDEES_META}
    row.meta_extra = {**meta, ATTENDEES_META: kept} if kept else meta


@dataclass(frozen=True)
class _Before:
    """What a change's event reports as the old values."""

    status: str
    start: datetime
    end: datetime
    calendar_id: str

    @classmethod
    def of(cls, row: AppointmentRow) -> _Before:
        return cls(row.status, row.date_start, row.date_end, row.calendar_id)


def _changed(
    uow: UnitOfWork,
    actor: Actor,
    row: AppointmentRow,
    before: _Before,
    action: str,
    *,
    reason: str | None = None,
    deleted: bool = False,
) -> None:
    """Raise the change's event; the bus's handlers write its consequences (history, audit, outbox, webhooks,
    claims and chain, the CalDAV item) in this transaction. Creates raise theirs in :func:`creates.write_new`."""
    kind: type[AppointmentEvent]
    if deleted:
        kind = AppointmentDeleted
    elif row.status == S.CANCELLED:
        kind = AppointmentCancelled
    elif action == "reschedule" or (before.start, before.end) != (row.date_start, row.date_end):
        kind = AppointmentRescheduled
    elif before.calendar_id != row.calendar_id:
        kind = AppointmentMoved
    else:
        kind = AppointmentChanged
    uow.add_event(
        kind(
            actor=actor,
            appointment_id=row.id,
            calendar_id=row.calendar_id,
            action=action,
            old_status=before.status,
            new_status=row.status,
            old_start=before.start,
            new_start=row.date_start,
            old_end=before.end,
            new_end=row.date_end,
            reason=reason,
            old_calendar_id=before.calendar_id if before.calendar_id != row.calendar_id else None,
        )
    )


def _audit_reads(uow: UnitOfWork, actor: Actor, action: str, rows: Iterable[ReadRow]) -> None:
    """A read of ``rows``, audited when the read commits (before the caller returns any of it)."""
    uow.audit_reads(creates.reads_of(actor, action, [(row.id, row.calendar_id) for row in rows]))


def _commit(uow: UnitOfWork, row: AppointmentRow) -> Stored:
    try:
        uow.commit()
    except StaleDataError as exc:  # another writer changed it between our read and our write
        raise Conflict("the appointment was changed concurrently; fetch it again and retry") from exc
    return _stored(row)


def _stored(row: AppointmentRow) -> Stored:
    """A written ``row`` as :class:`Stored`, its model built now, while the session may still load what it lacks
    (reads build theirs from plain rows, ``store/plain_reads.py``)."""
    stored = Stored(row, etag_of(row))
    _ = stored.appointment
    return stored


def _encode_cursor(row: ReadRow) -> str:
    raw = json.dumps([format_timestamp(row.date_start), row.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, last_id = json.loads(raw)
        return parse_timestamp(start), str(last_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ValidationFailed([FieldError("cursor", "not a cursor this service issued")]) from exc
