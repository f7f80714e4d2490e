"""status_history: which occurrence of a series a change was of (``recurrence_id``, its original start) and what
it changed (``changed``: the occurrence's fields, space-separated); null for a change of a whole appointment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 13:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caldav_bridge.store.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("status_history") as batch:
        batch.add_column(
            sa.Column("recurrence_id", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("changed", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("status_history") as batch:
        batch.drop_column("changed")
        batch.drop_column("recurrence_id")
