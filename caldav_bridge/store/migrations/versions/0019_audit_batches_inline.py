"""audit_read_batches: a staged read stays whole in its heap page (PostgreSQL ``toast_tuple_target``)

A list of 50 stages 4 KB of ``[[appointment_id, calendar_id], ...]``. Over the default target (2 KB) PostgreSQL
compressed it and, at 2.1 KB still over, moved it to the table's TOAST relation: each staging wrote two more heap
rows and index entries there, and each fold read them back, decompressed them and deleted them. With the target at
the largest a tuple may be, such a row is stored as it came (``store/tables.py``, ``AuditReadBatchRow``); larger
ones are compressed and moved as before. Rows staged before keep their storage until folded. SQLite: nothing.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 22:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

from caldav_bridge.store.tables import AUDIT_BATCH_TOAST_TARGET

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql(f"ALTER TABLE audit_read_batches SET (toast_tuple_target = {AUDIT_BATCH_TOAST_TARGET})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("ALTER TABLE audit_read_batches RESET (toast_tuple_target)")
