"""The authorisation clock: one counter that moves whenever what a bearer token stands for may have changed.

Triggers in the database move it on every change of a token's revocation, scopes or owner, a user's
activation, role or name, and a calendar's existence, owner or team (what an actor reaches), whichever
process or tool makes the change. A process may then keep resolved tokens in memory and check this one
row per request (a primary-key read): a revocation takes effect on the next request in every process.
Shares :class:`caldav_bridge.store.base.Base`'s metadata; the migration that adds it runs the same DDL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Connection, Engine, Integer, event, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from caldav_bridge.store import driver
from caldav_bridge.store.base import Base

__all__ = ["AuthClockRow", "create_triggers", "current_generation", "drop_triggers", "generation", "generation_column"]

#: (trigger name, table, event) of every trigger that moves the clock.
_TRIGGERS = (
    ("auth_clock_token_update", "api_tokens", "UPDATE OF revoked_at, scopes, user_id"),
    ("auth_clock_token_delete", "api_tokens", "DELETE"),
    ("auth_clock_user_update", "users", "UPDATE OF active, role, username"),
    ("auth_clock_user_delete", "users", "DELETE"),
    ("auth_clock_calendar_insert", "calendars", "INSERT"),
    ("auth_clock_calendar_update", "calendars", "UPDATE OF owner_user_id, team_id"),
    ("auth_clock_calendar_delete", "calendars", "DELETE"),
)
_TICK = "UPDATE auth_clock SET generation = generation + 1 WHERE id = 1"


class AuthClockRow(Base):
    __tablename__ = "auth_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(BigInteger)


_GENERATION = select(AuthClockRow.__table__.c.generation).where(AuthClockRow.__table__.c.id == 1)
_GENERATION_DRIVER = driver.DriverStatement(_GENERATION)


def generation_column() -> ColumnElement[int]:
    """The clock's current value (0 if its row is missing) as a column of another statement: a read that returns it
    with its data saw both in one snapshot (``store/plain_reads.py``; ``services.actor.UncheckedActor``)."""
    return func.coalesce(_GENERATION.scalar_subquery(), 0).label("auth_generation")


def generation(session: Session) -> int:
    """The clock's current value (0 if its row is missing), in the session's transaction."""
    return int(session.connection().scalar(_GENERATION) or 0)


def current_generation(engine: Engine) -> int:
    """The clock's current value (0 if its row is missing), read in one statement of its own on a driver connection
    (``store/driver.py``): no session and no transaction around it."""
    return int(driver.read_value(engine, _GENERATION_DRIVER, {}) or 0)


def create_triggers(connection: Connection) -> None:
    """The clock's row and its triggers (SQLite or PostgreSQL)."""
    connection.exec_driver_sql("INSERT INTO auth_clock (id, generation) VALUES (1, 0)")
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION auth_clock_tick() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {_TICK}; RETURN NULL; END $$"
        )
    for name, table, when in _TRIGGERS:
        if postgres:
            action = "FOR EACH STATEMENT EXECUTE FUNCTION auth_clock_tick()"
            connection.exec_driver_sql(f"CREATE OR REPLACE TRIGGER {name} AFTER {when} ON {table} {action}")
        else:
            action = f"BEGIN {_TICK}; END"
            connection.exec_driver_sql(f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {when} ON {table} {action}")


def drop_triggers(connection: Connection) -> None:
    postgres = connection.dialect.name == "postgresql"
    for name, table, _when in _TRIGGERS:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else ""))
    if postgres:
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS auth_clock_tick()")


@event.listens_for(Base.metadata, "after_create")
def _after_create_all(_metadata: Any, connection: Connection, tables: Any = (), **_kw: Any) -> None:
    """``create_all`` (a fresh database): the clock's row and triggers, once every table exists."""
    if any(table.name == AuthClockRow.__tablename__ for table in tables):
        create_triggers(connection)
