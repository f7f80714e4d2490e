"""dav change log horizon: dav_collections.log_start, the oldest revision a sync token may name
(the change log before it is pruned after ``[storage] max_sync_token_age``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dav_collections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_start", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("dav_changes", schema=None) as batch_op:
        batch_op.create_index("ix_dav_changes_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dav_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_dav_changes_at")
    with op.batch_alter_table("dav_collections", schema=None) as batch_op:
        batch_op.drop_column("log_start")
