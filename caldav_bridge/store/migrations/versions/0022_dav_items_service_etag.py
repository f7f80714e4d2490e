"""dav_items.service_etag: the ETag of an item's text when the service last wrote it whole from its appointment

While an item's ETag equals it, no client has written the item since, so the next rendering (a REST update, a
Salesforce change) writes the appointment's text afresh instead of parsing the stored text to keep what a client
wrote into it: nothing is lost, the parse is saved, and nothing of the appointment's earlier state stays behind
(the merge keeps the stored text's zone: a REST change of ``meta.timezone`` did not reach the item). Items written
before the upgrade have none and are merged into as before.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dav_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("service_etag", sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dav_items", schema=None) as batch_op:
        batch_op.drop_column("service_etag")
