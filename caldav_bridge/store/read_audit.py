"""Reads' audit: staged as one row per read, folded into ``audit_log`` in bulk (``docs/architecture.md``, "Reads
and their audit"). PostgreSQL and in-memory SQLite databases; an SQLite file database stages in a spool file per
process instead (``store/read_spool.py``), and folds the rows staged here before its upgrade as well.

A read of patient data (an API read, a CalDAV multiget: ``UnitOfWork.audit_reads`` in a read-only unit of work)
writes ONE ``audit_read_batches`` row, committed before any of the data is sent: the columns the read shares
(when, who, through which channel, which action, the request id) and its ``[[appointment_id, calendar_id], ...]``
as JSON text. That table has no index but its primary key, so staging a read appends to one page; the same read
as 50 ``audit_log`` rows dirtied about one page of the ``(appointment_id, at)`` index per appointment shown.

:func:`fold` moves the oldest staged reads into ``audit_log``, one row per appointment (ordered by appointment
and time, so the index inserts are local), and deletes exactly the batches it folded, in the caller's (write)
transaction: a crash before it commits leaves the batches staged, and a fold racing another can neither copy a
batch twice (SQLite: one writer at a time; PostgreSQL: the batches are taken ``FOR UPDATE SKIP LOCKED``) nor drop
one. :func:`staged` reads the staged reads as ``audit_log`` rows, for a reader that must see every read now.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, Table, func, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from caldav_bridge.store.tables import AuditReadBatchRow, AuditRow
from caldav_bridge.store.types import UtcDateTime

__all__ = ["FOLD_BATCHES", "FOLD_READS", "Folded", "Reads", "fold", "pending", "stage", "staged"]

#: A fold's bounds per transaction: at most this many staged batches ...
FOLD_BATCHES = 2000
#: ... and no more batches once this many ``audit_log`` rows are taken (the first batch is always taken, whatever
#: its size). On SQLite a fold holds the write lock that every read's staging waits for: 10,000 rows held it
#: 0.1-0.2 s with 500,000 rows in ``audit_log`` (``bench/audit_fold.py``), the API list's slowest requests under
#: load; 2,000 hold it a fifth of that, and the job runs more of them (``services/audit_trail.FOLD_ROUNDS``).
FOLD_READS = 2000

_BATCHES = cast(Table, AuditReadBatchRow.__table__)
_STAGE = {
    "qmark": "INSERT INTO audit_read_batches (at, actor, channel, action, request_id, detail, pairs, reads) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "format": "INSERT INTO audit_read_batches (at, actor, channel, action, request_id, detail, pairs, reads) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
}

#: SQLite: the last batch of this fold (ids in order, up to :data:`FOLD_BATCHES`, until :data:`FOLD_READS`).
_SQLITE_UPTO = (
    "SELECT max(id) FROM (SELECT id, sum(reads) OVER (ORDER BY id) - reads AS before "
    "FROM (SELECT id, reads FROM audit_read_batches ORDER BY id LIMIT ?)) WHERE before < ?"
)
_SQLITE_FOLD = (
    "INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail) "
    "SELECT b.at, b.actor, b.channel, b.action, json_extract(p.value, '$[0]') AS appointment_id, "
    "json_extract(p.value, '$[1]'), b.request_id, b.detail "
    "FROM audit_read_batches AS b, json_each(b.pairs) AS p WHERE b.id <= ? "
    "ORDER BY appointment_id, b.at, b.id, p.key"
)
_SQLITE_DELETE = "DELETE FROM audit_read_batches WHERE id <= ?"
#: PostgreSQL: the fold in one statement. The batches are locked as they are chosen (a concurrent fold skips
#: them and takes the next ones), deleted, and their pairs inserted, in one snapshot.
_PG_FOLD = (
    "WITH candidates AS ("
    " SELECT id, reads FROM audit_read_batches ORDER BY id LIMIT %(batches)s FOR UPDATE SKIP LOCKED"
    "), chosen AS ("
    " SELECT id FROM (SELECT id, sum(reads) OVER (ORDER BY id) - reads AS before FROM candidates) AS c"
    " WHERE before < %(reads)s"
    "), batch AS ("
    " DELETE FROM audit_read_batches AS b USING chosen WHERE b.id = chosen.id"
    " RETURNING b.id, b.at, b.actor, b.channel, b.action, b.request_id, b.detail, b.pairs"
    "), folded AS ("
    " INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail)"
    " SELECT b.at, b.actor, b.channel, b.action, p.value ->> 0 AS appointment_id,"
    " p.value ->> 1, b.request_id, b.detail"
    " FROM batch AS b CROSS JOIN LATERAL json_array_elements(b.pairs::json) WITH ORDINALITY AS p(value, n)"
    " ORDER BY appointment_id, b.at, b.id, p.n RETURNING 1"
    ") SELECT (SELECT count(*) FROM batch), (SELECT count(*) FROM folded)"
)
#: The staged reads as ``audit_log`` rows (``{where}``: none, or one appointment's), in the order they were read.
_STAGED = {
    "sqlite": (
        "SELECT b.at, b.actor, b.channel, b.action, json_extract(p.value, '$[0]') AS appointment_id, "
        "json_extract(p.value, '$[1]') AS calendar_id, b.request_id, b.detail "
        "FROM audit_read_batches AS b, json_each(b.pairs) AS p {where} ORDER BY b.id, p.key",
        "WHERE json_extract(p.value, '$[0]') = :appointment_id",
    ),
    "postgresql": (
        "SELECT b.at, b.actor, b.channel, b.action, p.value ->> 0 AS appointment_id, "
        "p.value ->> 1 AS calendar_id, b.request_id, b.detail "
        "FROM audit_read_batches AS b "
        "CROSS JOIN LATERAL json_array_elements(b.pairs::json) WITH ORDINALITY AS p(value, n) {where} "
        "ORDER BY b.id, p.n",
        "WHERE p.value ->> 0 = :appointment_id",
    ),
}


class Folded(NamedTuple):
    """What one :func:`fold` moved: staged batches, and the ``audit_log`` rows they became."""

    batches: int
    reads: int

    def full(self) -> bool:
        """Whether the fold stopped at its bounds (more may be staged)."""
        return self.batches >= FOLD_BATCHES or self.reads >= FOLD_READS

    def plus(self, other: Folded) -> Folded:
        """Both moves together (a tuple's ``+`` would concatenate)."""
        return Folded(self.batches + other.batches, self.reads + other.reads)

    def minus(self, other: Folded) -> Folded:
        """What is left of these bounds once ``other`` is taken."""
        return Folded(self.batches - other.batches, self.reads - other.reads)


@dataclass(frozen=True, slots=True)
class Reads:
    """One reader's read of appointments: when, who, through which channel, which action, the request id, and the
    ``(appointment_id, calendar_id)`` pairs read. Staged as one batch; folded into one ``audit_log`` row a pair."""

    at: datetime
    actor: str
    channel: str
    action: str
    request_id: str | None
    pairs: Sequence[tuple[str, str]]
    detail: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The ``audit_log`` rows of this read (column values), one a pair, as the fold writes them."""
        shared = {
            "at": self.at,
            "actor": self.actor,
            "channel": self.channel,
            "action": self.action,
            "request_id": self.request_id,
            "detail": self.detail,
        }
        return [{**shared, "appointment_id": a, "calendar_id": c} for a, c in self.pairs]


def stage(dialect: Dialect, reads: Sequence[Reads]) -> tuple[str, Any]:
    """(SQL, parameters) staging ``reads`` for one ``exec_driver_sql``: one batch row per read, its pairs as JSON.
    The parameters are one tuple for one read (every API read), a list of them (``executemany``) for more."""
    convert = _BATCHES.c.at.type.bind_processor(dialect)
    parameters = [
        (
            convert(r.at) if convert else r.at,
            r.actor,
            r.channel,
            r.action,
            r.request_id,
            r.detail,
            _json(r.pairs),
            len(r.pairs),
        )
        for r in reads
    ]
    sql = _STAGE["qmark" if dialect.paramstyle == "qmark" else "format"]
    return sql, parameters[0] if len(parameters) == 1 else parameters


def _json(pairs: Sequence[tuple[str, str]]) -> str:
    return json.dumps(pairs, separators=(",", ":"))


def fold(connection: Connection, *, batches: int = FOLD_BATCHES, reads: int = FOLD_READS) -> Folded:
    """Move the oldest staged reads into ``audit_log`` and delete them, in ``connection``'s transaction (a write
    transaction: on SQLite one begun ``IMMEDIATE``, so no other writer stages or folds in between): up to
    ``batches`` batches, and none more once ``reads`` rows are taken."""
    if connection.dialect.name == "postgresql":
        moved = connection.exec_driver_sql(_PG_FOLD, {"batches": batches, "reads": reads}).one()
        return Folded(int(moved[0]), int(moved[1]))
    upto = connection.exec_driver_sql(_SQLITE_UPTO, (batches, reads)).scalar()
    if upto is None:
        return Folded(0, 0)
    inserted = connection.exec_driver_sql(_SQLITE_FOLD, (upto,)).rowcount
    deleted = connection.exec_driver_sql(_SQLITE_DELETE, (upto,)).rowcount
    return Folded(deleted, inserted)


def staged(session: Session, appointment_id: str | None = None) -> list[AuditRow]:
    """The reads staged and not yet folded as ``audit_log`` rows (not in the session: ``id`` is None), all or
    ``appointment_id``'s, in the order they were staged."""
    dialect = session.get_bind().dialect.name
    sql, where = _STAGED["postgresql" if dialect == "postgresql" else "sqlite"]
    statement = text(sql.format(where=where if appointment_id is not None else "")).columns(at=UtcDateTime())
    parameters = {"appointment_id": appointment_id} if appointment_id is not None else {}
    return [AuditRow(**row) for row in session.execute(statement, parameters).mappings()]


def pending(session: Session) -> Folded:
    """How many reads are staged as rows and not folded yet, and how many ``audit_log`` rows they make."""
    batches, reads = session.execute(select(func.count(), func.coalesce(func.sum(_BATCHES.c.reads), 0))).one()
    return Folded(int(batches), int(reads))
