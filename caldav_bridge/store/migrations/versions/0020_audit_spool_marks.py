"""audit_spool_marks: on SQLite each process stages its reads' audit in a file of its own (``store/read_spool.py``);
this records how far each file has been folded into audit_log, in the fold's transaction. The table exists on
PostgreSQL too (one schema) and stays empty there: reads are staged in audit_read_batches.

Reads staged in audit_read_batches before the upgrade are folded from there as before.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 06:30:00.000000
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

import caldav_bridge.store.types
from caldav_bridge.store import read_spool

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_spool_marks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("offset", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("folded_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_spool_marks")),
    )


def downgrade() -> None:
    # Every spooled read is folded first (with the service stopped, no file has a writer): the release before
    # this one knows no spool, and a later upgrade would fold the files again from their start.
    bind = op.get_bind()
    database = bind.engine.url.database
    if bind.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        directory = read_spool.directory_of(Path(database))
        while read_spool.fold(bind, directory, batches=100_000, reads=1_000_000, keep=0) != (0, 0):
            pass  # the round that folds nothing deletes the files folded before it
        left = sorted(p.name for p in directory.glob("reads-*.jsonl")) if directory.is_dir() else []
        if left:
            raise RuntimeError(
                f"{len(left)} reads' audit spool file(s) in {directory} still have a writer: stop the service "
                "(every process using the database) and downgrade again"
            )
    op.drop_table("audit_spool_marks")
