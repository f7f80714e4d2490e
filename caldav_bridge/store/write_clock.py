"""A process-wide counter of appointment writes, so feeds can skip re-counting rows between writes.

Any session that flushes an :class:`AppointmentRow` or executes an INSERT/UPDATE/DELETE on the
``appointments`` table through a Session bumps :func:`appointments_generation` (at the flush or
statement and again at commit, so a reader between the two re-checks). Writes by other processes,
or by raw connections outside a Session, are not seen: callers must bound how long they trust a
reading (the feeds re-count at least once a second).
"""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from caldav_bridge.store.tables import AppointmentRow

__all__ = ["appointments_generation"]

_TABLE = AppointmentRow.__tablename__
_counter = itertools.count(1)
_generation = 0
_FLAG = "appointments.written"


def appointments_generation() -> int:
    return _generation


def _bump() -> None:
    global _generation
    _generation = next(_counter)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if any(isinstance(o, AppointmentRow) for o in itertools.chain(session.new, session.dirty, session.deleted)):
        session.info[_FLAG] = True
        _bump()


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) == _TABLE:
            state.session.info[_FLAG] = True
            _bump()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        _bump()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    if session.info.pop(_FLAG, False):
        _bump()
