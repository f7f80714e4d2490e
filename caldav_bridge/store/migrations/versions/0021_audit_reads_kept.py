"""audit_read_batches: a read's row is its record, no longer folded into audit_log; on PostgreSQL its appointments'
ids in a GIN-indexed array, so one appointment's reads are found without reading the others'

The fold inserted 50 ``audit_log`` rows (and 50 entries of its ``(appointment_id, at)`` index) for each list of
50 read, in bulk: on PostgreSQL ~0.7 ms of the database's CPU a list (2.46 -> 1.74 ms a list in a same-hour
comparison), and what kept the API's lists from scaling to a second worker (bench/README.md, twenty-second
session). One array of 50 ids in the GIN index costs a third of that. The rows staged before the upgrade get their
ids here and stay where they are. SQLite: the column and a plain index of it exist (one schema) and stay NULL (an
SQLite file database folds its spool files into ``audit_log`` as before; an in-memory one's reads are scanned).

Downgrade: the column and its index go; the release before this one folds the rows into ``audit_log`` again, so
nothing read is lost.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 13:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEX = "ix_audit_read_batches_appointment_ids"


def upgrade() -> None:
    ids = postgresql.ARRAY(sa.String(length=36)).with_variant(sa.JSON(), "sqlite")
    with op.batch_alter_table("audit_read_batches") as batch:
        batch.add_column(sa.Column("appointment_ids", ids, nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(
            "UPDATE audit_read_batches SET appointment_ids = ARRAY(SELECT p.value ->> 0 "
            "FROM json_array_elements(pairs::json) WITH ORDINALITY AS p(value, n) ORDER BY p.n)"
        )
    op.create_index(_INDEX, "audit_read_batches", ["appointment_ids"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="audit_read_batches")
    with op.batch_alter_table("audit_read_batches") as batch:
        batch.drop_column("appointment_ids")
