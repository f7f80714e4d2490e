"""Scheduling's queries: ``uow.repo(SchedulingQueries)`` (availability rules and exceptions, team members,
busy time, round-robin order, tech-setup teams); in the unit of work's transaction, never committing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select

from caldav_bridge.dav.render import is_recurring
from caldav_bridge.model.appointment import MAX_DURATION, AppointmentStatus, AppointmentType
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.scheduling.recurring import occurrences
from caldav_bridge.scheduling.rules import AvailabilityRules, TimeRange
from caldav_bridge.scheduling.tables import (
    AvailabilityExceptionRow,
    AvailabilityRuleRow,
    SlotClaimRow,
)
from caldav_bridge.store.dav_tables import SHORT_SPAN, DavCollectionRow, DavItemRow
from caldav_bridge.store.repositories import occupies_time
from caldav_bridge.store.tables import AppointmentRow, CalendarRow
from caldav_bridge.store.uow import SessionRepository

__all__ = ["SchedulingQueries"]


def _to_rules(row: AvailabilityRuleRow) -> AvailabilityRules:
    return AvailabilityRules.model_validate(
        {
            "weekly_hours": row.weekly_hours,
            "breaks": row.breaks,
            "durations": row.durations,
            "buffer_before_minutes": row.buffer_before_minutes,
            "buffer_after_minutes": row.buffer_after_minutes,
            "min_notice_minutes": row.min_notice_minutes,
            "horizon_days": row.horizon_days,
            "max_per_day": row.max_per_day,
            "slot_step_minutes": row.slot_step_minutes,
        }
    )


def _transparent(text: str) -> bool:
    """``TRANSP:TRANSPARENT`` on the event: it does not occupy its time (RFC 5545 §3.8.2.7)."""
    return "TRANSP:TRANSPARENT" in text.upper().replace("\r\n ", "")


class SchedulingQueries(SessionRepository):
    """Scheduling's reads and the rules/exceptions it keeps, on the unit of work's session."""

    def rules_row(self, calendar_id: str) -> AvailabilityRuleRow | None:
        return self.session.get(AvailabilityRuleRow, calendar_id)

    def save_rules(self, row: AvailabilityRuleRow) -> None:
        self.session.add(row)

    def rules_of(self, calendar: CalendarRow) -> AvailabilityRules | None:
        """The calendar's own rules, else its team's, else ``None``."""
        for calendar_id in (calendar.id, calendar.team_id):
            if calendar_id:
                row = self.rules_row(calendar_id)
                if row is not None:
                    return _to_rules(row)
        return None

    def exceptions_of(self, calendar: CalendarRow) -> dict[date, list[TimeRange]]:
        """Exceptions of the calendar's team, overridden day by day by the calendar's own."""
        ids = [c for c in (calendar.team_id, calendar.id) if c]
        rows = self.session.scalars(
            select(AvailabilityExceptionRow).where(AvailabilityExceptionRow.calendar_id.in_(ids))
        )
        result: dict[date, list[TimeRange]] = {}
        for row in sorted(rows, key=lambda r: r.calendar_id == calendar.id):
            result[date.fromisoformat(row.day)] = [TimeRange.model_validate(h) for h in row.hours.get("hours", [])]
        return result

    def exceptions(self, calendar_id: str) -> list[AvailabilityExceptionRow]:
        """The calendar's own exceptions (not its team's), by date."""
        stmt = (
            select(AvailabilityExceptionRow)
            .where(AvailabilityExceptionRow.calendar_id == calendar_id)
            .order_by(AvailabilityExceptionRow.day)
        )
        return list(self.session.scalars(stmt))

    def exception_on(self, calendar_id: str, day: str) -> AvailabilityExceptionRow | None:
        stmt = select(AvailabilityExceptionRow).where(
            AvailabilityExceptionRow.calendar_id == calendar_id, AvailabilityExceptionRow.day == day
        )
        return self.session.scalars(stmt).one_or_none()

    def add_exception(self, row: AvailabilityExceptionRow) -> None:
        self.session.add(row)

    def remove_exception(self, row: AvailabilityExceptionRow) -> None:
        self.session.delete(row)

    def members_of(self, team_id: str) -> list[CalendarRow]:
        stmt = select(CalendarRow).where(CalendarRow.team_id == team_id).order_by(CalendarRow.name, CalendarRow.id)
        return list(self.session.scalars(stmt))

    def busy_intervals(
        self,
        calendar_ids: Sequence[str],
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        exclude: Sequence[str] = (),
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Per calendar, the appointments overlapping ``[start, end)`` that occupy time.

        Everything not cancelled and not deleted occupies its calendar (from the API, CalDAV, OLS,
        Salesforce alike), except what shows as free (``meta.show_as`` ``free``, ``TRANSP:TRANSPARENT``) and
        holds that have expired but were not swept yet. The lower bound on
        ``date_start`` (implied by MAX_DURATION) keeps the scan on the (calendar, start) index.
        """
        result: dict[str, list[tuple[datetime, datetime]]] = {c: [] for c in calendar_ids}
        if not calendar_ids:
            return result
        stmt = (
            select(AppointmentRow.id, AppointmentRow.calendar_id, AppointmentRow.date_start, AppointmentRow.date_end)
            .outerjoin(SlotClaimRow, SlotClaimRow.appointment_id == AppointmentRow.id)
            .where(
                AppointmentRow.calendar_id.in_(list(calendar_ids)),
                AppointmentRow.deleted_at.is_(None),
                AppointmentRow.status != AppointmentStatus.CANCELLED.value,
                AppointmentRow.date_start < end,
                AppointmentRow.date_start > start - MAX_DURATION,
                AppointmentRow.date_end > start,
                or_(SlotClaimRow.hold_expires_at.is_(None), SlotClaimRow.hold_expires_at > now),
                occupies_time(),
            )
        )
        if exclude:
            stmt = stmt.where(AppointmentRow.id.not_in(list(exclude)))
        series, recurring = self._recurring(calendar_ids, start, end, exclude)
        for appointment_id, calendar_id, date_start, date_end in self.session.execute(stmt):
            if appointment_id not in series:  # a series' first occurrence is one of its occurrences below
                result[calendar_id].append((date_start, date_end))
        for calendar_id, intervals in recurring.items():
            result[calendar_id].extend(intervals)
        return result

    def _recurring(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime, exclude: Sequence[str]
    ) -> tuple[set[str], dict[str, list[tuple[datetime, datetime]]]]:
        """Occurrences of recurring events written over CalDAV into these calendars (the appointment row
        holds only the first one; the ids of those appointments are returned too), and long calendar-only
        events (a vacation: no appointment holds it) unless transparent.

        An item's stored range spans all its occurrences: long items are found by their flag, short ones
        (a daily series of three) by a bounded range on their start, as the CalDAV store finds them.
        """
        item = DavItemRow
        base = (
            select(
                DavCollectionRow.calendar_id,
                item.text,
                CalendarRow.timezone,
                item.appointment_id,
                item.time_start,
                item.time_end,
            )
            .join(item, item.collection_id == DavCollectionRow.id)
            .join(CalendarRow, CalendarRow.id == DavCollectionRow.calendar_id)
            .outerjoin(AppointmentRow, AppointmentRow.id == item.appointment_id)
            .where(
                DavCollectionRow.calendar_id.in_(list(calendar_ids)),
                item.component == "VEVENT",
                or_(AppointmentRow.id.is_(None), AppointmentRow.status != AppointmentStatus.CANCELLED.value),
                AppointmentRow.deleted_at.is_(None),
            )
        )
        if exclude:
            base = base.where(or_(item.appointment_id.is_(None), item.appointment_id.not_in(list(exclude))))
        low, high = int(start.timestamp()), int(end.timestamp())
        long_items = base.where(item.long_span.is_(True))
        short_series = base.where(
            item.long_span.is_(False),
            item.time_start >= low - SHORT_SPAN,
            item.time_start < high,
            item.time_end > low,
            or_(item.text.contains("RRULE"), item.text.contains("RDATE")),
        )
        series: set[str] = set()
        result: dict[str, list[tuple[datetime, datetime]]] = {}
        for stmt in (long_items, short_series):
            for calendar_id, text, zone, appointment_id, time_start, time_end in self.session.execute(stmt):
                if calendar_id is None:
                    continue
                if is_recurring(text):
                    result.setdefault(calendar_id, []).extend(occurrences(text, zone, start, end))
                    if appointment_id is not None:
                        series.add(appointment_id)
                elif appointment_id is None and not _transparent(text):
                    span = (datetime.fromtimestamp(time_start, UTC), datetime.fromtimestamp(time_end, UTC))
                    if span[0] < end and span[1] > start:
                        result.setdefault(calendar_id, []).append(span)
        return series, result

    def last_assigned(self, team_id: str, calendar_ids: Sequence[str]) -> dict[str, datetime]:
        """When each member last got a slot through the team (round-robin order)."""
        stmt = (
            select(SlotClaimRow.calendar_id, func.max(SlotClaimRow.created_at))
            .where(SlotClaimRow.team_id == team_id, SlotClaimRow.calendar_id.in_(list(calendar_ids)))
            .group_by(SlotClaimRow.calendar_id)
        )
        return {c: at for c, at in self.session.execute(stmt)}

    def tech_setup_teams(self) -> list[CalendarRow]:
        """The teams that have tech-setup members."""
        teams = select(CalendarRow.team_id).where(
            CalendarRow.kind == CalendarKind.TECH_SETUP_MEMBER, CalendarRow.team_id.is_not(None)
        )
        return list(self.session.scalars(select(CalendarRow).where(CalendarRow.id.in_(teams.distinct()))))

    def live_initials_mentioning(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """(id, ``meta_extra``) of the live INITIALs whose meta's JSON text contains ``key``, earliest first
        (callers check the key)."""
        stmt = (
            select(AppointmentRow.id, AppointmentRow.meta_extra)
            .where(
                AppointmentRow.deleted_at.is_(None),
                AppointmentRow.type == AppointmentType.INITIAL.value,
                cast(AppointmentRow.meta_extra, String).like(f"%{key}%"),
            )
            .order_by(AppointmentRow.date_start)
        )
        return [(appointment_id, extra or {}) for appointment_id, extra in self.session.execute(stmt)]
