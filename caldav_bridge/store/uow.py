"""The unit of work: one transaction, its repositories, its domain events, commit or roll back.

Services take a unit of work and call :meth:`UnitOfWork.commit`; repositories never commit.
Leaving the ``with`` block without committing rolls back.

Services raise domain events with :meth:`UnitOfWork.add_event`; the unit of work hands each to the
bus's before-commit handlers at once, in its transaction (events those handlers raise are handled
next, in order), and to the after-commit handlers once :meth:`commit` has committed.
"""

from __future__ import annotations

from collections import deque
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import Event
from caldav_bridge.store.dav_repository import DavItemRepository
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

    def __enter__(self) -> UnitOfWork:
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

    def repo(self, cls: type[R]) -> R:
        """The feature repository ``cls`` on this transaction's session (one instance per entry)."""
        found = self._repos.get(cls)
        if found is None:
            found = self._repos[cls] = cls(self.session)
        return cast(R, found)

    def savepoint(self) -> AbstractContextManager[Any]:
        """A nested transaction: an exception leaving the ``with`` block undoes only what was done inside it."""
        return self.session.begin_nested()

    def flush(self) -> None:
        """Write what is pending now (database defaults and ids appear; constraints are checked)."""
        self.session.flush()

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

    def commit(self) -> None:
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
