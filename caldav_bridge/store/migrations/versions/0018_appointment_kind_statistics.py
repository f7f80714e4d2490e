"""appointments: planner statistics on meta_extra ->> 'kind' (PostgreSQL), which every listing filters on

Without them PostgreSQL took the default selectivity for the kind filter, and a small calendar's page of 50 was a
sequential scan and a sort of every row instead of the (date_start, id) index (``store/planner_stats.py``).
``ANALYZE appointments`` fills them at once.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:35:00.000000
"""

from collections.abc import Sequence

from alembic import op

from caldav_bridge.store.planner_stats import create, drop

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    create(bind)
    if bind.dialect.name == "postgresql":
        bind.exec_driver_sql("ANALYZE appointments")


def downgrade() -> None:
    drop(op.get_bind())
