"""Availability: free slots of a calendar or a team, and the re-check a booking makes.

``GET /api/v1/availability`` and every booking flow use the same functions here, so a slot the
API offers is exactly a slot a booking accepts (at that moment).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.scheduling.intervals import (
    Interval,
    SlotSpec,
    day_counts,
    free_slots,
    local_days,
    unfit_reason,
    working_intervals,
)
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import DEFAULT_RULES, AvailabilityRules, Purpose, SchedulingOptions, TimeRange
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "AvailabilityQuery",
    "AvailabilityResult",
    "Plan",
    "Slot",
    "availability",
    "check_slot",
    "order_members",
    "plan_for",
    "team_slots",
]


@dataclass(frozen=True)
class AvailabilityQuery:
    purpose: Purpose
    start: datetime
    end: datetime
    calendar_id: str | None = None
    team_id: str | None = None


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime
    calendar_id: str


@dataclass(frozen=True)
class AvailabilityResult:
    calendar_id: str | None
    team_id: str | None
    purpose: Purpose
    duration: timedelta
    slots: list[Slot]


@dataclass(frozen=True)
class Plan:
    """One calendar's rules resolved for one purpose at one moment."""

    calendar: CalendarRow
    rules: AvailabilityRules
    exceptions: dict[date, list[TimeRange]]
    spec: SlotSpec

    @property
    def zone(self) -> ZoneInfo:
        return self.spec.zone

    def pad(self) -> timedelta:
        """How far around a window busy time matters: buffers, plus whole local days for the per-day maximum."""
        return self.spec.before + self.spec.after + timedelta(days=2)


def plan_for(
    uow: UnitOfWork,
    calendar: CalendarRow,
    purpose: Purpose,
    options: SchedulingOptions,
    now: datetime,
    duration: timedelta | None = None,
) -> Plan:
    queries = uow.repo(SchedulingQueries)
    rules = queries.rules_of(calendar) or DEFAULT_RULES
    minutes = rules.durations.get(purpose) or options.durations.get(purpose.value, 60)
    spec = SlotSpec(
        duration=duration or timedelta(minutes=minutes),
        step=timedelta(minutes=rules.slot_step_minutes),
        before=timedelta(minutes=rules.buffer_before_minutes),
        after=timedelta(minutes=rules.buffer_after_minutes),
        not_before=now + timedelta(minutes=rules.min_notice_minutes),
        not_after=now + timedelta(days=rules.horizon_days),
        max_per_day=rules.max_per_day,
        zone=ZoneInfo(calendar.timezone),
    )
    return Plan(calendar, rules, dict(queries.exceptions_of(calendar)), spec)


def _inputs(
    uow: UnitOfWork, plans: Sequence[Plan], window: Interval, now: datetime, exclude: Sequence[str]
) -> tuple[dict[str, list[Interval]], dict[str, list[Interval]]]:
    """Working and busy intervals per calendar around ``window`` (one busy query for all)."""
    pad = max((p.pad() for p in plans), default=timedelta(days=2))
    busy = uow.repo(SchedulingQueries).busy_intervals(
        [p.calendar.id for p in plans], window[0] - pad, window[1] + pad, now, exclude=exclude
    )
    working = {
        p.calendar.id: working_intervals(
            p.rules,
            p.exceptions,
            p.zone,
            local_days(window[0] - timedelta(days=1), window[1] + timedelta(days=1), p.zone),
        )
        for p in plans
    }
    return working, busy


def check_slot(
    uow: UnitOfWork, plan: Plan, slot: Interval, now: datetime, *, exclude: Sequence[str] = ()
) -> str | None:
    """Why ``slot`` cannot be booked on ``plan``'s calendar now, or ``None`` if it can."""
    working, busy = _inputs(uow, [plan], slot, now, exclude)
    return unfit_reason(slot, working[plan.calendar.id], busy[plan.calendar.id], plan.spec)


def order_members(
    uow: UnitOfWork, team: CalendarRow, members: Sequence[CalendarRow], options: SchedulingOptions, window: Interval
) -> list[CalendarRow]:
    """Members in round-robin order: the one least recently assigned a slot through this team first.
    (Least-loaded assignment re-ranks per slot, by that day's appointments: :func:`team_slots`.)"""
    ids = [m.id for m in members]
    last = uow.repo(SchedulingQueries).last_assigned(team.id, ids)
    never = datetime.min.replace(tzinfo=window[0].tzinfo)
    return sorted(members, key=lambda m: (last.get(m.id, never), m.name, m.id))


def team_slots(
    uow: UnitOfWork,
    plans: Sequence[Plan],
    window: Interval,
    now: datetime,
    *,
    exclude: Sequence[str] = (),
    least_loaded: bool = False,
) -> list[Slot]:
    """One slot per start time, naming the member who takes it: the first free one in ``plans``
    order (round-robin), or with ``least_loaded`` the free one with the fewest appointments on
    that local day (ties in ``plans`` order)."""
    working, busy = _inputs(uow, plans, window, now, exclude)
    chosen: dict[datetime, tuple[tuple[int, int], Slot]] = {}
    for rank, plan in enumerate(plans):
        cid = plan.calendar.id
        counts = day_counts(busy[cid], plan.zone) if least_loaded else {}
        for start, end in free_slots(working[cid], busy[cid], plan.spec, window):
            key = (counts.get(start.astimezone(plan.zone).date(), 0), rank)
            if start not in chosen or key < chosen[start][0]:
                chosen[start] = (key, Slot(start, end, cid))
    return [chosen[s][1] for s in sorted(chosen)]


def resolve_target(
    uow: UnitOfWork, calendar_id: str | None, team_id: str | None
) -> tuple[CalendarRow | None, list[CalendarRow]]:
    """(team, members) for a team, or (None, [calendar]) for a calendar; 422 for an unknown one."""
    if (calendar_id is None) == (team_id is None):
        raise ValidationFailed([FieldError("calendar_id", "give exactly one of calendar_id and team_id")])
    if team_id is not None:
        team = uow.calendars.get(team_id)
        if team is None or team.kind != CalendarKind.TEAM:
            raise ValidationFailed([FieldError("team_id", f"{team_id!r} is not a team calendar")])
        return team, uow.repo(SchedulingQueries).members_of(team.id)
    assert calendar_id is not None
    calendar = uow.calendars.get(calendar_id)
    if calendar is None:
        raise ValidationFailed([FieldError("calendar_id", f"unknown calendar {calendar_id!r}")])
    if calendar.kind == CalendarKind.TEAM:
        raise ValidationFailed([FieldError("calendar_id", "a team calendar: ask with team_id for its members' slots")])
    return None, [calendar]


def availability(
    uow: UnitOfWork,
    actor: Actor,
    query: AvailabilityQuery,
    options: SchedulingOptions,
    *,
    now: datetime | None = None,
) -> AvailabilityResult:
    """Free slots in ``[query.start, query.end)``.

    Free/busy carries no patient data, so any token with the read scope may ask about any
    calendar or team (a tech-setup person must see fitters' availability to book a fitting).
    """
    actor.require("read")
    if query.end <= query.start:
        raise ValidationFailed([FieldError("to", "must be after 'from'")])
    if query.end - query.start > options.max_window:
        raise ValidationFailed([FieldError("to", f"the window may span at most {options.max_window.days} days")])
    now = now or utcnow()
    window = (query.start, query.end)
    with uow:
        team, members = resolve_target(uow, query.calendar_id, query.team_id)
        if team is not None:
            members = order_members(uow, team, members, options, window)
        plans = [plan_for(uow, m, query.purpose, options, now) for m in members]
        least_loaded = team is not None and options.assignment == "least_loaded"
        slots = team_slots(uow, plans, window, now, least_loaded=least_loaded) if plans else []
        duration = plans[0].spec.duration if plans else timedelta(minutes=options.durations.get(query.purpose, 60))
        return AvailabilityResult(query.calendar_id, query.team_id, query.purpose, duration, slots)
