"""The one way the sync makes an appointment's ``sf_links`` row, safe when mirror and push do it at once.

The push records the link of a record it created after Salesforce answered; the mirror links a record that
carries our external id (an upsert whose answer it saw first). Run at the same moment, in one process or
several, both may find no link and insert one for the same appointment. :func:`ensure_link` inserts in a
savepoint; when the other side's row got there first (unique violation), it uses that row instead, so
neither run fails and one link results.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["ensure_link"]


def ensure_link(uow: UnitOfWork, appointment_id: str, sobject: str, now: datetime) -> SfLinkRow:
    """The appointment's link row as the database has it now, inserted when there is none."""
    session = uow.session
    fresh = (
        select(SfLinkRow).where(SfLinkRow.appointment_id == appointment_id).execution_options(populate_existing=True)
    )
    link = session.scalars(fresh).first()
    if link is not None:
        return link
    try:
        with session.begin_nested():
            link = SfLinkRow(appointment_id=appointment_id, sobject=sobject, created_at=now, updated_at=now)
            session.add(link)
            session.flush([link])
        return link
    except IntegrityError:
        # The other job's link for this appointment committed meanwhile: use it.
        return session.scalars(fresh).one()
