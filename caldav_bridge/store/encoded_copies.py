"""Each appointment's stored copy of its canonical JSON, written with every change of the appointment.

The API's reads have the database encode an appointment's canonical JSON (``store/plain_reads.py``); encoding 50
of them again on every list was more than a third of the list's CPU. So every write stores the encoded text with
the row (``encoded_rest``: everything after the calendar, whose name lives in another table), the row's
``version`` it was written at and the encoding's ``format`` (a checksum of the SQL that wrote it). A read uses the
copy only when both still match, and encodes the row anew otherwise: a copy can be missing or old, never trusted
when wrong.

Who writes the copies:

- every session of the runtime's factory (:func:`keep_in_step`): it notes the appointments it flushes (new, changed
  and deleted rows, and the appointments of the guests it flushes) and, just before it commits, writes their copies
  in one UPDATE, in the same transaction, with the very SQL the reads would run;
- writes past the ORM (the many-row inserts of imports and the mirror, a Core UPDATE) call :func:`write` themselves;
- the ``appointments-encode`` job (:func:`stale`, then :func:`write`) writes the copies still missing or old: rows
  from before migration 0016, rows another program wrote, every row once after a release changes the encoding.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, literal_column, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from caldav_bridge.store.plain_reads import final_copy, stored_copy
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow

__all__ = ["STALE_BATCH", "keep_in_step", "stale", "write"]

#: At most this many copies per statement (bound parameters stay well under SQLite's limit) and per job run.
STALE_BATCH = 500
_TOUCHED = "encoded_copies.touched"
_APPOINTMENTS = cast(Table, AppointmentRow.__table__)


def write(session: Session, ids: Iterable[str]) -> int:
    """Write the copies of the appointments ``ids`` in the session's transaction (what they hold now, flushed
    changes included); how many rows were written. The SQL writes each copy; the copies whose text a read would
    still change (PostgreSQL's extras, text past ASCII: ``plain_reads.final_copy``) are written again as a read
    answers them, in one more statement, so a read of a current copy re-encodes nothing."""
    wanted = sorted(set(ids))
    copy = stored_copy(session.get_bind().dialect.name)
    connection = session.connection()
    written = 0
    for start in range(0, len(wanted), STALE_BATCH):
        statement = (
            update(_APPOINTMENTS)
            .where(_APPOINTMENTS.c.id.in_(wanted[start : start + STALE_BATCH]))
            .values(
                encoded_rest=literal_column(copy.rest),
                encoded_version=_APPOINTMENTS.c.version,
                encoded_format=copy.format,
            )
            .returning(_APPOINTMENTS.c.id, _APPOINTMENTS.c.encoded_rest)
        )
        copies = connection.execute(statement).all()
        written += len(copies)
        finals = [{"b_id": i, "b_rest": final} for i, text in copies if text and (final := final_copy(text))]
        if finals:
            connection.execute(_FINAL, finals)
    return written


_FINAL = update(_APPOINTMENTS).where(_APPOINTMENTS.c.id == bindparam("b_id")).values(encoded_rest=bindparam("b_rest"))


def stale(session: Session, limit: int = STALE_BATCH) -> list[str]:
    """Up to ``limit`` live appointments whose copy is missing, older than the row, or in another encoding (a
    scan of the table: read in a read-only transaction, it holds no write lock)."""
    copy = stored_copy(session.get_bind().dialect.name)
    a = _APPOINTMENTS.c
    found = (
        select(a.id)
        .where(
            a.deleted_at.is_(None),
            or_(
                a.encoded_version.is_(None),
                a.encoded_version != a.version,
                a.encoded_format.is_(None),
                a.encoded_format != copy.format,
            ),
        )
        .limit(limit)
    )
    return list(session.connection().scalars(found))


def keep_in_step(factory: sessionmaker[Session]) -> None:
    """Have every session of ``factory`` write the copies of the appointments it changed before it commits."""
    event.listen(factory, "after_flush", _noted)
    event.listen(factory, "before_commit", _written)
    event.listen(factory, "after_transaction_end", _forgotten)


def _noted(session: Session, _context: Any) -> None:
    touched: set[str] | None = session.info.get(_TOUCHED)
    for obj in (*session.new, *session.dirty, *session.deleted):
        found = _appointment_of(obj)
        if found is not None:
            if touched is None:
                touched = session.info[_TOUCHED] = set()
            touched.add(found)


def _appointment_of(obj: object) -> str | None:
    if isinstance(obj, AppointmentRow):
        return obj.id
    if isinstance(obj, AppointmentGuestRow):
        return obj.appointment_id
    return None


def _written(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this hook: what it would write is noted now
    touched = session.info.pop(_TOUCHED, None)
    if touched:
        write(session, touched)


def _forgotten(session: Session, transaction: SessionTransaction) -> None:
    """The session's transaction ended (committed or rolled back): nothing noted is left for the next one. A
    savepoint's end changes nothing: what its transaction flushed before it is still to be written."""
    if transaction.parent is None:
        session.info.pop(_TOUCHED, None)
