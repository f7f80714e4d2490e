"""Alembic migrations, run programmatically (``db upgrade``, ``serve --demo``, the CalDAV plugin)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from caldav_bridge.store.tables import Base

__all__ = ["alembic_config", "current_revision", "ensure_schema", "head_revision", "is_current", "stamp", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine``'s database to ``revision``."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def stamp(engine: Engine, revision: str = "head") -> None:
    """Record ``revision`` as the schema of ``engine``'s database without running any migration."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.stamp(config, revision)


def ensure_schema(engine: Engine) -> None:
    """Bring the database to the current schema; an empty one is created in one go and stamped.

    ``create_all`` and a stamp are much faster than replaying every migration (Radicale's test suite, run
    against the CalDAV plugin, makes hundreds of fresh databases); the schema test holds the two equal.
    """
    if not inspect(engine).get_table_names():
        Base.metadata.create_all(engine)
        stamp(engine)
    elif current_revision(engine) != head_revision():
        upgrade(engine)


@functools.cache
def head_revision() -> str | None:
    """The newest migration (the scripts do not change while the process runs)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
