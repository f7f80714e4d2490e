"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 08:58:26.801272
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caldav_bridge.store.types
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=True),
        sa.Column("calendar_id", sa.String(length=36), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_appointment_at", ["appointment_id", "at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("principal", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "principal", "key", name=op.f("uq_idempotency_keys_principal")
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "available_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_appointment_id"), ["appointment_id"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_state_available", ["state", "available_at"], unique=False
        )

    op.create_table(
        "people",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "revoked_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "last_used_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_api_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "calendars",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.String(length=36), nullable=True),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["users.id"],
            name=op.f("fk_calendars_owner_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["calendars.id"],
            name=op.f("fk_calendars_team_id_calendars"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendars")),
    )
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendars_owner_user_id"), ["owner_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_calendars_team_id"), ["team_id"], unique=False
        )

    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("calendar_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "date_start",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "date_end",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("sf_appointment_gid", sa.String(length=64), nullable=True),
        sa.Column("sf_opportunity_gid", sa.String(length=64), nullable=True),
        sa.Column("sf_customer_gid", sa.String(length=64), nullable=True),
        sa.Column(
            "meta_extra",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column(
            "deleted_at",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["calendars.id"],
            name=op.f("fk_appointments_calendar_id_calendars"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_calendar_start_end",
            ["calendar_id", "date_start", "date_end"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_sf_appointment_gid"),
            ["sf_appointment_gid"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_sf_customer_gid"),
            ["sf_customer_gid"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_sf_opportunity_gid"),
            ["sf_opportunity_gid"],
            unique=False,
        )
        batch_op.create_index(
            "ix_appointments_start_id", ["date_start", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_appointments_updated_at"), ["updated_at"], unique=False
        )

    op.create_table(
        "appointment_guests",
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=255), nullable=True),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column(
            "extra",
            sa.JSON().with_variant(
                postgresql.JSONB(astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_guests_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_appointment_guests_person_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint(
            "appointment_id", "position", name=op.f("pk_appointment_guests")
        ),
    )
    with op.batch_alter_table("appointment_guests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_guests_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("old_status", sa.String(length=16), nullable=True),
        sa.Column("new_status", sa.String(length=16), nullable=False),
        sa.Column(
            "old_start",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "new_start",
            caldav_bridge.store.types.UtcDateTime(timezone=True),
            nullable=True,
        ),
        sa.Column(
            "at", caldav_bridge.store.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_status_history_appointment_id_appointments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_history")),
    )
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_history_appointment_id"),
            ["appointment_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("status_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_history_appointment_id"))

    op.drop_table("status_history")
    with op.batch_alter_table("appointment_guests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_guests_person_id"))

    op.drop_table("appointment_guests")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_updated_at"))
        batch_op.drop_index("ix_appointments_start_id")
        batch_op.drop_index(batch_op.f("ix_appointments_sf_opportunity_gid"))
        batch_op.drop_index(batch_op.f("ix_appointments_sf_customer_gid"))
        batch_op.drop_index(batch_op.f("ix_appointments_sf_appointment_gid"))
        batch_op.drop_index("ix_appointments_calendar_start_end")

    op.drop_table("appointments")
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendars_team_id"))
        batch_op.drop_index(batch_op.f("ix_calendars_owner_user_id"))

    op.drop_table("calendars")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    op.drop_table("users")
    op.drop_table("people")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_available")
        batch_op.drop_index(batch_op.f("ix_outbox_appointment_id"))

    op.drop_table("outbox")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))
        batch_op.drop_index("ix_audit_log_appointment_at")

    op.drop_table("audit_log")
