"""The unit of work: one transaction, its repositories, commit or roll back.

Services take a unit of work and call :meth:`UnitOfWork.commit`; repositories never commit.
Leaving the ``with`` block without committing rolls back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

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

__all__ = ["UnitOfWork"]


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

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.appointments = AppointmentRepository(self.session)
        self.calendars = CalendarRepository(self.session)
        self.users = UserRepository(self.session)
        self.outbox = OutboxRepository(self.session)
        self.people = PeopleRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.feeds = FeedRepository(self.session)
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

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
