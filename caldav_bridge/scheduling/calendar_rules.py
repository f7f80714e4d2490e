"""Availability rules and exceptions of calendars and teams: read (read scope), set (admin scope)."""

from __future__ import annotations

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import NotFound
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import DEFAULT_RULES, AvailabilityRules, ExceptionDraft
from caldav_bridge.scheduling.tables import AvailabilityExceptionRow, AvailabilityRuleRow
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["delete_exception", "get_rules", "list_exceptions", "put_exception", "set_rules"]


def _calendar(uow: UnitOfWork, actor: Actor, calendar_id: str) -> CalendarRow:
    row = uow.calendars.get(calendar_id)
    if row is None or not actor.reaches(row.id):
        raise NotFound("calendar", calendar_id)
    return row


def get_rules(uow: UnitOfWork, actor: Actor, calendar_id: str) -> tuple[AvailabilityRules, str]:
    """The rules in force and where they come from: ``calendar``, ``team`` or ``default``."""
    actor.require("read")
    with uow:
        calendar = _calendar(uow, actor, calendar_id)
        queries = uow.repo(SchedulingQueries)
        if queries.rules_row(calendar.id) is not None:
            source = "calendar"
        elif calendar.team_id and queries.rules_row(calendar.team_id) is not None:
            source = "team"
        else:
            source = "default"
        return queries.rules_of(calendar) or DEFAULT_RULES, source


def set_rules(uow: UnitOfWork, actor: Actor, calendar_id: str, rules: AvailabilityRules) -> AvailabilityRules:
    actor.require("admin")
    with uow:
        calendar = _calendar(uow, actor, calendar_id)
        queries = uow.repo(SchedulingQueries)
        row = queries.rules_row(calendar.id) or AvailabilityRuleRow(calendar_id=calendar.id)
        data = rules.model_dump(mode="json")
        row.weekly_hours = data["weekly_hours"]
        row.breaks = data["breaks"]
        row.durations = data["durations"]
        row.buffer_before_minutes = rules.buffer_before_minutes
        row.buffer_after_minutes = rules.buffer_after_minutes
        row.min_notice_minutes = rules.min_notice_minutes
        row.horizon_days = rules.horizon_days
        row.max_per_day = rules.max_per_day
        row.slot_step_minutes = rules.slot_step_minutes
        row.updated_at = utcnow()
        queries.save_rules(row)
        uow.commit()
        return rules


def _exception_view(row: AvailabilityExceptionRow) -> ExceptionDraft:
    return ExceptionDraft.model_validate({"date": row.day, "hours": row.hours.get("hours", []), "reason": row.reason})


def list_exceptions(uow: UnitOfWork, actor: Actor, calendar_id: str) -> list[ExceptionDraft]:
    actor.require("read")
    with uow:
        _calendar(uow, actor, calendar_id)
        return [_exception_view(r) for r in uow.repo(SchedulingQueries).exceptions(calendar_id)]


def put_exception(uow: UnitOfWork, actor: Actor, calendar_id: str, draft: ExceptionDraft) -> ExceptionDraft:
    """Set (or replace) the hours of one local date; no hours closes it."""
    actor.require("admin")
    with uow:
        _calendar(uow, actor, calendar_id)
        day = draft.date.isoformat()
        queries = uow.repo(SchedulingQueries)
        row = queries.exception_on(calendar_id, day)
        if row is None:
            row = AvailabilityExceptionRow(calendar_id=calendar_id, day=day, created_at=utcnow())
            queries.add_exception(row)
        row.hours = {"hours": [h.model_dump(mode="json") for h in draft.hours]}
        row.reason = draft.reason
        uow.commit()
        return _exception_view(row)


def delete_exception(uow: UnitOfWork, actor: Actor, calendar_id: str, day: str) -> None:
    actor.require("admin")
    with uow:
        _calendar(uow, actor, calendar_id)
        queries = uow.repo(SchedulingQueries)
        row = queries.exception_on(calendar_id, day)
        if row is None:
            raise NotFound("availability exception", day)
        queries.remove_exception(row)
        uow.commit()
