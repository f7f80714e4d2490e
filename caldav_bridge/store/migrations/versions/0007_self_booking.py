"""self booking: booking links, customer bookings, the customer-message outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 16:24:49.072936
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caldav_bridge.store.types

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "booking_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sf_opportunity_gid", sa.String(length=64), nullable=True),
        sa.Column("sf_customer_gid", sa.String(length=64), nullable=True),
        sa.Column("expires_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["calendars.id"], name=op.f("fk_booking_links_team_id_calendars"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_booking_links_token_hash")),
    )
    with op.batch_alter_table("booking_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_booking_links_sf_opportunity_gid"), ["sf_opportunity_gid"], unique=False)
        batch_op.create_index(batch_op.f("ix_booking_links_team_id"), ["team_id"], unique=False)

    op.create_table(
        "customer_bookings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("link_id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("hold_hash", sa.String(length=64), nullable=True),
        sa.Column("manage_hash", sa.String(length=64), nullable=True),
        sa.Column("active_link_id", sa.String(length=36), nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("consent_reminders", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("ical_uid", sa.String(length=120), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("no_show_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_customer_bookings_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["booking_links.id"],
            name=op.f("fk_customer_bookings_link_id_booking_links"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_bookings")),
        sa.UniqueConstraint("active_link_id", name=op.f("uq_customer_bookings_active_link_id")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_customer_bookings_appointment_id")),
        sa.UniqueConstraint("hold_hash", name=op.f("uq_customer_bookings_hold_hash")),
        sa.UniqueConstraint("manage_hash", name=op.f("uq_customer_bookings_manage_hash")),
    )
    with op.batch_alter_table("customer_bookings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_bookings_link_id"), ["link_id"], unique=False)

    op.create_table(
        "customer_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("booking_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["customer_bookings.id"],
            name=op.f("fk_customer_messages_booking_id_customer_bookings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_messages")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_customer_messages_dedupe_key")),
    )
    with op.batch_alter_table("customer_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_messages_booking_id"), ["booking_id"], unique=False)
        batch_op.create_index("ix_customer_messages_state_next", ["state", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customer_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_messages_state_next")
        batch_op.drop_index(batch_op.f("ix_customer_messages_booking_id"))

    op.drop_table("customer_messages")
    with op.batch_alter_table("customer_bookings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_bookings_link_id"))

    op.drop_table("customer_bookings")
    with op.batch_alter_table("booking_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_booking_links_team_id"))
        batch_op.drop_index(batch_op.f("ix_booking_links_sf_opportunity_gid"))

    op.drop_table("booking_links")
