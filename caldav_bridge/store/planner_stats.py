"""Statistics PostgreSQL's planner needs beyond its per-column ones: on ``appointments.meta_extra ->> 'kind'``.

Every listing filters on ``meta.kind`` (customer appointments have none or ``"appointment"``, busy blocks
``"busy"``: ``store/page_filters.py``). Without statistics on that expression the planner takes its default
selectivity: a fitter's 200 appointments looked like 2, and a page of 50 was a sequential scan and a sort of every
row (0.52 ms of the database's time a list) where the ``(date_start, id)`` index gives the first 50 (0.21 ms).
``CREATE STATISTICS`` on the expression costs the writes nothing; ``ANALYZE`` (autovacuum's, or the migration's)
fills it. The listings write the expression as it is written here, the key inline (a parameter in its place would
not match the statistics in a prepared statement's generic plan). SQLite has no such statistics: nothing to do.

Shares :class:`caldav_bridge.store.base.Base`'s metadata; the migration that adds it runs the same DDL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, event

from caldav_bridge.store.base import Base

__all__ = ["META_KIND_SQL", "create", "drop"]

#: ``meta.kind`` as the statistics are defined on it (PostgreSQL); the listings' filter uses this very text.
META_KIND_SQL = "(appointments.meta_extra ->> 'kind')"
_NAME = "appointments_meta_kind"


def create(connection: Connection) -> None:
    """The statistics (PostgreSQL; nothing on SQLite), filled at the next ``ANALYZE``."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"CREATE STATISTICS IF NOT EXISTS {_NAME} ON {META_KIND_SQL} FROM appointments")


def drop(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP STATISTICS IF EXISTS {_NAME}")


@event.listens_for(Base.metadata, "after_create")
def _after_create_all(_metadata: Any, connection: Connection, tables: Any = (), **_kw: Any) -> None:
    """``create_all`` (a fresh database): the statistics, once ``appointments`` exists."""
    if any(table.name == "appointments" for table in tables):
        create(connection)
