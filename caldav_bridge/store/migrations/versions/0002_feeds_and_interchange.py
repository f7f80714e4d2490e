"""feeds and interchange

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:17:59.133022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caldav_bridge.store.types


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_fetches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("token_id", sa.String(length=36), nullable=True),
        sa.Column("calendar_id", sa.String(length=36), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.Column("client_addr", sa.String(length=64), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_fetches")),
    )
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_fetches_calendar_id"), ["calendar_id"], unique=False)
        batch_op.create_index("ix_feed_fetches_token_at", ["token_id", "at"], unique=False)

    op.create_table(
        "feed_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("calendar_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=False),
        sa.Column("alarm_minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"], ["calendars.id"], name=op.f("fk_feed_tokens_calendar_id_calendars"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_feed_tokens_token_hash")),
    )
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feed_tokens_calendar_id"), ["calendar_id"], unique=False)

    op.create_table(
        "external_refs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_external_refs_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_refs")),
        sa.UniqueConstraint("format", "source_id", name=op.f("uq_external_refs_format")),
    )
    with op.batch_alter_table("external_refs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_external_refs_appointment_id"), ["appointment_id"], unique=False)

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("sequence")

    with op.batch_alter_table("external_refs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_external_refs_appointment_id"))

    op.drop_table("external_refs")
    with op.batch_alter_table("feed_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feed_tokens_calendar_id"))

    op.drop_table("feed_tokens")
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_fetches_token_at")
        batch_op.drop_index(batch_op.f("ix_feed_fetches_calendar_id"))

    op.drop_table("feed_fetches")
