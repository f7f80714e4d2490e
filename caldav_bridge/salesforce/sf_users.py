"""The mirrored Salesforce Users and ServiceResources (``sf_users``) and how they meet our calendars."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import select

from caldav_bridge.store.sf_tables import SfUserRow
from caldav_bridge.store.tables import CalendarRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["SfUsers"]


class SfUsers(SessionRepository):
    """``uow.repo(SfUsers)``: mirrored Users and ServiceResources; never commits."""

    def get(self, sf_id: str) -> SfUserRow | None:
        return self.session.get(SfUserRow, sf_id)

    def ensure(self, sf_id: str, kind: str, now: datetime) -> SfUserRow:
        """The record's row, added (unflushed) when it is new."""
        row = self.session.get(SfUserRow, sf_id)
        if row is None:
            row = SfUserRow(sf_id=sf_id, kind=kind, updated_at=now)
            self.session.add(row)
        return row

    def owners_of_calendars(self, calendar_ids: Collection[str]) -> dict[str, str]:
        """Calendar id → the active Salesforce User of its owner (the first by id when several)."""
        if not calendar_ids:
            return {}
        stmt = (
            select(CalendarRow.id, SfUserRow.sf_id)
            .join(SfUserRow, SfUserRow.user_id == CalendarRow.owner_user_id)
            .where(CalendarRow.id.in_(list(calendar_ids)), SfUserRow.kind == "User", SfUserRow.active.is_(True))
            .order_by(SfUserRow.sf_id)
        )
        owners: dict[str, str] = {}
        for calendar_id, owner_sf in self.session.execute(stmt):
            owners.setdefault(calendar_id, owner_sf)
        return owners

    def active_users_of(self, user_ids: Iterable[str | None]) -> dict[str, SfUserRow]:
        """Local user id → its active mirrored Salesforce User (the last by id when several)."""
        wanted = sorted({u for u in user_ids if u})
        if not wanted:
            return {}
        stmt = (
            select(SfUserRow)
            .where(SfUserRow.kind == "User", SfUserRow.active.is_(True), SfUserRow.user_id.in_(wanted))
            .order_by(SfUserRow.sf_id)
        )
        return {str(u.user_id): u for u in self.session.scalars(stmt)}

    def resources_of(self, user_sf_ids: Iterable[str]) -> dict[str, SfUserRow]:
        """Salesforce User id → the active ServiceResource that stands for it (the first by id when several)."""
        wanted = sorted(set(user_sf_ids))
        if not wanted:
            return {}
        stmt = (
            select(SfUserRow)
            .where(
                SfUserRow.kind == "ServiceResource",
                SfUserRow.active.is_(True),
                SfUserRow.related_user_sf_id.in_(wanted),
            )
            .order_by(SfUserRow.sf_id)
        )
        found: dict[str, SfUserRow] = {}
        for row in self.session.scalars(stmt):
            found.setdefault(str(row.related_user_sf_id), row)
        return found
