"""appointments: a stored copy of each appointment's canonical JSON (``encoded_rest``, ``encoded_version``,
``encoded_format``)

An API list of 50 spent more than a third of its CPU having the database encode the same JSON again on every read
(``bench/README.md``, ninth session). Every write now stores it (``store/encoded_copies.py``); a read uses the copy
only when it was written at the row's current version in the current encoding, and encodes the row anew otherwise.
Rows written before this revision have no copy: the ``appointments-encode`` job writes theirs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.add_column(sa.Column("encoded_rest", sa.Text(), nullable=True))
        batch.add_column(sa.Column("encoded_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("encoded_format", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("appointments") as batch:
        batch.drop_column("encoded_format")
        batch.drop_column("encoded_version")
        batch.drop_column("encoded_rest")
