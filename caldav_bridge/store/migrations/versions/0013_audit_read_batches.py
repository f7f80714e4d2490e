"""audit_read_batches: a read's audit staged as one row (its appointments as JSON), folded into audit_log in
bulk by the ``audit-fold-reads`` job (50 audit_log rows a list of 50 dirtied ~50 pages of its
(appointment_id, at) index per request)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caldav_bridge.store.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_read_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.Column("pairs", sa.Text(), nullable=False),
        sa.Column("reads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_read_batches")),
    )


def downgrade() -> None:
    # The staged reads are folded first: dropping the table must not lose an audited read.
    op.execute(
        "INSERT INTO audit_log (at, actor, channel, action, appointment_id, calendar_id, request_id, detail) "
        + (
            "SELECT b.at, b.actor, b.channel, b.action, p.value ->> 0, p.value ->> 1, b.request_id, b.detail "
            "FROM audit_read_batches AS b CROSS JOIN LATERAL json_array_elements(b.pairs::json) AS p(value)"
            if op.get_bind().dialect.name == "postgresql"
            else "SELECT b.at, b.actor, b.channel, b.action, json_extract(p.value, '$[0]'), "
            "json_extract(p.value, '$[1]'), b.request_id, b.detail FROM audit_read_batches AS b, json_each(b.pairs) AS p"
        )
    )
    op.drop_table("audit_read_batches")
