"""transparency and series zones from stored items: an appointment whose CalDAV item a client wrote
``TRANSP:TRANSPARENT`` gets ``meta.show_as`` ``free`` (it was opaque in feeds and blocked availability), and a
series written in a Windows or custom TZID (Outlook's ``Eastern Standard Time``) gets the IANA zone its
VTIMEZONE matches as ``meta.recurrence.timezone`` (it was expanded in the calendar's zone). Versions are counted
up, so feed caches and ETags follow.

Only texts a client wrote count for the transparency (items this service rendered wrote cancellations
TRANSPARENT); cancelled appointments and those with a ``show_as`` already are left as they are.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from caldav_bridge.converters.ical_parse import IcalParseError, master_transp, parse_series
from caldav_bridge.store.migrations.stored_items import appointments, event_items, save_meta

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: PRODIDs of texts this service rendered (the feeds' and the CalDAV renderer's).
_OURS = ("PRODID:-//Appointment Service//", "PRODID:-//hear.com//Appointment Service//")


def _transparent(text: str, status: str, meta: dict[str, Any]) -> bool:
    if status == "CANCELLED" or meta.get("show_as") or any(p in text for p in _OURS):
        return False
    return master_transp(text) == "TRANSPARENT"


def _series_zone(text: str, zone: str, meta: dict[str, Any]) -> str | None:
    recurrence = meta.get("recurrence")
    if not isinstance(recurrence, dict) or recurrence.get("timezone"):
        return None
    try:
        series = parse_series(text, zone)
    except IcalParseError:
        return None
    return series.timezone if series is not None else None


def upgrade() -> None:
    bind = op.get_bind()
    for appointment_id, text, zone in event_items(bind, "TRANSPARENT", "RRULE"):
        row = bind.execute(
            sa.select(appointments.c.meta_extra, appointments.c.status).where(
                appointments.c.id == appointment_id, appointments.c.deleted_at.is_(None)
            )
        ).one_or_none()
        if row is None or row.meta_extra is None:
            continue
        meta = dict(row.meta_extra)
        changed = False
        if _transparent(text, row.status, meta):
            meta["show_as"], changed = "free", True
        series_zone = _series_zone(text, zone, meta)
        if series_zone:
            meta["recurrence"] = {**meta["recurrence"], "timezone": series_zone}
            meta.setdefault("timezone", series_zone)
            changed = True
        if changed:
            save_meta(bind, appointment_id, meta)


def downgrade() -> None:
    """Nothing to undo: ``meta.show_as`` and ``meta.recurrence.timezone`` are keys older versions keep."""
