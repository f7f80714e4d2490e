"""Import and export of appointments in other systems' formats (every format of :mod:`caldav_bridge.converters`).

Import (:func:`import_stream`, :func:`import_batch`) reads each item with the format's converter, finds
the calendar it belongs on, and upserts it by the source system's id: an :class:`ExternalRefRow`
``(format, source_id)`` remembers which appointment an item became, so importing the same item again
updates that appointment (or leaves it unchanged) instead of making a second one. Every appointment
created or changed gets its status history, outbox (Salesforce) and audit rows, as in
:mod:`caldav_bridge.services.appointments`.

* **Per item.** Each item gets an :class:`ItemResult`: ``created``, ``updated``, ``unchanged`` or
  ``error`` (with :class:`FieldError` s naming the *source* format's fields). A failed item writes nothing;
  the other items are still imported.
* **Chunks.** Items are written in chunks (default 1000) of bulk inserts, each chunk in a savepoint; if the
  database refuses a chunk (a concurrent import of the same item, say), the chunk is retried item by
  item so that only the offending item fails. Without ``atomic``/``dry_run`` each chunk is committed as
  it is done, so any number of items streams through in flat memory.
* **``atomic``.** One transaction for everything; if any item fails, nothing is written and every other
  item is reported ``skipped``.
* **``dry_run``.** Everything is done in one transaction that is then rolled back: the results say
  exactly what an import would do, and nothing is written.

Calendars (in this order): the ``calendar_id`` the caller gives (it applies to new appointments; one
imported before stays where it is); else the item's calendar hint, if its id is one of our calendar
ids; else a calendar whose name, or whose owner's username or display name, equals the hint's name
(ignoring case); else the item fails with an error naming the hint's field. Only calendars the actor
reaches are candidates.

Export (:func:`export_page`, :func:`export_stream`, :func:`render`) writes appointments matching the
list filters in a format, page by page; an appointment the format cannot carry (Calendly has no
INITIAL) is reported as an :class:`ExportError` instead of stopping the export.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from caldav_bridge.clock import utcnow
from caldav_bridge.converters import ConversionError, ConvertedAppointment, converter_names, get_converter
from caldav_bridge.converters.base import CalendarHint, Converter
from caldav_bridge.errors import DomainError, FieldError, InvalidTransition, NotFound, ValidationFailed
from caldav_bridge.infra.gc_pacing import fewer_collections
from caldav_bridge.model.appointment import Appointment, AppointmentStatus
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.model.requests import AppointmentPatch
from caldav_bridge.model.series import ICAL_UID_META
from caldav_bridge.services import appointments, creates
from caldav_bridge.services.actor import Actor
from caldav_bridge.services.appointments import TRANSITIONS
from caldav_bridge.services.import_queries import ImportQueries
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.services.validation import field_errors
from caldav_bridge.store.tables import (
    AppointmentRow,
)
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "STATUSES",
    "ExportError",
    "ExportPage",
    "ImportReport",
    "ImportSummary",
    "ItemResult",
    "MalformedItem",
    "UnknownFormat",
    "export_page",
    "export_stream",
    "import_batch",
    "import_stream",
    "render",
]

DEFAULT_CHUNK_SIZE = 1000
#: The statuses of an item's result. ``skipped``: valid, but not written because another item of an
#: ``atomic`` import failed.
STATUSES = ("created", "updated", "unchanged", "error", "skipped")

#: Where each format keeps the item's id and its status (for errors that name them).
_SOURCE_ID_FIELDS = {
    "blueprint": "appointment_id",
    "calendly": "uri",
    "timekit": "id",
    "onsched": "id",
    "canonical": "id",
    "ical": "uid",
    "ols": "id",
    "salesforce": "Id",
}
_STATUS_FIELDS = {"timekit": "state"}
#: Where each kind of calendar hint comes from, per format.
_HINT_FIELDS = {
    "blueprint": "provider_id",
    "calendly": "event_memberships.0.user",
    "timekit": "calendar.id",
    "onsched": "resourceId",
    "canonical": "calendar.id",
    "ical": "calendar_id",
    "ols": "calendar_id",
    "salesforce": "OwnerId",
}
#: The source fields of the canonical times, for formats whose times may lack a zone (read per calendar).
_TIME_FIELDS = {"ical": {"date_start": "dtstart", "date_end": "dtend"}}
_HINT_KINDS = {"provider": "provider", "user": "host user", "calendar": "calendar", "resource": "resource"}
_MAX_SOURCE_ID = 255  # external_refs.source_id
_UID_FIELD = f"meta.{ICAL_UID_META}"
_CONFLICT = "could not be stored: it conflicts with a concurrent change; import it again"


class UnknownFormat(NotFound):
    """No converter is registered under the asked-for name; the message lists the known ones."""

    title = "Unknown format"

    def __init__(self, name: str) -> None:
        self.known = tuple(converter_names())
        DomainError.__init__(self, f"unknown appointment format {name!r}; known formats: {', '.join(self.known)}")
        self.kind = "format"
        self.identifier = name


@dataclass(frozen=True)
class MalformedItem:
    """An item its reader could not even decode (a bad JSON line); it is reported as that item's error."""

    message: str


@dataclass(frozen=True)
class ItemResult:
    """What became of one item: ``status`` is one of :data:`STATUSES`; ``id`` is our appointment's id."""

    index: int
    status: str
    source_id: str | None = None
    id: str | None = None
    errors: tuple[FieldError, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "source_id": self.source_id, "status": self.status}
        if self.id is not None:
            out["id"] = self.id
        if self.errors:
            out["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return out


@dataclass
class ImportSummary:
    """Counts of an import's results."""

    dry_run: bool = False
    atomic: bool = False
    total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error: int = 0
    skipped: int = 0

    def add(self, result: ItemResult) -> None:
        self.total += 1
        setattr(self, result.status, getattr(self, result.status) + 1)

    @property
    def failed(self) -> bool:
        return self.error > 0

    @property
    def written(self) -> bool:
        """Whether anything was (or, in a dry run, would have been) stored."""
        return not self.dry_run and (self.created + self.updated) > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "error": self.error,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            "atomic": self.atomic,
        }


@dataclass(frozen=True)
class ImportReport:
    results: list[ItemResult]
    summary: ImportSummary


@dataclass(frozen=True)
class ExportError:
    """An appointment the format cannot carry; ``errors`` name canonical fields (``status``, ``meta.type``)."""

    id: str
    errors: tuple[FieldError, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "errors": [{"field": e.field, "message": e.message} for e in self.errors]}


@dataclass(frozen=True)
class ExportPage:
    items: list[dict[str, Any]]
    errors: list[ExportError]
    next_cursor: str | None


# --------------------------------------------------------------------------- import


def import_batch(
    uow: UnitOfWork,
    actor: Actor,
    format_name: str,
    payloads: Iterable[object],
    *,
    options: Any = None,
    dry_run: bool = False,
    atomic: bool = False,
    calendar_id: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> ImportReport:
    """Import ``payloads`` and return every item's result with the counts (see :func:`import_stream`)."""
    summary = ImportSummary(dry_run=dry_run, atomic=atomic)
    results = []
    for result in import_stream(
        uow,
        actor,
        format_name,
        payloads,
        options=options,
        dry_run=dry_run,
        atomic=atomic,
        calendar_id=calendar_id,
        chunk_size=chunk_size,
    ):
        summary.add(result)
        results.append(result)
    return ImportReport(results, summary)


def import_stream(
    uow: UnitOfWork,
    actor: Actor,
    format_name: str,
    payloads: Iterable[object],
    *,
    options: Any = None,
    dry_run: bool = False,
    atomic: bool = False,
    calendar_id: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int, int], object] | None = None,
) -> Iterator[ItemResult]:
    """Import ``payloads`` (decoded JSON items of ``format_name``, read lazily) and yield one result per item.

    The scope, the format and ``calendar_id`` are checked at once (``Forbidden``, :class:`UnknownFormat`,
    ``ValidationFailed`` naming ``calendar_id``); the items only as the results are consumed. Results come
    in item order, each chunk's once it is committed (with ``atomic`` or ``dry_run``: all at the end).
    ``options`` are the format's converter options (``None``: the defaults). ``progress`` is called with the
    items done and failed so far after every chunk of an ``atomic`` or ``dry_run`` import, whose results wait for
    the end (a chunked import's results come chunk by chunk).
    """
    actor.require("write")
    converter = _converter(format_name)
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    calendars = _Calendars.load(uow, actor, calendar_id)
    job = _Import(uow, actor, converter, options, calendars)
    if atomic or dry_run:
        return job.run_in_one_transaction(payloads, chunk_size, dry_run=dry_run, progress=progress)
    return job.run_chunked(payloads, chunk_size)


@dataclass
class _Entry:
    index: int
    item: ConvertedAppointment


@dataclass(frozen=True)
class _CalendarInfo:
    id: str
    name: str
    timezone: str


@dataclass
class _Calendars:
    """The calendars an import may put new appointments on, and how calendar hints find them."""

    explicit: _CalendarInfo | None
    by_id: dict[str, _CalendarInfo]
    by_name: dict[str, list[_CalendarInfo]]

    @classmethod
    def load(cls, uow: UnitOfWork, actor: Actor, calendar_id: str | None) -> _Calendars:
        reachable = actor.visible(None)
        with uow:
            rows = uow.repo(ImportQueries).calendars(reachable)
        by_id: dict[str, _CalendarInfo] = {}
        by_name: dict[str, list[_CalendarInfo]] = {}
        for cal_id, name, timezone, username, display_name in rows:
            info = _CalendarInfo(cal_id, name, timezone)
            by_id[cal_id] = info
            for key in {_fold(n) for n in (name, username, display_name) if n}:
                by_name.setdefault(key, []).append(info)
        explicit = None
        if calendar_id is not None:
            explicit = by_id.get(calendar_id)
            if explicit is None:
                raise ValidationFailed([FieldError("calendar_id", f"unknown calendar {calendar_id[:64]!r}")])
        return cls(explicit, by_id, by_name)

    def resolve(self, item: ConvertedAppointment) -> _CalendarInfo | FieldError:
        if self.explicit is not None:
            return self.explicit
        hint_field = _HINT_FIELDS.get(item.format, "calendar")
        hint = item.calendar_hint
        if hint is None:
            return FieldError(hint_field, "the item names no calendar, provider, host or resource; pass calendar_id")
        found = self.by_id.get(hint.id)
        if found is not None:
            return found
        candidates = self.by_name.get(_fold(hint.name), []) if hint.name else []
        if len(candidates) == 1:
            return candidates[0]
        what = f"{_HINT_KINDS.get(hint.kind, hint.kind)} {_describe(hint)}"
        if len(candidates) > 1:
            return FieldError(hint_field, f"{what} matches {len(candidates)} calendars by name; pass calendar_id")
        return FieldError(hint_field, f"no calendar this token reaches matches {what}; pass calendar_id")


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _describe(hint: CalendarHint) -> str:
    text = repr(hint.id[:80])
    return f"{text} ({hint.name[:80]!r})" if hint.name else text


class _Import:
    """One import run: converts items, groups them into chunks and writes each chunk."""

    def __init__(
        self, uow: UnitOfWork, actor: Actor, converter: Converter, options: Any, calendars: _Calendars
    ) -> None:
        self.uow = uow
        self.actor = actor
        self.converter = converter
        self.format = converter.name
        self.options = options
        self.calendars = calendars
        self.status_field = _STATUS_FIELDS.get(self.format, "status")
        self.id_field = _SOURCE_ID_FIELDS.get(self.format, "id")

    # -- driving

    def run_chunked(self, payloads: Iterable[object], chunk_size: int) -> Iterator[ItemResult]:
        with fewer_collections():
            for chunk, early in self._chunks(payloads, chunk_size):
                stored: list[ItemResult] = []
                if chunk:
                    with self.uow:
                        stored = self._write_safely(chunk)
                        self.uow.commit()
                yield from _in_order(stored, early)

    def run_in_one_transaction(
        self,
        payloads: Iterable[object],
        chunk_size: int,
        *,
        dry_run: bool,
        progress: Callable[[int, int], object] | None = None,
    ) -> Iterator[ItemResult]:
        results: list[ItemResult] = []
        failures = 0
        with self.uow, fewer_collections():
            for chunk, early in self._chunks(payloads, chunk_size):
                stored = self._write_safely(chunk) if chunk else []
                results.extend(_in_order(stored, early))
                self.uow.forget_loaded()  # flushed: keep the identity map small
                failures += sum(r.status == "error" for r in (*stored, *early))
                if progress is not None:
                    progress(len(results), failures)
            failed = any(r.status == "error" for r in results)
            if dry_run:
                self.uow.rollback()
                results = [replace(r, id=None) if r.status == "created" else r for r in results]  # never made
            elif failed:
                self.uow.rollback()
                results = [r if r.status == "error" else replace(r, status="skipped", id=None) for r in results]
            else:
                self.uow.commit()
        yield from results

    def _chunks(self, payloads: Iterable[object], chunk_size: int) -> Iterator[tuple[list[_Entry], list[ItemResult]]]:
        """Converted items in chunks of distinct source ids, with the results of the items that failed to convert."""
        chunk: list[_Entry] = []
        early: list[ItemResult] = []
        seen: set[str] = set()
        for index, payload in enumerate(payloads):
            converted = self._convert(index, payload)
            if isinstance(converted, ItemResult):
                early.append(converted)
                continue
            if converted.item.source_id in seen:  # the same item twice: the second updates the first
                yield chunk, early
                chunk, early, seen = [], [], set()
            chunk.append(converted)
            seen.add(converted.item.source_id)
            if len(chunk) >= chunk_size:
                yield chunk, early
                chunk, early, seen = [], [], set()
        if chunk or early:
            yield chunk, early

    def _convert(self, index: int, payload: object) -> _Entry | ItemResult:
        if isinstance(payload, MalformedItem):
            return ItemResult(index, "error", errors=(FieldError("(item)", payload.message),))
        try:
            item = self.converter.to_canonical(payload, self.options)
        except ConversionError as exc:
            return ItemResult(index, "error", self._raw_source_id(payload), errors=tuple(exc.errors))
        if len(item.source_id) > _MAX_SOURCE_ID:
            error = FieldError(self.id_field, f"longer than {_MAX_SOURCE_ID} characters")
            return ItemResult(index, "error", errors=(error,))
        return _Entry(index, item)

    def _raw_source_id(self, payload: object) -> str | None:
        """The id of an item that failed to convert, if it has a usable one, so that the caller can find it."""
        if not isinstance(payload, Mapping):
            return None
        value = payload.get(self.id_field)
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            return None
        text = str(value)
        return text if len(text) <= _MAX_SOURCE_ID else None

    # -- writing

    def _write_safely(self, chunk: list[_Entry]) -> list[ItemResult]:
        """Write a chunk in a savepoint; if the database (or a late check) refuses it, retry its items one
        by one, each in its own savepoint, so that only the offending item fails and writes nothing."""
        try:
            with self.uow.savepoint():
                return self._write(chunk)
        except (DBAPIError, StaleDataError, _ItemFailed):
            pass
        results = []
        for entry in chunk:
            try:
                with self.uow.savepoint():
                    results.extend(self._write([entry]))
            except _ItemFailed as exc:
                results.append(ItemResult(entry.index, "error", entry.item.source_id, errors=exc.errors))
            except (DBAPIError, StaleDataError):
                error = FieldError(
                    "(item)", "could not be stored: it conflicts with a concurrent change; import it again"
                )
                results.append(ItemResult(entry.index, "error", entry.item.source_id, errors=(error,)))
        return results

    def _write(self, chunk: list[_Entry]) -> list[ItemResult]:
        queries = self.uow.repo(ImportQueries)
        now = utcnow()
        source_ids = [e.item.source_id for e in chunk]
        refs: dict[str, tuple[int, str]] = {
            source_id: (ref_id, appointment_id)
            for ref_id, source_id, appointment_id in queries.refs_of(self.format, source_ids)
        }
        targets = {appointment_id for _, appointment_id in refs.values()}
        if self.format == "canonical":  # a canonical item's id is our id: it may already be here
            targets |= {s for s in source_ids if s not in refs}
        existing: dict[str, AppointmentRow] = {}
        if targets:
            existing = queries.lock_appointments(targets)

        results: list[ItemResult] = []
        creates = _Creates(self.format, self.actor, now)
        new_refs: list[dict[str, Any]] = []
        touched_refs: list[int] = []
        uids = _Uids.load(queries, self._wanted_uids(chunk, refs, existing))
        for entry in chunk:
            item = entry.item
            ref = refs.get(item.source_id)
            target = ref[1] if ref else (item.source_id if item.source_id in existing else None)
            if target is None:
                results.append(self._new(entry, uids, creates))
                continue
            row = existing.get(target)
            where = self.calendars.by_id.get(row.calendar_id) if row is not None else None
            localized = self._in_zone(item, where.timezone) if where is not None else item  # else: _update refuses
            if isinstance(localized, FieldError):
                results.append(ItemResult(entry.index, "error", item.source_id, target, (localized,)))
                continue
            item = localized
            try:
                status = self._update(row, target, item)
            except DomainError as exc:
                results.append(ItemResult(entry.index, "error", item.source_id, target, self._errors(exc)))
                continue
            if ref is None:
                new_refs.append(_ref_values(self.format, item.source_id, target, now))
            elif status == "updated":
                touched_refs.append(ref[0])
            results.append(ItemResult(entry.index, status, item.source_id, target))

        self.uow.flush()  # the updates' people changes first: the bulk statements below read and write people
        creates.write(self.uow)
        queries.add_refs(new_refs)
        queries.touch_refs(touched_refs, now)
        self.uow.flush()
        return results

    def _new(self, entry: _Entry, uids: _Uids, new_rows: _Creates) -> ItemResult:
        """A new appointment for ``entry`` on the calendar it resolves to (added to ``new_rows``), or its error."""
        item = entry.item
        calendar = self.calendars.resolve(item)
        if isinstance(calendar, FieldError):
            return ItemResult(entry.index, "error", item.source_id, errors=(calendar,))
        localized = self._in_zone(item, calendar.timezone)
        if isinstance(localized, FieldError):
            return ItemResult(entry.index, "error", item.source_id, errors=(localized,))
        appointment_id = item.source_id if self.format == "canonical" else str(uuid.uuid4())
        taken = uids.claim(calendar.id, _ical_uid(item) or appointment_id, appointment_id)
        if taken is not None:
            return ItemResult(entry.index, "error", item.source_id, errors=(taken,))
        new_rows.add(localized, appointment_id, calendar)
        return ItemResult(entry.index, "created", item.source_id, appointment_id)

    def _in_zone(self, item: ConvertedAppointment, zone: str) -> ConvertedAppointment | FieldError:
        """``item`` with its zone-less times (iCalendar floating times, all-day dates) read in ``zone``, the zone
        of the calendar it lands on, as a CalDAV PUT there reads them; or the error if they then make no
        appointment (named in the format's terms)."""
        try:
            return item.in_zone(zone)
        except ValueError as exc:
            field = getattr(exc, "field", "date_end")
            return FieldError(_TIME_FIELDS.get(self.format, {}).get(field, field), str(exc))

    def _wanted_uids(
        self, chunk: list[_Entry], refs: Mapping[str, tuple[int, str]], existing: Mapping[str, AppointmentRow]
    ) -> list[tuple[str, str]]:
        """``(calendar id, UID)`` of the chunk's new items that bring an iCalendar UID of their own."""
        wanted = []
        for entry in chunk:
            uid = _ical_uid(entry.item)
            if uid is None or entry.item.source_id in refs or entry.item.source_id in existing:
                continue
            calendar = self.calendars.resolve(entry.item)
            if not isinstance(calendar, FieldError):
                wanted.append((calendar.id, uid))
        return wanted

    def _errors(self, exc: DomainError) -> tuple[FieldError, ...]:
        if isinstance(exc, ValidationFailed):
            return tuple(exc.errors)
        return (FieldError(self.status_field if isinstance(exc, InvalidTransition) else self.id_field, exc.detail),)

    def _update(self, row: AppointmentRow | None, target: str, item: ConvertedAppointment) -> str:
        """Bring an appointment imported before up to date with ``item``: ``updated`` or ``unchanged``.

        The change goes through :func:`appointments.update_in`, as an API change would (history, outbox,
        audit, CalDAV item). What can be checked beforehand raises a ``DomainError`` before anything is
        touched; a refusal from ``update_in`` itself raises :class:`_ItemFailed` (the chunk is retried).
        """
        if row is None:
            raise NotFound("appointment", target)  # cannot happen: deletes are tombstones, refs cascade
        if row.deleted_at is not None:
            raise ValidationFailed([FieldError(self.id_field, f"its appointment {target} has been deleted here")])
        if not self.actor.reaches(row.calendar_id):
            raise ValidationFailed(
                [FieldError(self.id_field, "was imported into a calendar this token does not reach")]
            )
        current = appointment_from_row(row)
        current_meta = current.meta.model_dump(mode="json")
        incoming_meta = item.meta.model_dump(mode="json")
        guests = [g.model_dump(mode="json") for g in item.guests]
        if (
            current.name == item.name
            and current.description == item.description
            and current.date_start == item.date_start
            and current.date_end == item.date_end
            and current.status == item.status
            and [g.model_dump(mode="json") for g in current.guests] == guests
            and current_meta == _merged_meta(current_meta, incoming_meta)
        ):
            return "unchanged"
        if row.status == AppointmentStatus.CANCELLED:
            raise InvalidTransition(row.status, "change")
        if item.status != row.status and item.status not in TRANSITIONS[row.status]:
            raise InvalidTransition(row.status, f"set status {item.status.value} on")
        meta_patch = dict(incoming_meta)
        meta_patch["salesforce"] = {k: v for k, v in incoming_meta.get("salesforce", {}).items() if v is not None}
        patch = {
            "name": item.name,
            "description": item.description,
            "date_start": item.date_start,
            "date_end": item.date_end,
            "guests": guests,
            "meta": meta_patch,
            "status": item.status,
        }
        try:
            appointments.update_in(self.uow, self.actor, target, AppointmentPatch.model_validate(patch))
        except DomainError as exc:
            raise _ItemFailed(self._errors(exc)) from exc
        except ValidationError as exc:
            raise _ItemFailed(tuple(field_errors(exc))) from exc
        return "updated"


class _ItemFailed(Exception):
    """An item failed after its chunk had started writing: the chunk's savepoint must be rolled back."""

    def __init__(self, errors: tuple[FieldError, ...]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def _ical_uid(item: ConvertedAppointment) -> str | None:
    """The iCalendar UID an item brings (``meta.ical_uid``: a canonical copy of an event a CalDAV client made)."""
    uid = (item.meta.model_extra or {}).get(ICAL_UID_META)
    return uid if isinstance(uid, str) and uid else None


@dataclass
class _Uids:
    """The iCalendar UIDs taken on the calendars a chunk creates appointments on: one calendar never holds two
    events with one UID (RFC 4791 §4.1 ``no-uid-conflict``; feeds and CalDAV show an appointment under
    ``meta.ical_uid``, else its id). A new appointment whose UID is taken there is refused, naming the event."""

    #: (calendar id, UID) → (appointment id, href): what holds it (an appointment, or a CalDAV object).
    taken: dict[tuple[str, str], tuple[str | None, str | None]]

    @classmethod
    def load(cls, queries: ImportQueries, wanted: Iterable[tuple[str, str]]) -> _Uids:
        pairs = set(wanted)
        if not pairs:
            return cls({})
        holders = queries.uid_holders({c for c, _ in pairs}, {u for _, u in pairs})
        return cls({(c, uid): (a, href) for c, uid, a, href in holders if (c, uid) in pairs})

    def claim(self, calendar_id: str, uid: str, appointment_id: str) -> FieldError | None:
        """Take ``uid`` on the calendar for ``appointment_id``; if something holds it already, the error saying so."""
        holder = self.taken.get((calendar_id, uid))
        if holder is None:
            self.taken[(calendar_id, uid)] = (appointment_id, None)
            return None
        held_by, href = holder
        what = f"appointment {held_by}" if held_by else f"the CalDAV object {href!r}"
        return FieldError(
            _UID_FIELD,
            f"the calendar already has the event with UID {uid[:200]!r}: {what} (a calendar holds one event per "
            "UID); import it with that id to change it, or without meta.ical_uid to make it a new event",
        )


def _merged_meta(current: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """The format's ``meta`` keys replace ours; keys added here stay; Salesforce ids merge, a null keeps ours."""
    merged = dict(current)
    for key, value in incoming.items():
        if key == "salesforce" and isinstance(value, dict):
            merged["salesforce"] = {
                **current.get("salesforce", {}),
                **{k: v for k, v in value.items() if v is not None},
            }
        else:
            merged[key] = value
    return merged


def _ref_values(format_name: str, source_id: str, appointment_id: str, now: datetime) -> dict[str, Any]:
    return {
        "format": format_name,
        "source_id": source_id,
        "appointment_id": appointment_id,
        "created_at": now,
        "updated_at": now,
    }


@dataclass
class _Creates:
    """New appointments of one chunk: written with every side effect of a create by
    :func:`caldav_bridge.services.creates.write_new` (one bulk insert per table), plus their external refs."""

    format: str
    actor: Actor
    now: datetime
    rows: list[creates.PlainRow] = field(default_factory=list)
    details: list[str | None] = field(default_factory=list)
    refs: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: ConvertedAppointment, appointment_id: str, calendar: _CalendarInfo) -> None:
        now = self.now
        created_at = min(item.created_at, now) if item.created_at else now
        self.rows.append(creates.new_row(appointment_id, calendar, item, now, created_at=created_at))
        self.details.append(f"import {self.format} {item.source_id}")
        self.refs.append(_ref_values(self.format, item.source_id, appointment_id, now))

    def write(self, uow: UnitOfWork) -> None:
        if not self.rows:
            return
        creates.write_new(
            uow, self.rows, actor=self.actor, action="create", now=self.now, details=self.details, bulk=True
        )
        uow.repo(ImportQueries).add_refs(self.refs)


def _in_order(stored: Sequence[ItemResult], early: Sequence[ItemResult]) -> list[ItemResult]:
    return sorted([*stored, *early], key=lambda r: r.index)


def _converter(format_name: str) -> Converter:
    try:
        return get_converter(format_name)
    except LookupError:
        raise UnknownFormat(format_name) from None


# --------------------------------------------------------------------------- export


def render(format_name: str, appointment: Appointment, options: Any = None) -> dict[str, Any]:
    """One appointment in ``format_name``. Raises :class:`UnknownFormat`, or ``ConversionError`` naming
    the canonical field the format has no code for."""
    return _converter(format_name).from_canonical(appointment, options)


def export_page(
    uow: UnitOfWork,
    actor: Actor,
    format_name: str,
    filters: AppointmentFilters,
    *,
    options: Any = None,
    limit: int,
    cursor: str | None = None,
) -> ExportPage:
    """A page of the appointments matching ``filters`` (as :func:`appointments.list_appointments` lists
    them, audited as reads), written in ``format_name``; ``next_cursor`` continues it."""
    entries, next_cursor = _export(uow, actor, _converter(format_name), filters, options, limit, cursor)
    items = [e for e in entries if not isinstance(e, ExportError)]
    errors = [e for e in entries if isinstance(e, ExportError)]
    return ExportPage(items, errors, next_cursor)


def export_stream(
    uow: UnitOfWork,
    actor: Actor,
    format_name: str,
    filters: AppointmentFilters,
    *,
    options: Any = None,
    page_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[dict[str, Any] | ExportError]:
    """Every appointment matching ``filters``, in ``format_name`` and in list order, a page (one
    transaction) at a time. The scope and the format are checked at once."""
    actor.require("read")
    converter = _converter(format_name)

    def pages() -> Iterator[dict[str, Any] | ExportError]:
        cursor: str | None = None
        while True:
            entries, cursor = _export(uow, actor, converter, filters, options, page_size, cursor)
            yield from entries
            if cursor is None:
                return

    return pages()


def _export(
    uow: UnitOfWork,
    actor: Actor,
    converter: Converter,
    filters: AppointmentFilters,
    options: Any,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any] | ExportError], str | None]:
    page = appointments.list_appointments(uow, actor, filters, limit=limit, cursor=cursor)
    entries: list[dict[str, Any] | ExportError] = []
    for stored in page.items:
        try:
            entries.append(converter.from_canonical(stored.appointment, options))
        except ConversionError as exc:
            entries.append(ExportError(str(stored.appointment.id), tuple(exc.errors)))
    return entries, page.next_cursor
