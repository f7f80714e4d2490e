"""series on appointments: a series a CalDAV client wrote before the series were kept on its appointment gets
``meta.recurrence`` from its stored item (so feeds, the page and REST show every occurrence at once, not only
after its next change); its version is counted up, so feed caches and ETags follow. ``meta.ical_uid`` is not
set here: an existing appointment keeps the id as its feed UID (subscribers hold events with it).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caldav_bridge.converters.ical_parse import IcalParseError, parse_series
from caldav_bridge.store.migrations.stored_items import appointments, event_items, save_meta

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    for appointment_id, text, zone in event_items(bind, "RRULE", "RDATE"):
        try:
            series = parse_series(text, zone)
        except IcalParseError:
            continue
        if series is None:
            continue
        meta = bind.execute(
            sa.select(appointments.c.meta_extra).where(appointments.c.id == appointment_id)
        ).scalar_one_or_none()
        if meta is None or "recurrence" in meta:
            continue
        save_meta(bind, appointment_id, {**meta, "recurrence": series.to_json()})


def downgrade() -> None:
    """Nothing to undo: ``meta.recurrence`` is an extra key older versions keep and ignore."""
