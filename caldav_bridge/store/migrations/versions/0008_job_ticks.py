"""job ticks: one row per tick of a background job, claimed by exactly one process; the shared
APScheduler job store (apscheduler_jobs, created by APScheduler itself) is no longer used

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caldav_bridge.store.types import UtcDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_ticks",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("tick_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "tick_at", name=op.f("pk_job_ticks")),
    )
    op.execute("DROP TABLE IF EXISTS apscheduler_jobs")


def downgrade() -> None:
    op.drop_table("job_ticks")
