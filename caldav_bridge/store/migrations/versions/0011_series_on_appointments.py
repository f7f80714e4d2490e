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

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_appointments = sa.table(
    "appointments", sa.column("id", sa.String), sa.column("meta_extra", sa.JSON), sa.column("version", sa.Integer)
)
_items = sa.table(
    "dav_items",
    sa.column("appointment_id", sa.String),
    sa.column("text", sa.Text),
    sa.column("component", sa.String),
    sa.column("collection_id", sa.Integer),
)
_collections = sa.table("dav_collections", sa.column("id", sa.Integer), sa.column("calendar_id", sa.String))
_calendars = sa.table("calendars", sa.column("id", sa.String), sa.column("timezone", sa.String))


def upgrade() -> None:
    bind = op.get_bind()
    found = bind.execute(
        sa.select(_items.c.appointment_id, _items.c.text, _calendars.c.timezone)
        .join(_collections, _collections.c.id == _items.c.collection_id)
        .join(_calendars, _calendars.c.id == _collections.c.calendar_id)
        .where(
            _items.c.appointment_id.is_not(None),
            _items.c.component == "VEVENT",
            sa.or_(_items.c.text.contains("RRULE"), _items.c.text.contains("RDATE")),
        )
    ).all()
    for appointment_id, text, zone in found:
        try:
            series = parse_series(text, zone)
        except IcalParseError:
            continue
        if series is None:
            continue
        meta = bind.execute(
            sa.select(_appointments.c.meta_extra).where(_appointments.c.id == appointment_id)
        ).scalar_one_or_none()
        if meta is None or "recurrence" in meta:
            continue
        bind.execute(
            _appointments.update()
            .where(_appointments.c.id == appointment_id)
            .values(meta_extra={**meta, "recurrence": series.to_json()}, version=_appointments.c.version + 1)
        )


def downgrade() -> None:
    """Nothing to undo: ``meta.recurrence`` is an extra key older versions keep and ignore."""
