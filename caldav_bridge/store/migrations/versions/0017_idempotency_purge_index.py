"""idempotency_keys: index (principal, created_at) for the purge each keyed request runs

Each request with an ``Idempotency-Key`` first forgets its principal's keys older than the TTL
(``IdempotencyRepository.purge_before``: ``principal = ? AND created_at < ?``). With only the unique (principal, key)
index and one on ``created_at``, SQLite searched the unique index by principal and read every key the principal held
in the last day, so a busy integration paid for all its earlier keys on every request (schemathesis's keyed requests:
46 % of the server's CPU). The composite index finds the expired ones alone; it replaces the ``created_at`` index,
which nothing else used.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 13:55:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_idempotency_keys_principal_created_at", "idempotency_keys", ["principal", "created_at"])
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")


def downgrade() -> None:
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])
    op.drop_index("ix_idempotency_keys_principal_created_at", table_name="idempotency_keys")
