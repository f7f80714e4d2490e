"""auth clock: one counter moved by triggers whenever a token, user or calendar changes what a bearer
token stands for, so processes may cache resolved tokens and still see a revocation at once

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 20:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caldav_bridge.store.auth_clock import create_triggers, drop_triggers

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_clock")),
    )
    create_triggers(op.get_bind())


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table("auth_clock")
