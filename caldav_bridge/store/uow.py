"""The unit of work: one transaction, its repositories, its domain events, commit or roll back.

Services take a unit of work and call :meth:`UnitOfWork.commit`; repositories never commit.
Leaving the ``with`` block without committing rolls back.

Services raise domain events with :meth:`UnitOfWork.add_event`; the unit of work hands each to the
bus's before-commit handlers at once, in its transaction (events those handlers raise are handled
next, in order), and to the after-commit handlers once :meth:`commit` has committed.

Reads enter with ``with uow.reading():``: a read-only transaction (on SQLite a deferred ``BEGIN``, so
it never takes or waits for the write lock; writers still begin ``IMMEDIATE``). A read of patient
data is audited with :meth:`UnitOfWork.audit_reads`: the rows are held until :meth:`commit`, which
records them, one line or row per read (SQLite: after ending the read, appended to this process's spool file,
folded into ``audit_log`` later in bulk, :mod:`caldav_bridge.store.read_spool`; PostgreSQL: one
``audit_read_batches`` row in the read's transaction, before it commits, kept as the read's record,
:mod:`caldav_bridge.store.read_audit`); if that write fails, :meth:`commit` raises
:class:`~caldav_bridge.errors.AuditFailed` and the caller returns the error, never the data
(``docs/architecture.md``, "Reads and their audit").
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table
from sqlalchemy import event as sa_event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from caldav_bridge.errors import AuditFailed
from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import Event
from caldav_bridge.store import auth_clock, driver, read_audit, read_spool
from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.dav_repository import DavItemRepository
from caldav_bridge.store.engine import READ_ONLY
from caldav_bridge.store.feed_repository import FeedRepository
from caldav_bridge.store.repositories import (
    AppointmentRepository,
    AuditRepository,
    CalendarRepository,
    IdempotencyRepository,
    OutboxRepository,
    PeopleRepository,
    UserRepository,
)

__all__ = ["SessionRepository", "UnitOfWork"]


class SessionRepository:
    """Base of a feature's repository (its own package): built on the unit of work's session.

    ``uow.repo(ClaimsRepository)`` builds one per entry of the unit of work and hands the same one out
    until the block is left, so the store layer never imports the features whose queries these are.
    """

    def __init__(self, session: Session) -> None:
        self.session = session


R = TypeVar("R", bound=SessionRepository)


def _refuse_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(READ_ONLY) and (session.new or session.dirty or session.deleted):
        raise RuntimeError("a read-only unit of work (uow.reading()) was asked to write")


# Once for every session (a listener per read-only session cost more than the read it guarded); it acts only on
# sessions a read-only unit of work made.
sa_event.listen(Session, "before_flush", _refuse_flush)


class UnitOfWork:
    """``with uow: ...; uow.commit()``; one instance may be entered many times in turn."""

    session: Session
    appointments: AppointmentRepository
    calendars: CalendarRepository
    users: UserRepository
    outbox: OutboxRepository
    people: PeopleRepository
    audit: AuditRepository
    idempotency: IdempotencyRepository
    feeds: FeedRepository
    dav_items: DavItemRepository

    #: Per-transaction caches of handlers (e.g. the active webhook subscriptions), dropped with the transaction.
    cache: dict[str, Any]

    def __init__(self, session_factory: sessionmaker[Session], bus: MessageBus | None = None) -> None:
        self._session_factory = session_factory
        self.bus = bus if bus is not None else MessageBus()
        self._queue: deque[Event] = deque()
        self._dispatching = False
        self._committed: list[Event] = []
        self.cache = {}
        self._repos: dict[type[SessionRepository], SessionRepository] = {}
        self._read_only = False
        self._audit: list[read_audit.Reads] = []
        self._before_commit: list[Callable[[UnitOfWork], None]] = []

    def reading(self) -> UnitOfWork:
        """Enter the next ``with`` block as a read-only transaction (``with uow.reading(): ...``)."""
        self._read_only = True
        return self

    @property
    def read_only(self) -> bool:
        return self._read_only

    def before_commit(self, check: Callable[[UnitOfWork], None]) -> None:
        """Run ``check`` in the transaction just before each commit of this unit of work (every entry); an error
        it raises rolls the transaction back (the HTTP edge's Idempotency-Key claim uses it)."""
        self._before_commit.append(check)

    def __enter__(self) -> UnitOfWork:
        self._audit = []
        if self._read_only:
            self.session = self._session_factory(execution_options={READ_ONLY: True}, info={READ_ONLY: True})
        else:
            self.session = self._session_factory()
        self._queue.clear()
        self._committed = []
        self.cache = {}
        self._repos = {}
        self.appointments = AppointmentRepository(self.session)
        self.calendars = CalendarRepository(self.session)
        self.users = UserRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.people = PeopleRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.feeds = FeedRepository(self.session)
        self.dav_items = DavItemRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends any open transaction (rolling it back) without expiring what was loaded,
        # so rows read inside the block stay readable after it.
        self.session.close()
        self._read_only = False
        self._audit = []

    def auth_generation(self) -> int:
        """The authorisation clock (``store/auth_clock.py``) now, read in one statement outside any transaction
        of this unit of work (no session: a cached token costs this one read)."""
        return auth_clock.current_generation(self._engine())

    def repo(self, cls: type[R]) -> R:
        """The feature repository ``cls`` on this transaction's session (one instance per entry)."""
        found = self._repos.get(cls)
        if found is None:
            found = self._repos[cls] = cls(self.session)
        return cast(R, found)

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: an exception leaving the ``with`` block undoes only what was done inside it."""
        return self.session.begin_nested()

    def insert_rows(self, model: type[Any], values: list[dict[str, Any]]) -> None:
        """Rows of ``model`` (dicts of one shape) in one many-row INSERT, in this transaction."""
        if values:
            table = cast(Table, model.__table__)
            insert_many(self.session, table, tuple(values[0]), [tuple(v.values()) for v in values])

    def forget_loaded(self) -> None:
        """Drop every row loaded so far from the session (after a flush: keeps a long import's memory flat)."""
        self.session.expunge_all()

    def flush(self) -> None:
        """Write what is pending now (database defaults and ids appear; constraints are checked)."""
        self.session.flush()

    def changed(self, row: object) -> bool:
        """Whether ``row`` holds a value other than the one it was loaded with (a new collection counts): a value
        set again to itself is no change."""
        return self.session.is_modified(row)

    def add_event(self, event: Event) -> None:
        """Raise ``event``: its before-commit handlers run now, in this transaction (a refusal raises here)."""
        self._queue.append(event)
        if self._dispatching:
            return  # a handler raised it: handled after the current event, in the loop below
        self._dispatching = True
        try:
            while self._queue:
                current = self._queue.popleft()
                for handler in self.bus.handlers(current):
                    handler(self, current)
                self._committed.append(current)
        finally:
            self._dispatching = False
            self._queue.clear()

    def audit_reads(self, reads: read_audit.Reads) -> None:
        """Audit a read: in a read-only unit of work held until :meth:`commit`, which stages it
        (``store/read_audit.py``); otherwise inserted into ``audit_log`` now, in this transaction."""
        if not reads.pairs:
            return
        if self._read_only:
            self._audit.append(reads)
        else:
            self.audit.insert_many(reads.rows())

    def commit(self) -> None:
        if self._read_only:
            self._commit_read()
            return
        for check in self._before_commit:
            check(self)
        self.session.commit()
        done, self._committed = self._committed, []
        self.cache = {}
        for event in done:
            for handler in self.bus.handlers(event, after_commit=True):
                handler(self, event)

    def rollback(self) -> None:
        self.session.rollback()
        self._committed = []
        self.cache = {}
        self._audit = []

    def _commit_read(self) -> None:
        """End the read and record its held audit rows: one line per read in this process's spool file (SQLite
        file databases, ``store/read_spool.py``; the ``audit-fold-reads`` job moves them into ``audit_log``), else
        one ``audit_read_batches`` row per read, one statement, kept (``store/read_audit.py``).

        The spool: after the read, one append (no write turn, no database write). An in-memory SQLite database:
        after the read, as a write of one statement on the driver's own connection (the read never held the
        write lock, and a deferred transaction that read cannot always take it). PostgreSQL: in the read's own
        transaction, just before it commits (no lock to avoid there; one transaction and connection fewer), or, when
        the read began none (one statement on a driver connection), as a statement of its own on one.
        """
        reads, self._audit = self._audit, []
        if not reads:
            self._end_read()
            return
        engine = self._engine()
        spool = read_spool.of(engine)
        if spool is not None:
            self._end_read()
            try:
                spool.append(reads)
            except OSError as exc:
                raise AuditFailed() from exc
            return
        sql, parameters = read_audit.stage(engine.dialect, reads)
        try:
            if engine.dialect.name != "sqlite" and self.session.in_transaction():
                self.session.connection().exec_driver_sql(sql, parameters)
                self.session.commit()
                return
            self._end_read()
            driver.write(engine, sql, parameters)  # one statement: a transaction of its own (SQLite: in the write turn)
        except SQLAlchemyError as exc:
            raise AuditFailed() from exc

    def _end_read(self) -> None:
        """Commit the read's transaction, if it began one (a read sent on the driver's connection did not; a commit
        would begin one to commit it)."""
        if self.session.in_transaction():
            self.session.commit()

    def _engine(self) -> Engine:
        return cast(Engine, self._session_factory.kw["bind"])
