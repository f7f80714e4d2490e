"""Running one data migration again on a database at head, as a test of what it does to existing rows."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from caldav_bridge.store.migrate import alembic_config, stamp, upgrade

__all__ = ["replay"]


def replay(engine: Engine, revision: str) -> None:
    """Run migration ``revision`` alone again, then record the schema as head once more: the migrations after it
    (which may create tables that already exist) are not run again."""
    script = ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision)
    assert script is not None and isinstance(script.down_revision, str), revision
    stamp(engine, script.down_revision)
    upgrade(engine, revision)
    stamp(engine)
