"""audit_log: drop the index on ``at`` alone

No query reads ``audit_log`` by time alone: the audit trail is read per appointment (``ix_audit_log_appointment_at``),
oldest first. Every row written paid for the index anyway: each read of patient data becomes one row per appointment
shown, and with the index PostgreSQL spent 1.8-2.2 ms of its CPU per API list of 50 (the fold of its 50 staged rows
into ``audit_log`` most of it) against 1.1 ms without (bench/README.md, eighth session).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 16:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_index("ix_audit_log_at")


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.create_index("ix_audit_log_at", ["at"], unique=False)
