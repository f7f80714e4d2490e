"""Repositories: queries and additions over one session. They never commit."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    String,
    Table,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caldav_bridge.model.appointment import SHOW_AS_META, AppointmentStatus, ShowAs
from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.store import auth_clock, encoded_copies, page_filters, plain_reads, read_audit, read_spool
from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.dav_ranges import reaching_from_before
from caldav_bridge.store.plain_rows import PlainRow
from caldav_bridge.store.read_audit import FOLD_BATCHES, FOLD_READS, Folded
from caldav_bridge.store.tables import (
    ApiTokenRow,
    AppointmentGuestRow,
    AppointmentRow,
    AuditRow,
    Base,
    CalendarRow,
    IdempotencyRow,
    OutboxRow,
    PersonRow,
    StatusHistoryRow,
    UserRow,
)

__all__ = [
    "APPOINTMENT_COLUMNS",
    "GUEST_COLUMNS",
    "PERSON_COLUMNS",
    "AppointmentRepository",
    "AuditRepository",
    "CalendarRepository",
    "IdempotencyRepository",
    "OutboxRepository",
    "PeopleRepository",
    "UserRepository",
    "occupies_time",
]


def occupies_time() -> ColumnElement[bool]:
    """The appointments whose time is taken: not shown as free (``meta.show_as`` ``free``, which CalDAV's
    ``TRANSP:TRANSPARENT`` sets); availability and the slot check leave the others out."""
    show_as = AppointmentRow.meta_extra[SHOW_AS_META].as_string()
    return or_(show_as.is_(None), show_as != ShowAs.FREE.value)


def _table(model: type[Any]) -> Table:
    """The mapped class's table."""
    return model.__table__


#: Columns of :meth:`AppointmentRepository.insert_new`'s tuples, in order.
APPOINTMENT_COLUMNS = (
    "id",
    "calendar_id",
    "name",
    "description",
    "type",
    "status",
    "date_start",
    "date_end",
    "sf_appointment_gid",
    "sf_opportunity_gid",
    "sf_customer_gid",
    "meta_extra",
    "created_at",
    "updated_at",
    "deleted_at",
    "version",
    "sequence",
)
GUEST_COLUMNS = ("appointment_id", "position", "person_id", "first_name", "last_name", "timezone", "extra")
#: A person's names and zone, as guests write them over it.
PERSON_COLUMNS = ("first_name", "last_name", "timezone")


class AppointmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: AppointmentRow) -> None:
        self.session.add(row)

    def get(self, appointment_id: str, *, for_update: bool = False) -> AppointmentRow | None:
        stmt = select(AppointmentRow).where(AppointmentRow.id == appointment_id, AppointmentRow.deleted_at.is_(None))
        if for_update:
            stmt = stmt.with_for_update(of=AppointmentRow)
        return self.session.scalars(stmt).unique().one_or_none()

    def insert_new(self, appointments: Sequence[Sequence[Any]], guests: Sequence[Sequence[Any]]) -> None:
        """New appointments (:data:`APPOINTMENT_COLUMNS` tuples) and their guests (:data:`GUEST_COLUMNS`), each in
        one many-row INSERT through the driver (``store.bulk_insert``)."""
        insert_many(self.session, _table(AppointmentRow), APPOINTMENT_COLUMNS, appointments)
        insert_many(self.session, _table(AppointmentGuestRow), GUEST_COLUMNS, guests)
        encoded_copies.write(self.session, (row[0] for row in appointments))

    def including_deleted(self, appointment_id: str) -> AppointmentRow | None:
        """The row, deleted (a tombstone) or not; from the session if it is loaded already."""
        return self.session.get(AppointmentRow, appointment_id)

    def by_ids(self, ids: Iterable[str]) -> dict[str, AppointmentRow]:
        """The rows of ``ids``, tombstones included, by id (one query)."""
        wanted = list(set(ids))
        if not wanted:
            return {}
        stmt = select(AppointmentRow).where(AppointmentRow.id.in_(wanted))
        return {row.id: row for row in self.session.scalars(stmt)}

    def live_meta_mentioning(self, key: str) -> list[dict[str, Any]]:
        """``meta_extra`` of the live appointments whose meta's JSON text contains ``key`` (callers check the key)."""
        stmt = select(AppointmentRow.meta_extra).where(
            AppointmentRow.deleted_at.is_(None), cast(AppointmentRow.meta_extra, String).like(f"%{key}%")
        )
        return [extra or {} for extra in self.session.scalars(stmt)]

    def record_sf_appointment_gid(self, appointment_id: str, gid: str) -> None:
        """Set ``meta.salesforce.appointment_gid`` where none is set (a new version; no domain event: the
        sync records the id Salesforce gave the appointment's own record)."""
        self.session.execute(
            update(AppointmentRow)
            .where(AppointmentRow.id == appointment_id, AppointmentRow.sf_appointment_gid.is_(None))
            .values(sf_appointment_gid=gid, version=AppointmentRow.version + 1)
            .execution_options(synchronize_session=False)
        )
        encoded_copies.write(self.session, [appointment_id])

    def search_plain(
        self,
        filters: AppointmentFilters,
        limit: int,
        *,
        calendar_ids: Sequence[str] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[PlainRow]:
        """:meth:`search` as plain data (``store/plain_reads.py``: no ORM objects), for reads."""
        page = self._filtered(filters, calendar_ids, after, plain_reads.page_select(self.session))
        return plain_reads.plain_rows(self.session, page, limit)

    def search_encoded(
        self,
        filters: AppointmentFilters,
        limit: int,
        encode: Callable[[PlainRow], str],
        *,
        calendar_ids: Sequence[str] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> tuple[list[plain_reads.EncodedRow], int]:
        """:meth:`search_plain` with each appointment's canonical JSON as text, encoded by the database in the
        same statement (``encode``: for a row whose stored id is not in canonical form), and the authorisation
        clock that statement saw."""
        page = self._filtered(filters, calendar_ids, after, plain_reads.encoded_select(self.session))
        return plain_reads.encoded_rows(self.session, page, limit, encode)

    def get_encoded(
        self, appointment_id: str, encode: Callable[[PlainRow], str]
    ) -> tuple[plain_reads.EncodedRow | None, int]:
        """:meth:`get_plain` with the appointment's canonical JSON as text, encoded by the database (``encode``: for
        a stored id not in canonical form), and the authorisation clock the same statement saw."""
        return plain_reads.encoded_row(self.session, appointment_id, encode)

    def stale_encoded(self, limit: int) -> list[str]:
        """Up to ``limit`` live appointments whose stored JSON copy (``store/encoded_copies.py``) is missing or old."""
        return encoded_copies.stale(self.session, limit)

    def write_encoded(self, ids: Iterable[str]) -> int:
        """Write the stored JSON copies of ``ids`` as the rows are now; how many were written."""
        return encoded_copies.write(self.session, ids)

    def get_plain(self, appointment_id: str) -> PlainRow | None:
        """:meth:`get` as plain data, for reads."""
        return plain_reads.plain_row(self.session, appointment_id)

    def search(
        self,
        filters: AppointmentFilters,
        limit: int,
        *,
        calendar_ids: Sequence[str] | None = None,
        after: tuple[datetime, str] | None = None,
    ) -> list[AppointmentRow]:
        """Rows matching ``filters`` in ``calendar_ids`` (``None``: any calendar), in (date_start, id) order, at
        most ``limit``; ``after`` is the keyset cursor, the (date_start, id) of the previous page's last row.
        ``filters.calendar_id`` is for the service to narrow ``calendar_ids`` with (the actor's reach)."""
        page = self._filtered(filters, calendar_ids, after, page_filters.ROWS)
        stmt = page.statement.order_by(AppointmentRow.date_start, AppointmentRow.id).limit(limit)
        return list(self.session.scalars(stmt, page.values).unique())

    def count(self, filters: AppointmentFilters, *, calendar_ids: Sequence[str] | None = None) -> int:
        page = self._filtered(filters, calendar_ids, None, page_filters.ROWS)
        stmt = select(func.count()).select_from(page.statement.subquery())
        return int(self.session.scalar(stmt, page.values) or 0)

    def _filtered(
        self,
        q: AppointmentFilters,
        calendar_ids: Sequence[str] | None,
        after: tuple[datetime, str] | None,
        base: Select[Any],
    ) -> page_filters.Filtered:
        """``base`` narrowed to ``q``, the calendars, ``after`` (``store/page_filters.py``)."""
        earlier = reaching_from_before(self.session, calendar_ids, q.start) if q.start is not None else []
        dialect = self.session.get_bind().dialect.name
        return page_filters.filtered(dialect, base, q, calendar_ids=calendar_ids, after=after, earlier=earlier)

    def count_no_shows(self) -> int:
        """Live appointments marked as no-shows (``meta.no_show``)."""
        stmt = (
            select(func.count())
            .select_from(AppointmentRow)
            .where(AppointmentRow.deleted_at.is_(None), AppointmentRow.meta_extra["no_show"].as_boolean().is_(True))
        )
        return int(self.session.scalar(stmt) or 0)

    def first_overlapping(self, calendar_id: str, start: datetime, end: datetime) -> AppointmentRow | None:
        """The earliest live, not cancelled appointment on ``calendar_id`` overlapping ``[start, end)`` that
        occupies its time (:func:`occupies_time`)."""
        stmt = (
            select(AppointmentRow)
            .where(
                AppointmentRow.calendar_id == calendar_id,
                AppointmentRow.deleted_at.is_(None),
                AppointmentRow.status != AppointmentStatus.CANCELLED.value,
                AppointmentRow.date_start < end,
                AppointmentRow.date_end > start,
                occupies_time(),
            )
            .order_by(AppointmentRow.date_start, AppointmentRow.id)
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def add_history(self, row: StatusHistoryRow) -> None:
        self.session.add(row)

    def history(self, appointment_id: str) -> list[StatusHistoryRow]:
        stmt = (
            select(StatusHistoryRow)
            .where(StatusHistoryRow.appointment_id == appointment_id)
            .order_by(StatusHistoryRow.id)
        )
        return list(self.session.scalars(stmt))


def insert_if_missing(session: Session, table: type[Base], values: dict[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL: concurrent inserts of one key both succeed,
    and neither is an error on the database server (its log, its failed transaction); whether this one added the
    row."""
    statement = _upsert_insert(session)(table).values(**values).on_conflict_do_nothing()
    result = session.execute(statement, execution_options={"preserve_rowcount": True})  # after the autoflush
    return typing.cast(CursorResult[Any], result).rowcount == 1


def _upsert_insert(session: Session) -> Callable[..., Any]:
    """The session's dialect's ``insert`` construct (the one with ``on_conflict_do_nothing``)."""
    return postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


class PeopleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: PersonRow) -> None:
        self.session.add(row)

    def write_names(self, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> None:
        """Insert people (``inserts``: id, :data:`PERSON_COLUMNS`, created/updated; a racing insert is fine) and set
        the names of others (``updates``: the same keys prefixed ``b_``), each in one statement."""
        session = self.session
        people = _table(PersonRow)
        if inserts:
            session.execute(_upsert_insert(session)(people).on_conflict_do_nothing(), inserts)
        if updates:
            stmt = (
                update(people)
                .where(people.c.id == bindparam("b_id"))
                .values({k: bindparam(f"b_{k}") for k in (*PERSON_COLUMNS, "updated_at")})
            )
            session.execute(stmt, updates)
            # People loaded in this session (a CalDAV PUT reads its attendees' people) must not show the old names.
            changed = {u["b_id"] for u in updates}
            for obj in list(session.identity_map.values()):
                if isinstance(obj, PersonRow) and obj.id in changed:
                    session.expire(obj)

    def ensure(self, person_id: str, now: datetime) -> PersonRow:
        """The person with ``person_id``, inserted if missing; safe when two transactions race to insert it."""
        insert_if_missing(self.session, PersonRow, {"id": person_id, "created_at": now, "updated_at": now})
        person = self.session.get(PersonRow, person_id)
        assert person is not None
        return person

    def existing(self, ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(ids))
        return set(self.session.scalars(select(PersonRow.id).where(PersonRow.id.in_(wanted)))) if wanted else set()

    def visible_to(self, calendar_ids: Iterable[str] | None, ids: Iterable[str]) -> set[str]:
        """The existing people among ``ids`` an actor reaching ``calendar_ids`` (None: every calendar) may see.

        A person is seen only through an appointment (not deleted) in one of those calendars that has them
        as a guest. Writes link a guest to an existing person only if its actor sees them
        (:func:`caldav_bridge.services.appointments` and ``creates``), so a guest id alone reveals nothing.
        """
        wanted = sorted(set(ids))
        if calendar_ids is None or not wanted:
            return self.existing(wanted)
        g, a = AppointmentGuestRow, AppointmentRow
        stmt = (
            select(g.person_id)
            .join(a, a.id == g.appointment_id)
            .where(g.person_id.in_(wanted), a.calendar_id.in_(list(calendar_ids)), a.deleted_at.is_(None))
        )
        return {p for p in self.session.scalars(stmt) if p is not None}

    def names_if_visible(
        self, calendar_ids: Iterable[str] | None, ids: Iterable[str]
    ) -> tuple[dict[str, tuple[Any, ...]], set[str]]:
        """One query for a write's guests: (first name, last name, zone) of the existing people among ``ids``,
        and which of them an actor reaching ``calendar_ids`` may see (:meth:`visible_to`'s rule)."""
        wanted = sorted(set(ids))
        if not wanted:
            return {}, set()
        p, g, a = PersonRow, AppointmentGuestRow, AppointmentRow
        if calendar_ids is None:
            seen_by: Any = true()
        else:
            seen_by = (
                select(g.person_id)
                .join(a, a.id == g.appointment_id)
                .where(g.person_id == p.id, a.calendar_id.in_(list(calendar_ids)), a.deleted_at.is_(None))
                .exists()
            )
        stmt = select(p.id, p.first_name, p.last_name, p.timezone, seen_by).where(p.id.in_(wanted))
        names: dict[str, tuple[Any, ...]] = {}
        seen: set[str] = set()
        for person_id, first, last, zone, visible in self.session.execute(stmt):
            names[person_id] = (first, last, zone)
            if visible:
                seen.add(person_id)
        return names, seen

    def by_ids(self, ids: Iterable[str]) -> dict[str, PersonRow]:
        wanted = sorted(set(ids))
        return (
            {p.id: p for p in self.session.scalars(select(PersonRow).where(PersonRow.id.in_(wanted)))} if wanted else {}
        )


class CalendarRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: CalendarRow) -> None:
        self.session.add(row)

    def get(self, calendar_id: str) -> CalendarRow | None:
        return self.session.get(CalendarRow, calendar_id)

    def lock(self, calendar_id: str) -> None:
        """Lock the calendar's row until the transaction ends (PostgreSQL; SQLite serialises writers anyway)."""
        self.session.execute(select(CalendarRow.id).where(CalendarRow.id == calendar_id).with_for_update())

    def search(self, calendar_ids: Sequence[str] | None = None) -> list[CalendarRow]:
        stmt = select(CalendarRow).order_by(CalendarRow.name, CalendarRow.id)
        if calendar_ids is not None:
            stmt = stmt.where(CalendarRow.id.in_(list(calendar_ids)))
        return list(self.session.scalars(stmt))

    def ids_owned_by(self, user_id: str) -> list[str]:
        return list(self.session.scalars(select(CalendarRow.id).where(CalendarRow.owner_user_id == user_id)))

    def first_owned_by(self, user_id: str) -> str | None:
        """The id of ``user_id``'s oldest calendar."""
        stmt = select(CalendarRow.id).where(CalendarRow.owner_user_id == user_id).order_by(CalendarRow.created_at)
        return self.session.scalars(stmt.limit(1)).first()

    def without_team(self, kind: str) -> list[CalendarRow]:
        """Calendars of ``kind`` that belong to no team."""
        stmt = select(CalendarRow).where(CalendarRow.kind == kind, CalendarRow.team_id.is_(None))
        return list(self.session.scalars(stmt))

    def owned_of_kind(self, kind: str) -> list[CalendarRow]:
        """Calendars of ``kind`` that have an owner, oldest first."""
        stmt = (
            select(CalendarRow)
            .where(CalendarRow.kind == kind, CalendarRow.owner_user_id.is_not(None))
            .order_by(CalendarRow.created_at, CalendarRow.id)
        )
        return list(self.session.scalars(stmt))

    def ensure(self, values: dict[str, Any]) -> None:
        """Insert a calendar unless one with its id exists."""
        insert_if_missing(self.session, CalendarRow, values)

    def find(self, name: str, kind: str) -> CalendarRow | None:
        stmt = select(CalendarRow).where(CalendarRow.name == name, CalendarRow.kind == kind)
        return self.session.scalars(stmt).first()


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: UserRow) -> None:
        self.session.add(row)

    def get(self, user_id: str) -> UserRow | None:
        return self.session.get(UserRow, user_id)

    def by_username(self, username: str) -> UserRow | None:
        return self.session.scalars(select(UserRow).where(UserRow.username == username)).one_or_none()

    def by_email(self, email: str) -> UserRow | None:
        """A user whose email is ``email``, ignoring case (``email`` given in lower case)."""
        return self.session.scalars(select(UserRow).where(func.lower(UserRow.email) == email).limit(1)).first()

    def search(self) -> list[UserRow]:
        return list(self.session.scalars(select(UserRow).order_by(UserRow.username)))

    def add_token(self, row: ApiTokenRow) -> None:
        self.session.add(row)

    def token_by_hash(self, token_hash: str) -> ApiTokenRow | None:
        stmt = select(ApiTokenRow).where(ApiTokenRow.token_hash == token_hash)
        return self.session.scalars(stmt).unique().one_or_none()

    def get_token(self, token_id: str) -> ApiTokenRow | None:
        return self.session.get(ApiTokenRow, token_id)

    def auth_generation(self) -> int:
        """The authorisation clock (``store/auth_clock.py``): moves whenever what a token stands for may change."""
        return auth_clock.generation(self.session)

    def tokens_of(self, user_id: str) -> list[ApiTokenRow]:
        stmt = select(ApiTokenRow).where(ApiTokenRow.user_id == user_id).order_by(ApiTokenRow.created_at)
        return list(self.session.scalars(stmt).unique())


#: Outbox states of changes not yet written to Salesforce.
WAITING = ("pending", "inflight")


class OutboxRepository:
    """The Salesforce outbox: one row per change to push; claimed, settled, retried by the push."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: OutboxRow) -> None:
        self.session.add(row)

    def for_appointment(self, appointment_id: str) -> list[OutboxRow]:
        stmt = select(OutboxRow).where(OutboxRow.appointment_id == appointment_id).order_by(OutboxRow.id)
        return list(self.session.scalars(stmt))

    def due(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Up to ``limit`` rows waiting and due at ``now``, oldest first; on PostgreSQL locked, skipping locked ones."""
        stmt = (
            select(OutboxRow)
            .where(OutboxRow.state.in_(WAITING), OutboxRow.available_at <= now)
            .order_by(OutboxRow.id)
            .limit(limit)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(self.session.scalars(stmt))

    def held(self, appointment_ids: Iterable[str], now: datetime) -> set[str]:
        """Those of ``appointment_ids`` with a row a worker's live claim holds."""
        stmt = select(OutboxRow.appointment_id).where(
            OutboxRow.appointment_id.in_(list(appointment_ids)),
            OutboxRow.state == "inflight",
            OutboxRow.available_at > now,
        )
        return set(self.session.scalars(stmt))

    def waiting_among(self, appointment_ids: Iterable[str] | None) -> set[str]:
        """Those of ``appointment_ids`` (None: every appointment) with changes not yet pushed."""
        stmt = select(OutboxRow.appointment_id).where(OutboxRow.state.in_(WAITING))
        if appointment_ids is not None:
            wanted = list(set(appointment_ids))
            if not wanted:
                return set()
            stmt = stmt.where(OutboxRow.appointment_id.in_(wanted))
        return set(self.session.scalars(stmt))

    def settle(self, outbox_ids: Sequence[int], appointment_id: str, values: dict[str, Any]) -> None:
        """Set ``values`` on the appointment's claimed (inflight) rows among ``outbox_ids``."""
        self.session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id.in_(list(outbox_ids)),
                OutboxRow.appointment_id == appointment_id,
                OutboxRow.state == "inflight",
            )
            .values(**values)
        )

    def retry_dead(self, outbox_ids: Sequence[int] | None, now: datetime) -> int:
        """Dead rows (all, or ``outbox_ids``) back to pending with attempts reset; how many."""
        stmt = update(OutboxRow).where(OutboxRow.state == "dead")
        if outbox_ids is not None:
            stmt = stmt.where(OutboxRow.id.in_(list(outbox_ids)))
        result = self.session.execute(stmt.values(state="pending", attempts=0, available_at=now))
        return int(result.rowcount)  # type: ignore[attr-defined]

    def dead(self, limit: int) -> list[OutboxRow]:
        stmt = select(OutboxRow).where(OutboxRow.state == "dead").order_by(OutboxRow.id).limit(limit)
        return list(self.session.scalars(stmt))

    def depth_by_state(self) -> dict[str, int]:
        stmt = select(OutboxRow.state, func.count()).group_by(OutboxRow.state)
        return {state: int(n) for state, n in self.session.execute(stmt)}


class AuditRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add_all(self, rows: Iterable[AuditRow]) -> None:
        self.session.add_all(list(rows))

    def insert_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Audit rows (``audit_log`` column values) in one INSERT executed for all of them, past the ORM."""
        if rows:
            self.session.execute(insert(AuditRow), list(rows))

    def for_appointment(self, appointment_id: str) -> list[AuditRow]:
        """Every audit row of ``appointment_id``, oldest first: ``audit_log``'s, the reads kept as rows
        (``store/read_audit.py``) and those staged in spool files and not folded yet (``store/read_spool.py``); the
        last two are not in the session, their ``id`` is None. A reader needs no write transaction and no fold job
        to see every read at once."""
        stmt = select(AuditRow).where(AuditRow.appointment_id == appointment_id).order_by(AuditRow.at, AuditRow.id)
        rows = list(self.session.scalars(stmt)) + read_audit.kept(self.session, appointment_id)
        spool = self._spool()
        if spool is not None:
            rows += read_spool.staged(self.session, spool.directory, appointment_id)
        return sorted(rows, key=attrgetter("at"))  # stable: a folded row first at the same instant

    def fold_staged_reads(self, *, batches: int = FOLD_BATCHES, reads: int = FOLD_READS) -> Folded:
        """Move the oldest reads staged in spool files (an SQLite file database) into ``audit_log``, in this
        (write) transaction (:func:`caldav_bridge.store.read_spool.fold`); elsewhere reads are kept as rows and
        nothing is staged."""
        spool = self._spool()
        if spool is None:
            return Folded(0, 0)
        return read_spool.fold(self.session.connection(), spool.directory, batches=batches, reads=reads)

    def staged_count(self) -> Folded:
        """How many reads are staged in spool files and not folded yet, and the ``audit_log`` rows they make."""
        spool = self._spool()
        return Folded(0, 0) if spool is None else read_spool.pending(self.session, spool.directory)

    def staged_backlog(self) -> read_spool.Backlog:
        """The bytes staged in spool files and not folded yet, and when the oldest of those reads was made
        (:func:`caldav_bridge.store.read_spool.backlog`; nothing elsewhere)."""
        spool = self._spool()
        return read_spool.Backlog(0, None) if spool is None else read_spool.backlog(self.session, spool.directory)

    def _spool(self) -> read_spool.ReadSpool | None:
        return read_spool.of(typing.cast(Engine, self.session.get_bind()))


class IdempotencyRepository:
    """Claims and first answers of POSTs carrying an ``Idempotency-Key`` (:mod:`caldav_bridge.services.idempotency`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, principal: str, key: str) -> IdempotencyRow | None:
        stmt = select(IdempotencyRow).where(IdempotencyRow.principal == principal, IdempotencyRow.key == key)
        return self.session.scalars(stmt).one_or_none()

    def claim(self, row: IdempotencyRow) -> bool:
        """Insert ``row`` (a new claim); False if a concurrent request inserted its own first."""
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            return False
        return True

    def take_over(self, row_id: int, holder: str, new_holder: str, now: datetime) -> bool:
        """Make ``new_holder`` the holder of a claim still ``running`` under ``holder``."""
        return self._set(row_id, holder, ("running",), holder=new_holder, claimed_at=now)

    def mark_applied(self, row_id: int, holder: str) -> bool:
        """Record, in the work's transaction, that ``holder``'s request committed; False if it no longer holds it."""
        return self._set(row_id, holder, ("running", "applied"), state="applied")

    def finish(self, row_id: int, holder: str, status: int, headers: dict[str, str], body: bytes) -> bool:
        return self._set(
            row_id,
            holder,
            ("running", "applied"),
            state="done",
            status_code=status,
            response_headers=headers,
            response_body=body,
        )

    def release(self, row_id: int, holder: str) -> None:
        """Forget a claim whose request wrote nothing (it failed): the key may be used again at once."""
        self.session.execute(
            delete(IdempotencyRow).where(
                IdempotencyRow.id == row_id, IdempotencyRow.holder == holder, IdempotencyRow.state == "running"
            )
        )

    def purge_before(self, principal: str, cutoff: datetime) -> None:
        """Forget ``principal``'s keys first used before ``cutoff``."""
        self.session.execute(
            delete(IdempotencyRow).where(IdempotencyRow.principal == principal, IdempotencyRow.created_at < cutoff)
        )

    def _set(self, row_id: int, current: str, states: tuple[str, ...], **values: Any) -> bool:
        """Set ``values`` on the claim if ``current`` holds it in one of ``states``; whether it did."""
        result = self.session.execute(
            update(IdempotencyRow)
            .where(IdempotencyRow.id == row_id, IdempotencyRow.holder == current, IdempotencyRow.state.in_(states))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
