"""Counters of committed writes, so in-process caches know when to look at the database again.

A :class:`WriteClock` listens to one session factory (the runtime's; never SQLAlchemy's global ``Session``
class) and moves its :meth:`~WriteClock.generation` whenever a session of that factory flushes a matching
row, or runs an INSERT/UPDATE/DELETE on the matching table (also a many-row insert through the driver,
:func:`caldav_bridge.store.bulk_insert.insert_many`, which every create goes through), and again when that
session commits or rolls back, so a reader between the two re-checks. Writes by other processes, or by
connections outside these sessions, are not seen: callers bound how long they trust a reading (the feeds
re-count at least once a second, and re-read a token at least every few minutes).

The runtime holds one :class:`WriteClocks` (:attr:`caldav_bridge.runtime.Runtime.write_clocks`): appointment
writes, and feed-token revocations and rotations.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event, inspect
from sqlalchemy.engine import ExecutionContext
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from caldav_bridge.store.bulk_insert import WRITTEN_TABLE
from caldav_bridge.store.tables import AppointmentRow, FeedTokenRow

__all__ = ["WriteClock", "WriteClocks"]


class WriteClock:
    """Moves when a session of the attached factory writes a row ``rows`` accepts (or ``table``, by statement)."""

    def __init__(self, rows: Callable[[object], bool], table: str | None = None) -> None:
        self._rows = rows
        self._table = table
        self._generation = 0
        self._lock = threading.Lock()
        self._writing: weakref.WeakSet[Session] = weakref.WeakSet()
        #: The connection each of the factory's sessions runs its transaction on (driver-level writes).
        self._sessions: weakref.WeakKeyDictionary[Connection, Session] = weakref.WeakKeyDictionary()

    def generation(self) -> int:
        return self._generation

    def attach(self, factory: sessionmaker[Session]) -> WriteClock:
        event.listen(factory, "after_flush", self._after_flush)
        if self._table is not None:
            event.listen(factory, "do_orm_execute", self._on_execute)
            bind = factory.kw.get("bind")
            if bind is not None:
                event.listen(factory, "after_begin", self._on_begin)
                event.listen(bind, "after_cursor_execute", self._on_driver_execute)
        event.listen(factory, "after_commit", self._after_end)
        event.listen(factory, "after_soft_rollback", self._after_rollback)
        return self

    def _bump(self, session: Session) -> None:
        with self._lock:
            self._writing.add(session)
            self._generation += 1

    def _after_flush(self, session: Session, _context: Any) -> None:
        if any(self._rows(o) for o in (*session.new, *session.dirty, *session.deleted)):
            self._bump(session)

    def _on_execute(self, state: ORMExecuteState) -> None:
        if state.is_insert or state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) == self._table:
                self._bump(state.session)

    def _on_begin(self, session: Session, _transaction: SessionTransaction, connection: Connection) -> None:
        with self._lock:
            self._sessions[connection] = session

    def _on_driver_execute(
        self,
        connection: Connection,
        _cursor: Any,
        _statement: str,
        _parameters: Any,
        context: ExecutionContext | None,
        _executemany: bool,
    ) -> None:
        if context is None or context.execution_options.get(WRITTEN_TABLE) != self._table:
            return
        session = self._sessions.get(connection)
        if session is not None:  # one of this factory's sessions (another runtime's are not ours)
            self._bump(session)

    def _after_end(self, session: Session) -> None:
        with self._lock:
            if session in self._writing:
                self._writing.discard(session)
                self._generation += 1

    def _after_rollback(self, session: Session, _previous: Any) -> None:
        self._after_end(session)


def _revoked(row: object) -> bool:
    """A feed token whose ``revoked_at`` changed (a revocation, or the old token of a rotation)."""
    return isinstance(row, FeedTokenRow) and inspect(row).attrs.revoked_at.history.has_changes()


@dataclass(frozen=True)
class WriteClocks:
    #: Appointment rows written (the feeds' row counts and version sums).
    appointments: WriteClock
    #: Feed tokens revoked or rotated (resolved tokens cached by the feeds).
    token_revocations: WriteClock

    @classmethod
    def attached_to(cls, factory: sessionmaker[Session]) -> WriteClocks:
        return cls(
            appointments=WriteClock(lambda row: isinstance(row, AppointmentRow), AppointmentRow.__tablename__).attach(
                factory
            ),
            token_revocations=WriteClock(_revoked).attach(factory),
        )
