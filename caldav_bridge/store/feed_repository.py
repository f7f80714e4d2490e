"""Feed tokens, feed fetches and the light queries a feed needs. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from caldav_bridge.store.dav_ranges import reaching_from_before
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, FeedFetchRow, FeedTokenRow, UserRow
from caldav_bridge.store.types import UtcDateTime

__all__ = ["FeedDrift", "FeedItem", "FeedRepository"]

CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class FeedItem:
    """What decides whether a feed changed: an appointment's id and version (plus its times)."""

    id: str
    version: int
    date_start: datetime
    date_end: datetime
    #: The calendar it is on (a team's feed names the member by it).
    calendar_id: str = ""


@dataclass(frozen=True)
class FeedDrift:
    """The latest moments at which a feed's content changed without a new write in its window.

    ``changed``: the latest ``updated_at`` of any appointment of the calendars (deleted ones too),
    ``count`` how many there are and ``versions`` the sum of their versions: every write changes one
    of these two (a new row, or a version counted up), whatever the clocks say;
    ``ended``: the latest end among appointments that have left the window's back edge;
    ``started``: the latest start among appointments that have entered its front edge;
    ``cancelled``: the latest cancellation whose grace period is over.
    """

    changed: datetime | None
    count: int
    versions: int
    ended: datetime | None
    started: datetime | None
    cancelled: datetime | None


class FeedRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # ------------------------------------------------------------------ tokens

    def add_token(self, row: FeedTokenRow) -> None:
        self.session.add(row)

    def token_by_hash(self, token_hash: str) -> FeedTokenRow | None:
        return self.session.scalars(select(FeedTokenRow).where(FeedTokenRow.token_hash == token_hash)).one_or_none()

    def token_and_calendar(self, token_hash: str) -> tuple[FeedTokenRow, CalendarRow] | None:
        """A token with its calendar, in one query (the hot path of every feed request)."""
        stmt = (
            select(FeedTokenRow, CalendarRow)
            .join(CalendarRow, CalendarRow.id == FeedTokenRow.calendar_id)
            .where(FeedTokenRow.token_hash == token_hash)
        )
        row = self.session.execute(stmt).one_or_none()
        return None if row is None else (row[0], row[1])

    def get_token(self, token_id: str) -> FeedTokenRow | None:
        return self.session.get(FeedTokenRow, token_id)

    def tokens_of(self, calendar_id: str) -> list[FeedTokenRow]:
        stmt = (
            select(FeedTokenRow)
            .where(FeedTokenRow.calendar_id == calendar_id)
            .order_by(FeedTokenRow.created_at, FeedTokenRow.id)
        )
        return list(self.session.scalars(stmt))

    def member_calendar_ids(self, team_id: str) -> list[str]:
        stmt = select(CalendarRow.id).where(CalendarRow.team_id == team_id).order_by(CalendarRow.id)
        return list(self.session.scalars(stmt))

    def member_names(self, team_id: str) -> dict[str, str]:
        """Each member calendar's person: its owner's display name, else the calendar's own name."""
        stmt = (
            select(CalendarRow.id, UserRow.display_name, CalendarRow.name)
            .outerjoin(UserRow, UserRow.id == CalendarRow.owner_user_id)
            .where(CalendarRow.team_id == team_id)
            .order_by(CalendarRow.id)
        )
        return {calendar_id: owner or name for calendar_id, owner, name in self.session.execute(stmt)}

    # ------------------------------------------------------------------ fetches

    def add_fetch(self, row: FeedFetchRow) -> None:
        self.session.add(row)

    def insert_fetches(self, rows: Sequence[dict[str, Any]]) -> None:
        """Fetch rows (``feed_fetches`` column values) in one INSERT executed for all of them, past the ORM."""
        if rows:
            self.session.execute(insert(FeedFetchRow), list(rows))

    def mark_used(self, last_used: dict[str, datetime]) -> None:
        """Each token's ``last_used_at`` moved forward to its time in ``last_used`` (never back)."""
        t = FeedTokenRow
        for token_id, at in last_used.items():
            self.session.execute(
                update(t)
                .where(t.id == token_id, or_(t.last_used_at.is_(None), t.last_used_at < at))
                .values(last_used_at=at)
                .execution_options(synchronize_session=False)
            )

    def fetches_of(self, calendar_id: str, limit: int) -> list[FeedFetchRow]:
        stmt = (
            select(FeedFetchRow)
            .where(FeedFetchRow.calendar_id == calendar_id)
            .order_by(FeedFetchRow.at.desc(), FeedFetchRow.id.desc())
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    # ------------------------------------------------------------------ feed content

    def items(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime, cancelled_since: datetime | None
    ) -> list[FeedItem]:
        """Appointments overlapping ``[start, end)``, cancelled ones only if cancelled after ``cancelled_since``
        (``None``: no cancelled ones), and series begun before ``start`` that reach into it.

        Ordered by (date_start, id): the order of the feed.
        """
        a = AppointmentRow
        stmt = select(a.id, a.version, a.date_start, a.date_end, a.calendar_id).where(
            *self._shown(calendar_ids, start, end, cancelled_since)
        )
        found = [FeedItem(*row) for row in self.session.execute(stmt)]
        earlier = self._series_before(calendar_ids, start, end, cancelled_since)
        if earlier:
            later = select(a.id, a.version, a.date_start, a.calendar_id).where(a.id.in_(earlier))
            found += [FeedItem(i, v, s, max(end, s), c) for i, v, s, c in self.session.execute(later)]
        return sorted(found, key=lambda i: (i.date_start, i.id))

    def appointments(self, ids: Sequence[str]) -> list[AppointmentRow]:
        """Full rows (with calendar and guests) of ``ids``, in no particular order."""
        if not ids:
            return []
        stmt = select(AppointmentRow).where(AppointmentRow.id.in_(list(ids)))
        return list(self.session.scalars(stmt).unique())

    def shown(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime, cancelled_since: datetime | None
    ) -> list[AppointmentRow]:
        """Full rows of :meth:`items`, in the same order."""
        a = AppointmentRow
        earlier = self._series_before(calendar_ids, start, end, cancelled_since)
        condition = and_(*self._shown(calendar_ids, start, end, cancelled_since))
        stmt = select(a).where(or_(condition, a.id.in_(earlier)) if earlier else condition).order_by(a.date_start, a.id)
        return list(self.session.scalars(stmt).unique())

    def _series_before(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime, cancelled_since: datetime | None
    ) -> list[str]:
        """Appointments of series written over CalDAV that began before ``start`` and reach into ``[start, end)``
        (:func:`caldav_bridge.store.dav_ranges.reaching_from_before`)."""
        ids = reaching_from_before(self.session, calendar_ids, start)
        if not ids:
            return []
        a = AppointmentRow
        stmt = select(a.id).where(
            a.id.in_(ids), *self._listed(calendar_ids, cancelled_since), a.date_end <= start, a.date_start < end
        )
        return sorted(self.session.scalars(stmt))

    def writes(self, calendar_ids: Sequence[str]) -> tuple[int, int]:
        """How many appointments the calendars have (deleted ones too) and the sum of their versions.

        Every write changes one of the two (a new row, or a version counted up), whatever the clocks say.
        """
        a = AppointmentRow
        stmt = select(func.count(), func.coalesce(func.sum(a.version), 0)).where(a.calendar_id.in_(list(calendar_ids)))
        count, versions = self.session.execute(stmt).one()
        return int(count), int(versions)

    def drift(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime, cancelled_before: datetime
    ) -> FeedDrift:
        a = AppointmentRow
        stmt = select(
            func.max(a.updated_at),
            func.count(),
            func.coalesce(func.sum(a.version), 0),
            func.max(case((a.date_end <= start, a.date_end))),
            func.max(case((a.date_start < end, a.date_start))),
            func.max(case((and_(a.status == CANCELLED, a.updated_at <= cancelled_before), a.updated_at))),
        ).where(a.calendar_id.in_(list(calendar_ids)))
        changed, count, versions, ended, started, cancelled = self.session.execute(stmt).one()
        return FeedDrift(_aware(changed), int(count), int(versions), _aware(ended), _aware(started), _aware(cancelled))

    @staticmethod
    def _shown(
        calendar_ids: Sequence[str], start: datetime, end: datetime, cancelled_since: datetime | None
    ) -> list[ColumnElement[bool]]:
        a = AppointmentRow
        return [*FeedRepository._listed(calendar_ids, cancelled_since), a.date_end > start, a.date_start < end]

    @staticmethod
    def _listed(calendar_ids: Sequence[str], cancelled_since: datetime | None) -> list[ColumnElement[bool]]:
        a = AppointmentRow
        listed = a.status != CANCELLED
        if cancelled_since is not None:
            listed = or_(listed, a.updated_at > cancelled_since)
        return [a.calendar_id.in_(list(calendar_ids)), a.deleted_at.is_(None), listed]


def _aware(value: object) -> datetime | None:
    """Aggregates lose the column type on SQLite: make the naive UTC values it returns aware again."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return UtcDateTime().process_result_value(value, None)  # type: ignore[arg-type]
