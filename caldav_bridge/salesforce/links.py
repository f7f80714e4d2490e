"""The one way the sync makes an appointment's ``sf_links`` row, safe when mirror and push do it at once.

The push records the link of a record it created after Salesforce answered; the mirror links a record that
carries our external id (an upsert whose answer it saw first). Run at the same moment, in one process or
several, both may find no link and insert one for the same appointment. :meth:`SfLinks.ensure` inserts in a
savepoint; when the other side's row got there first (unique violation), it uses that row instead, so
neither run fails and one link results.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError

from caldav_bridge.store.bulk_insert import insert_many
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["MirroredLink", "SfLinks"]


class MirroredLink(NamedTuple):
    """The link of an appointment the mirror has just made from a Salesforce record (a tuple: made per record)."""

    appointment_id: str
    sobject: str
    sf_id: str
    system_modstamp: datetime
    owner_sf_id: str | None
    unassigned: bool


_MIRRORED_COLUMNS = (
    "appointment_id",
    "sobject",
    "sf_id",
    "system_modstamp",
    "owner_sf_id",
    "unassigned",
    "mirrored_at",
    "created_at",
    "updated_at",
)


class SfLinks(SessionRepository):
    """The appointments' links to Salesforce records (``uow.repo(SfLinks)``); never commits."""

    def ensure(self, appointment_id: str, sobject: str, now: datetime) -> SfLinkRow:
        """The appointment's link row as the database has it now, inserted when there is none."""
        session = self.session
        fresh = (
            select(SfLinkRow)
            .where(SfLinkRow.appointment_id == appointment_id)
            .execution_options(populate_existing=True)
        )
        link = session.scalars(fresh).first()
        if link is not None:
            return link
        try:
            # Entering the savepoint flushes what was pending before; leaving it flushes the link alone,
            # so a refused link rolls back nothing else.
            with session.begin_nested():
                link = SfLinkRow(appointment_id=appointment_id, sobject=sobject, created_at=now, updated_at=now)
                session.add(link)
            return link
        except IntegrityError:
            # The other job's link for this appointment committed meanwhile: use it.
            return session.scalars(fresh).one()

    def add_mirrored(self, links: Sequence[MirroredLink], now: datetime) -> None:
        """Insert the links of new mirrored appointments in one many-row INSERT (the mirror's bulk path)."""
        insert_many(
            self.session,
            cast(Table, cast(Any, SfLinkRow).__table__),
            _MIRRORED_COLUMNS,
            [(*link, now, now, now) for link in links],
        )

    def linked_sf_ids(self, sf_ids: Collection[str]) -> list[str]:
        """Those of ``sf_ids`` some appointment is linked to."""
        if not sf_ids:
            return []
        return list(self.session.scalars(select(SfLinkRow.sf_id).where(SfLinkRow.sf_id.in_(list(sf_ids)))))

    def of_records(self, sf_ids: Collection[str]) -> list[SfLinkRow]:
        if not sf_ids:
            return []
        return list(self.session.scalars(select(SfLinkRow).where(SfLinkRow.sf_id.in_(list(sf_ids)))))

    def of_appointments(self, appointment_ids: Collection[str]) -> dict[str, SfLinkRow]:
        """The links of ``appointment_ids``, by appointment id."""
        if not appointment_ids:
            return {}
        stmt = select(SfLinkRow).where(SfLinkRow.appointment_id.in_(list(appointment_ids)))
        return {link.appointment_id: link for link in self.session.scalars(stmt)}

    def live_in_window(self, sobject: str, low: datetime, high: datetime) -> list[tuple[SfLinkRow, AppointmentRow]]:
        """Linked ``sobject`` records and their live appointments starting in ``[low, high)``."""
        stmt = (
            select(SfLinkRow, AppointmentRow)
            .join(AppointmentRow, AppointmentRow.id == SfLinkRow.appointment_id)
            .where(
                SfLinkRow.sf_id.is_not(None),
                SfLinkRow.sobject == sobject,
                AppointmentRow.deleted_at.is_(None),
                AppointmentRow.date_start >= low,
                AppointmentRow.date_start < high,
            )
        )
        return [(link, row) for link, row in self.session.execute(stmt)]

    def unassigned(self, limit: int = 5000) -> list[SfLinkRow]:
        """Links whose appointment waits on the unassigned calendar for its owner's user."""
        return list(self.session.scalars(select(SfLinkRow).where(SfLinkRow.unassigned.is_(True)).limit(limit)))

    def count_unassigned(self) -> int:
        stmt = select(func.count()).select_from(SfLinkRow).where(SfLinkRow.unassigned.is_(True))
        return self.session.scalar(stmt) or 0

    def remove(self, link: SfLinkRow) -> None:
        """Delete ``link`` now (flushed), so a new link for its record may follow in this transaction."""
        self.session.delete(link)
        self.session.flush()
