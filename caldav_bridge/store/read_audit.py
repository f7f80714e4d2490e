"""Reads' audit (``docs/architecture.md``, "Reads and their audit"): one row per read, kept.

A read of patient data (an API read, a CalDAV multiget: ``UnitOfWork.audit_reads`` in a read-only unit of work)
is recorded before any of the data is sent. An SQLite file database stages it as a line in a spool file of its
process, folded into ``audit_log`` in bulk (``store/read_spool.py``; :class:`Folded` and the fold's bounds are
defined here for it and the job). PostgreSQL and an in-memory SQLite write ONE ``audit_read_batches`` row, committed
with the read: the columns the read shares (when, who, through which channel, which action, the request id), its
``[[appointment_id, calendar_id], ...]`` as JSON text, and on PostgreSQL the appointments' ids as an array in a GIN
index. That row is the read's record: never folded (migration 0021). The same read as 50 ``audit_log`` rows took
50 heap rows and 50 entries of the ``(appointment_id, at)`` index; its row and 50 GIN keys cost a third of that.

:func:`kept` reads those rows as ``audit_log`` rows, all or one appointment's (on PostgreSQL by the GIN index).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import String, Table, column, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import TextualSelect

from caldav_bridge.store.tables import AuditReadBatchRow, AuditRow
from caldav_bridge.store.types import UtcDateTime

__all__ = ["FOLD_BATCHES", "FOLD_READS", "Folded", "Reads", "kept", "kept_select", "stage"]

#: A fold's bounds per transaction (an SQLite file database's spool, ``store/read_spool.py``): at most this many
#: staged reads ...
FOLD_BATCHES = 2000
#: ... and no more reads once this many ``audit_log`` rows are taken (the first read is always taken, whatever
#: its size). On SQLite a fold holds the write lock that every read's staging waits for: 10,000 rows held it
#: 0.1-0.2 s with 500,000 rows in ``audit_log`` (``bench/audit_fold.py``), the API list's slowest requests under
#: load; 2,000 hold it a fifth of that, and the job runs more of them (``services/audit_trail.FOLD_ROUNDS``).
FOLD_READS = 2000

_BATCHES = cast(Table, AuditReadBatchRow.__table__)
_KEPT_COLUMNS = ("actor", "channel", "action", "appointment_id", "calendar_id", "request_id", "detail")
_STAGE = {
    "qmark": "INSERT INTO audit_read_batches (at, actor, channel, action, request_id, detail, pairs, reads) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "format": "INSERT INTO audit_read_batches "
    "(at, actor, channel, action, request_id, detail, pairs, reads, appointment_ids) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::varchar(36)[])",
}
#: The kept reads as ``audit_log`` rows (``{where}``: none, or one appointment's), in the order they were read. On
#: PostgreSQL one appointment's rows are found by the GIN index (``@>``), then its pairs picked from theirs.
_KEPT = {
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
        "WHERE b.appointment_ids @> ARRAY[CAST(:appointment_id AS VARCHAR(36))] AND p.value ->> 0 = :appointment_id",
    ),
}


class Folded(NamedTuple):
    """What one fold moved (``read_spool.fold``): staged reads, and the ``audit_log`` rows they became."""

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
    ``(appointment_id, calendar_id)`` pairs read. Kept as one row (or staged as one spool line, folded into one
    ``audit_log`` row a pair)."""

    at: datetime
    actor: str
    channel: str
    action: str
    request_id: str | None
    pairs: Sequence[tuple[str, str]]
    detail: str | None = None

    def rows(self) -> list[dict[str, Any]]:
        """The ``audit_log`` rows of this read (column values), one a pair, as a fold writes them."""
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
    """(SQL, parameters) recording ``reads`` for one ``exec_driver_sql``: one row per read, its pairs as JSON (and
    on PostgreSQL its appointments' ids as an array). The parameters are one tuple for one read (every API read), a
    list of them (``executemany``) for more."""
    convert = _BATCHES.c.at.type.bind_processor(dialect)
    postgresql = dialect.paramstyle != "qmark"
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
            *([_array(r.pairs)] if postgresql else []),
        )
        for r in reads
    ]
    sql = _STAGE["format" if postgresql else "qmark"]
    return sql, parameters[0] if len(parameters) == 1 else parameters


def _json(pairs: Sequence[tuple[str, str]]) -> str:
    return json.dumps(pairs, separators=(",", ":"))


def _array(pairs: Sequence[tuple[str, str]]) -> str:
    """The pairs' appointment ids as a PostgreSQL array literal, each element quoted: a Python list costs the
    driver's adaptation of every element, 0.24 ms of the service's CPU for a list of 50."""
    return "{" + ",".join('"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"' for a, _ in pairs) + "}"


def kept_select(dialect: str, appointment_id: str | None = None) -> TextualSelect:
    """The kept reads as ``audit_log``'s columns but ``id`` (``at`` ... ``detail``, in its order), all or
    ``appointment_id``'s, in the order they were read."""
    sql, where = _KEPT["postgresql" if dialect == "postgresql" else "sqlite"]
    statement = text(sql.format(where=where if appointment_id is not None else ""))
    if appointment_id is not None:
        statement = statement.bindparams(appointment_id=appointment_id)
    return statement.columns(column("at", UtcDateTime()), *(column(name, String()) for name in _KEPT_COLUMNS))


def kept(session: Session, appointment_id: str | None = None) -> list[AuditRow]:
    """The kept reads as ``audit_log`` rows (not in the session: ``id`` is None), all or ``appointment_id``'s, in
    the order they were read."""
    statement = kept_select(session.get_bind().dialect.name, appointment_id)
    return [AuditRow(**row) for row in session.execute(statement).mappings()]
