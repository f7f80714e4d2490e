"""The booking flows of the customer journey, each a service function.

1. :func:`book` with ``INITIAL``: lead conversion, the customer books an INITIAL consultation from a
   consultant's (or the consultants' team's) availability; booking it schedules its TECH_SETUP call.
2. :func:`schedule_tech_setup`: the TECH_SETUP call two days (``scheduling_tech_setup_offset_days``)
   before the INITIAL appointment, from the tech-setup team's availability; if that day has no
   slot, the nearest earlier day; booked (``automatic``) or held for confirmation (``proposed``).
3. :func:`book` with ``FITTING``: the tech-setup person books the fitting with a fitter.
4. :func:`book` with ``FOLLOW_UP``: the consultant or fitter books a follow-up.

Plus holds (:func:`confirm`, :func:`expire_holds`), :func:`reschedule` (offers to move the
TECH_SETUP call with its INITIAL appointment) and :func:`cancel` (cancels the pending TECH_SETUP
call with it, see :mod:`caldav_bridge.scheduling.hooks`).

Every appointment is written through :mod:`caldav_bridge.services.appointments` (``create_in``,
``update_in``), so each gets its outbox row for Salesforce, status history and audit rows in the
same transaction. The slot is checked again inside that transaction and claimed in
``slot_claims`` (PostgreSQL's exclusion constraint; SQLite's serialised writers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import Conflict, FieldError, InvalidTransition, NotFound, ValidationFailed
from caldav_bridge.events.model import BookingMade, HoldExpired, TechSetupUnscheduled
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from caldav_bridge.model.requests import AppointmentDraft, AppointmentPatch, CalendarKind
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.scheduling.availability import (
    Plan,
    check_slot,
    order_members,
    plan_for,
    resolve_target,
    team_slots,
)
from caldav_bridge.scheduling.claims import ClaimTaken, SlotClaims
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.intervals import free_slots, local_days, working_intervals
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.requests import (
    CancelBookingRequest,
    FollowOnBookingRequest,
    InitialBookingRequest,
    RescheduleBookingRequest,
)
from caldav_bridge.scheduling.rules import Purpose, SchedulingOptions
from caldav_bridge.scheduling.tables import AppointmentLinkRow, SlotClaimRow
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import Actor, system_actor
from caldav_bridge.services.appointments import Stored
from caldav_bridge.services.mapping import appointment_from_row, etag_of
from caldav_bridge.services.validation import field_errors
from caldav_bridge.store.tables import AppointmentRow, CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "TECH_SETUP_META",
    "Booked",
    "BookingRequest",
    "Cancelled",
    "Rescheduled",
    "SlotUnavailable",
    "TechSetupOffer",
    "TechSetupOutcome",
    "book",
    "cancel",
    "confirm",
    "expire_holds",
    "hold_expiry",
    "live_tech_setups",
    "reschedule",
    "schedule_tech_setup",
    "tech_setup_in",
]

S = AppointmentStatus
#: How many offered slots a flow tries when concurrent bookings take them first.
MAX_RACE_RETRIES = 5
#: The INITIAL's ``meta`` key where the Salesforce mirror's tech-setup policy records what it did (a
#: proposal stands there until someone books the call: ``POST /bookings/{id}/tech-setup``).
TECH_SETUP_META = "tech_setup"
#: What :func:`book` takes: an INITIAL's request, or a FITTING's or FOLLOW_UP's.
BookingRequest = InitialBookingRequest | FollowOnBookingRequest


@dataclass(frozen=True)
class TechSetupOutcome:
    status: str  # booked | proposed | unscheduled
    appointment: Stored | None = None
    team_id: str | None = None
    requested_date: date | None = None
    chosen_date: date | None = None
    fallback: bool = False
    detail: str | None = None
    #: A proposal that books nothing (:func:`tech_setup_in` with ``propose``): the slot and member calendar.
    slot: tuple[datetime, datetime] | None = None
    calendar_id: str | None = None


@dataclass(frozen=True)
class Booked:
    appointment: Stored
    hold_expires_at: datetime | None = None
    tech_setup: TechSetupOutcome | None = None


@dataclass(frozen=True)
class TechSetupOffer:
    appointment_id: str
    date_start: datetime | None = None
    date_end: datetime | None = None
    moved: bool = False
    detail: str | None = None
    #: The stale call cancelled by the move (its person had no slot before the new date): then
    #: ``appointment_id`` is its replacement if one was booked, else the cancelled call itself.
    cancelled: str | None = None


@dataclass(frozen=True)
class Rescheduled:
    appointment: Stored
    tech_setup_offer: TechSetupOffer | None = None


@dataclass(frozen=True)
class Cancelled:
    appointment: Stored
    cancelled: list[str]


# --------------------------------------------------------------------------- flows


def book(
    uow: UnitOfWork,
    actor: Actor,
    purpose: Purpose,
    request: BookingRequest,
    options: SchedulingOptions,
    *,
    now: datetime | None = None,
) -> Booked:
    """Flow 1 (``INITIAL``, from an :class:`InitialBookingRequest`), flows 3 and 4 (``FITTING``,
    ``FOLLOW_UP``, from a :class:`FollowOnBookingRequest`, for the customer of its ``appointment_id``).

    A booked (not held) INITIAL also gets its TECH_SETUP call (flow 2).
    """
    initial = purpose is Purpose.INITIAL
    if initial != isinstance(request, InitialBookingRequest) or purpose is Purpose.TECH_SETUP:
        raise ValueError(f"a {type(request).__name__} does not book {purpose.value}")
    actor.require("write")
    now = now or utcnow()
    with uow:
        if isinstance(request, InitialBookingRequest):
            fields, link = _initial_fields(request), None
        else:
            fields, link = _follow_on_fields(uow, actor, purpose, request)
        team, members = resolve_target(uow, request.calendar_id, request.team_id)
        row, claim = _place(
            uow,
            actor,
            team,
            members,
            purpose,
            request.date_start,
            request.date_end,
            fields,
            options,
            now,
            hold=request.hold,
            link=link,
        )
        uow.add_event(
            BookingMade(
                actor=actor, appointment_id=row.id, calendar_id=row.calendar_id, kind=purpose.value, hold=request.hold
            )
        )
        tech = None
        if isinstance(request, InitialBookingRequest) and not request.hold:
            tech = _schedule_tech_setup(uow, actor, row, options, now, team_id=request.tech_setup_team_id)
            _note_outcome(uow, actor, row, tech, now)
        _commit(uow)
        return Booked(_stored(row), claim.hold_expires_at, tech)


def schedule_tech_setup(
    uow: UnitOfWork,
    actor: Actor,
    initial_id: str,
    options: SchedulingOptions,
    *,
    team_id: str | None = None,
    mode: str | None = None,
    now: datetime | None = None,
) -> TechSetupOutcome:
    """Flow 2 on demand: (re)schedule the TECH_SETUP call of a booked INITIAL appointment that has none."""
    actor.require("write")
    now = now or utcnow()
    with uow:
        initial = _reachable_row(uow, actor, initial_id)
        if initial.type != AppointmentType.INITIAL:
            raise ValidationFailed([FieldError("id", "not an INITIAL appointment")])
        if initial.status in (S.CANCELLED, S.RESERVED, S.INITIAL):
            raise InvalidTransition(initial.status, "schedule the tech-setup call of")
        if _live_targets(uow, initial.id, "tech_setup"):
            raise Conflict("the appointment already has a tech-setup call; reschedule or cancel that one")
        outcome = _schedule_tech_setup(uow, actor, initial, options, now, team_id=team_id, mode=mode)
        if outcome.appointment is not None and TECH_SETUP_META in (initial.meta_extra or {}):
            # a proposal of the Salesforce mirror's policy, accepted: it no longer stands
            initial.meta_extra = {k: v for k, v in initial.meta_extra.items() if k != TECH_SETUP_META}
        _commit(uow)
        return outcome


def tech_setup_in(
    uow: UnitOfWork,
    actor: Actor,
    initial: AppointmentRow,
    options: SchedulingOptions,
    *,
    propose: bool = False,
    now: datetime | None = None,
) -> TechSetupOutcome:
    """Flow 2 in the caller's transaction, as a booking through the API places it (the two-days-before rule,
    the fallback days, the slot checked and claimed); with ``propose``, the slot it would take, found the
    same way, and nothing booked. The Salesforce mirror's tech-setup policy calls it."""
    return _schedule_tech_setup(uow, actor, initial, options, now or utcnow(), propose=propose)


def live_tech_setups(uow: UnitOfWork, initial_id: str) -> list[AppointmentRow]:
    """The INITIAL's tech-setup calls that are not cancelled (at most one, unless a caller allowed more)."""
    return _live_targets(uow, initial_id, "tech_setup")


def confirm(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    options: SchedulingOptions,
    *,
    now: datetime | None = None,
    details: AppointmentPatch | None = None,
) -> Booked:
    """Turn a hold (RESERVED) into a booking; a confirmed INITIAL gets its TECH_SETUP call.

    ``details`` (name, guests, ...) are written with the status, in the same change: what the
    self-booking page learns from the customer while the slot is held.
    """
    actor.require("write")
    now = now or utcnow()
    with uow:
        row = _reachable_row(uow, actor, appointment_id, for_update=True)
        if row.status != S.RESERVED:
            raise InvalidTransition(row.status, "confirm")
        claim = uow.repo(SlotClaims).of(row.id)
        if claim is not None and claim.hold_expires_at is not None and claim.hold_expires_at <= now:
            raise SlotUnavailable(f"the hold expired at {claim.hold_expires_at.isoformat()}; book the slot again")
        if claim is None:  # RESERVED elsewhere (REST, CalDAV): check and claim the slot now
            _claim(uow, row, _free_for(uow, row, (row.date_start, row.date_end), options, now), None, None, now)
        given = details.model_dump(exclude_unset=True) if details is not None else {}
        patch = AppointmentPatch.model_validate({**given, "status": S.BOOKED.value})
        appointments.update_in(uow, _wide(actor), row.id, patch)
        tech = None
        if row.type == AppointmentType.INITIAL and not _live_targets(uow, row.id, "tech_setup"):
            tech = _schedule_tech_setup(uow, actor, row, options, now)
            _note_outcome(uow, actor, row, tech, now)
        _commit(uow)
        return Booked(_stored(row), None, tech)


def reschedule(
    uow: UnitOfWork,
    actor: Actor,
    appointment_id: str,
    request: RescheduleBookingRequest,
    options: SchedulingOptions,
    *,
    now: datetime | None = None,
) -> Rescheduled:
    """Move a booking to a free slot on its calendar; for an INITIAL appointment, offer (or with
    ``move_tech_setup`` make) the matching move of its TECH_SETUP call."""
    actor.require("write")
    now = now or utcnow()
    with uow:
        row = _reachable_row(uow, actor, appointment_id, for_update=True)
        if row.status == S.CANCELLED:
            raise InvalidTransition(row.status, "reschedule")
        duration = (request.date_end - request.date_start) if request.date_end else (row.date_end - row.date_start)
        slot = (request.date_start, request.date_start + duration)
        _expire_holds_in(uow, now, [row.calendar_id])
        plan = _free_for(uow, row, slot, options, now)
        had_claim = uow.repo(SlotClaims).of(row.id) is not None
        patch: dict[str, Any] = {"date_start": slot[0], "date_end": slot[1]}
        if row.status != S.RESERVED:
            patch["status"] = S.RESCHEDULED.value
        appointments.update_in(uow, _wide(actor), row.id, AppointmentPatch.model_validate(patch), reason=request.reason)
        if not had_claim:
            _claim(uow, row, plan, None, None, now)
        offer = None
        if row.type == AppointmentType.INITIAL:
            offer = _tech_setup_offer(
                uow, actor, row, options, now, move=request.move_tech_setup, reason=request.reason
            )
        _commit(uow)
        return Rescheduled(_stored(row), offer)


def cancel(uow: UnitOfWork, actor: Actor, appointment_id: str, request: CancelBookingRequest) -> Cancelled:
    """Cancel a booking and release its slot; an INITIAL's pending TECH_SETUP call is cancelled with it."""
    actor.require("write")
    with uow:
        row = _reachable_row(uow, actor, appointment_id, for_update=True)
        if row.status == S.CANCELLED:
            raise InvalidTransition(row.status, "cancel")
        linked = [link.target_id for link in uow.repo(SlotClaims).links_from(row.id)]
        live_before = {t for t in linked if (r := uow.appointments.get(t)) is not None and r.status != S.CANCELLED}
        appointments.update_in(uow, _wide(actor), row.id, AppointmentPatch(status=S.CANCELLED), reason=request.reason)
        cancelled = [
            t
            for t in linked
            if t in live_before and (r := uow.appointments.get(t)) is not None and r.status == S.CANCELLED
        ]
        _commit(uow)
        return Cancelled(_stored(row), cancelled)


def hold_expiry(uow: UnitOfWork, appointment_id: str) -> datetime | None:
    """When the hold on ``appointment_id``'s slot runs out (None: no claim, or not a hold), in the caller's
    transaction."""
    claim = uow.repo(SlotClaims).of(appointment_id)
    return claim.hold_expires_at if claim is not None else None


def expire_holds(uow: UnitOfWork, *, now: datetime | None = None, limit: int = 500) -> int:
    """Release holds whose time is up: RESERVED → CANCELLED ("hold expired"), slot freed, history kept."""
    now = now or utcnow()
    with uow:
        count = _expire_holds_in(uow, now, None, limit)
        _commit(uow)
        return count


# --------------------------------------------------------------------------- in the open transaction


def _wide(actor: Actor) -> Actor:
    """The actor, reaching every calendar: the flows book on calendars of other people (a
    consultant's customer gets a tech-setup call; a tech-setup person books a fitter)."""
    return replace(actor, calendar_ids=None, read_only_ids=frozenset())


def _purpose_of(row: AppointmentRow) -> Purpose:
    value = (row.meta_extra or {}).get("purpose")
    if isinstance(value, str) and value in Purpose.__members__:
        return Purpose(value)
    return Purpose(row.type)


def _reachable_row(uow: UnitOfWork, actor: Actor, appointment_id: str, *, for_update: bool = False) -> AppointmentRow:
    """The appointment if the actor reaches its calendar, its team, or an appointment it follows from."""
    row = uow.appointments.get(appointment_id, for_update=for_update)
    if row is None:
        raise NotFound("appointment", appointment_id)
    if actor.reaches(row.calendar_id) or (row.calendar.team_id and actor.reaches(row.calendar.team_id)):
        return row
    for link in uow.repo(SlotClaims).links_to(row.id):
        source = uow.appointments.get(link.source_id)
        if source is not None and actor.reaches(source.calendar_id):
            return row
    raise NotFound("appointment", appointment_id)


def _live_targets(uow: UnitOfWork, source_id: str, kind: str) -> list[AppointmentRow]:
    rows = []
    for link in uow.repo(SlotClaims).links_from(source_id, kind):
        target = uow.appointments.get(link.target_id)
        if target is not None and target.status != S.CANCELLED:
            rows.append(target)
    return rows


def _initial_fields(request: InitialBookingRequest) -> dict[str, Any]:
    meta = request.meta.model_dump(mode="json")
    meta.update(type=AppointmentType.INITIAL.value, purpose=Purpose.INITIAL.value)
    return {
        "name": request.name,
        "description": request.description,
        "guests": [g.model_dump(mode="json") for g in request.guests],
        "meta": meta,
    }


def _follow_on_fields(
    uow: UnitOfWork, actor: Actor, purpose: Purpose, request: FollowOnBookingRequest
) -> tuple[dict[str, Any], tuple[str, str]]:
    """The fields of a FITTING or FOLLOW_UP from the appointment it follows, and the link to that one."""
    try:
        source_row = _reachable_row(uow, actor, request.appointment_id)
    except NotFound as exc:  # a reference in the body: a field error, as for an unknown calendar
        raise ValidationFailed([FieldError("appointment_id", exc.detail)]) from exc
    if source_row.status == S.CANCELLED:
        raise InvalidTransition(source_row.status, f"book a {purpose.value.lower()} after")
    source = appointment_from_row(source_row)
    kept = {k: v for k, v in source.meta.model_dump(mode="json").items() if k not in {"salesforce", "purpose"}}
    kept.update(
        type=AppointmentType.FOLLOW_UP.value,
        purpose=purpose.value,
        follows=str(source.id),
        salesforce={
            "opportunity_gid": source.meta.salesforce.opportunity_gid,
            "customer_gid": source.meta.salesforce.customer_gid,
        },
    )
    label = "Fitting" if purpose is Purpose.FITTING else "Follow-up"
    fields = {
        "name": request.name or f"{label}: {source.name}"[:255],
        "description": request.description,
        "guests": [g.model_dump(mode="json") for g in source.guests],
        "meta": kept,
    }
    return fields, (source_row.id, purpose.value.lower())


def _place(
    uow: UnitOfWork,
    actor: Actor,
    team: CalendarRow | None,
    members: list[CalendarRow],
    purpose: Purpose,
    start: datetime,
    end: datetime | None,
    fields: dict[str, Any],
    options: SchedulingOptions,
    now: datetime,
    *,
    hold: bool = False,
    link: tuple[str, str] | None = None,
) -> tuple[AppointmentRow, SlotClaimRow]:
    """Re-check the slot on the first fitting candidate, write the appointment and claim the slot."""
    if not members:
        raise SlotUnavailable("the team has no members")
    _expire_holds_in(uow, now, [m.id for m in members])
    duration = end - start if end else None
    if team is not None:
        # The member the availability API names for this slot goes first, then round-robin order.
        members = order_members(uow, team, members, options, (start, start + timedelta(days=1)))
        plans = [plan_for(uow, m, purpose, options, now, duration) for m in members]
        named = team_slots(
            uow,
            plans,
            (start, start + plans[0].spec.duration),
            now,
            least_loaded=options.assignment == "least_loaded",
        )
        if named and named[0].start == start:
            members.sort(key=lambda m: m.id != named[0].calendar_id)
    reasons = []
    for member in members:
        plan = plan_for(uow, member, purpose, options, now, duration)
        slot = (start, start + plan.spec.duration)
        reason = check_slot(uow, plan, slot, now)
        if reason is None:
            break
        reasons.append(reason)
    else:
        raise SlotUnavailable(reasons[0] if team is None else f"no member of the team is free then ({reasons[0]})")
    status = S.RESERVED if hold else S.BOOKED
    try:
        draft = AppointmentDraft.model_validate(
            {
                **fields,
                "calendar": {"id": member.id},
                "date_start": slot[0],
                "date_end": slot[1],
                "status": status.value,
            }
        )
    except ValidationError as exc:
        raise ValidationFailed(field_errors(exc)) from exc
    row = appointments.create_in(uow, _wide(actor), draft)
    hold_until = now + options.hold if hold else None
    claim = _claim(uow, row, plan, team.id if team else None, hold_until, now)
    if link is not None:
        uow.repo(SlotClaims).add_link(
            AppointmentLinkRow(source_id=link[0], target_id=row.id, kind=link[1], created_at=now)
        )
    return row, claim


def _free_for(
    uow: UnitOfWork, row: AppointmentRow, slot: tuple[datetime, datetime], options: SchedulingOptions, now: datetime
) -> Plan:
    """The plan of ``row``'s calendar and purpose, if ``slot`` is free there (``row`` itself aside)."""
    plan = plan_for(uow, row.calendar, _purpose_of(row), options, now, slot[1] - slot[0])
    reason = check_slot(uow, plan, slot, now, exclude=[row.id])
    if reason:
        raise SlotUnavailable(reason)
    return plan


def _claim(
    uow: UnitOfWork,
    row: AppointmentRow,
    plan: Plan,
    team_id: str | None,
    hold_until: datetime | None,
    now: datetime,
) -> SlotClaimRow:
    """Claim ``row``'s slot with ``plan``'s buffers around it; a concurrent claim of it is a SlotUnavailable."""
    claim = SlotClaimRow(
        appointment_id=row.id,
        calendar_id=row.calendar_id,
        team_id=team_id,
        start_at=row.date_start - plan.spec.before,
        end_at=row.date_end + plan.spec.after,
        hold_expires_at=hold_until,
        created_at=now,
    )
    try:
        uow.repo(SlotClaims).add(claim)
    except ClaimTaken as exc:  # PostgreSQL's exclusion constraint: a concurrent booking won
        raise SlotUnavailable("the slot was just taken by another booking") from exc
    return claim


def _expire_holds_in(uow: UnitOfWork, now: datetime, calendar_ids: list[str] | None, limit: int = 500) -> int:
    actor = system_actor("scheduling", "hold-expiry")
    repo = uow.repo(SlotClaims)
    claims = repo.expired(now, calendar_ids=calendar_ids, limit=limit)
    for claim in claims:
        row = uow.appointments.get(claim.appointment_id, for_update=True)
        if row is None:
            repo.remove(claim)
        elif row.status == S.RESERVED:
            appointments.update_in(uow, actor, row.id, AppointmentPatch(status=S.CANCELLED), reason="hold expired")
            uow.add_event(HoldExpired(actor=actor, appointment_id=row.id, calendar_id=row.calendar_id))
        else:
            claim.hold_expires_at = None
    return len(claims)


def _tech_setup_team(uow: UnitOfWork, team_id: str | None, *, given: bool) -> CalendarRow | None:
    if team_id:
        team = uow.calendars.get(team_id)
        if team is None or team.kind != CalendarKind.TEAM:
            if given:
                raise ValidationFailed([FieldError("tech_setup_team_id", f"{team_id!r} is not a team calendar")])
            return None
        return team
    candidates = uow.repo(SchedulingQueries).tech_setup_teams()
    return candidates[0] if len(candidates) == 1 else None


def _requested_day(initial: AppointmentRow, zone: ZoneInfo, options: SchedulingOptions) -> date:
    """The tech-setup call's day by the two-days-before rule (``tech_setup_offset_days``), in ``zone``."""
    return initial.date_start.astimezone(zone).date() - timedelta(days=options.tech_setup_offset_days)


def _days_back(
    requested: date, initial: AppointmentRow, zone: ZoneInfo, options: SchedulingOptions, now: datetime
) -> Iterator[tuple[int, date, tuple[datetime, datetime]]]:
    """``requested`` and the fallback days before it, nearest first, each with its window before the
    INITIAL starts; days already over are skipped (and once a whole day is over, so is every earlier one)."""
    for back in range(options.tech_setup_fallback_days + 1):
        day = requested - timedelta(days=back)
        day_start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
        day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        window = (day_start, min(day_end, initial.date_start))
        if window[1] > max(window[0], now):
            yield back, day, window
        elif day_end <= now:
            return


def _schedule_tech_setup(
    uow: UnitOfWork,
    actor: Actor,
    initial: AppointmentRow,
    options: SchedulingOptions,
    now: datetime,
    *,
    team_id: str | None = None,
    mode: str | None = None,
    propose: bool = False,
) -> TechSetupOutcome:
    """The two-days-before rule, with its fallback to the nearest earlier day that has a slot.

    ``propose``: the first free slot by the same rule, not booked (nothing is written)."""
    team = _tech_setup_team(uow, team_id or options.tech_setup_team_id, given=team_id is not None)
    if team is None:
        return TechSetupOutcome(
            "unscheduled", detail="no tech-setup team is configured (scheduling_tech_setup_team_id)"
        )
    mode = mode or options.tech_setup_mode
    zone = ZoneInfo(team.timezone)
    requested = _requested_day(initial, zone, options)
    members = uow.repo(SchedulingQueries).members_of(team.id)
    if not members:
        return TechSetupOutcome(
            "unscheduled", team_id=team.id, requested_date=requested, detail="the team has no members"
        )
    hold = mode == "proposed"
    for back, day, window in _days_back(requested, initial, zone, options, now):
        ordered = order_members(uow, team, members, options, window)
        plans = [plan_for(uow, m, Purpose.TECH_SETUP, options, now) for m in ordered]
        by_id = {m.id: m for m in ordered}
        least_loaded = options.assignment == "least_loaded"
        for slot in team_slots(uow, plans, window, now, least_loaded=least_loaded)[:MAX_RACE_RETRIES]:
            if propose:
                detail = None if back == 0 else f"no slot on {requested.isoformat()}; the nearest earlier day with one"
                return TechSetupOutcome(
                    "proposed",
                    None,
                    team.id,
                    requested,
                    day,
                    back > 0,
                    detail,
                    slot=(slot.start, slot.end),
                    calendar_id=slot.calendar_id,
                )
            fields = {
                "name": f"Tech setup: {initial.name}"[:255],
                "description": None,
                "guests": [g.model_dump(mode="json") for g in appointment_from_row(initial).guests],
                "meta": {
                    "type": AppointmentType.TECH_SETUP.value,
                    "purpose": Purpose.TECH_SETUP.value,
                    "follows": initial.id,
                    "salesforce": {
                        "opportunity_gid": initial.sf_opportunity_gid,
                        "customer_gid": initial.sf_customer_gid,
                    },
                },
            }
            try:
                with uow.savepoint():
                    row, _ = _place(
                        uow,
                        actor,
                        None,
                        [by_id[slot.calendar_id]],
                        Purpose.TECH_SETUP,
                        slot.start,
                        None,
                        fields,
                        options,
                        now,
                        hold=hold,
                        link=(initial.id, "tech_setup"),
                    )
                    claim = uow.repo(SlotClaims).of(row.id)
                    if claim is not None:
                        claim.team_id = team.id
            except SlotUnavailable:
                continue
            return TechSetupOutcome(
                "proposed" if hold else "booked",
                _stored(row),
                team.id,
                requested,
                day,
                back > 0,
                None if back == 0 else f"no slot on {requested.isoformat()}; the nearest earlier day with one",
            )
    return TechSetupOutcome(
        "unscheduled",
        None,
        team.id,
        requested,
        None,
        False,
        f"no tech-setup slot on {requested.isoformat()} or the {options.tech_setup_fallback_days} days before it",
    )


def _tech_setup_offer(
    uow: UnitOfWork,
    actor: Actor,
    initial: AppointmentRow,
    options: SchedulingOptions,
    now: datetime,
    *,
    move: bool,
    reason: str | None,
) -> TechSetupOffer | None:
    """The slot the linked TECH_SETUP call would move to (same person, the two-days-before rule).

    With ``move``: moved there; where its person has no slot before the new date, the call is booked anew
    from the tech-setup team by the booking rule and the stale one cancelled, or, with no slot at all,
    cancelled and the INITIAL's ``meta.tech_setup`` says ``unscheduled`` (never left after the INITIAL).
    An INITIAL recorded ``unscheduled`` gets its call now if the new date leaves room for one."""
    targets = [t for t in _live_targets(uow, initial.id, "tech_setup") if t.date_start > now]
    if not targets:
        return _schedule_missing(uow, actor, initial, options, now) if move else None
    tech = targets[0]
    slot = _same_person_slot(uow, tech, initial, options, now)
    if slot is None:
        if not move:
            return TechSetupOffer(tech.id, detail="no slot for the tech-setup call before the new date")
        return _replace_tech_setup(uow, actor, initial, tech, options, now)
    start, end = slot
    if (start, end) == (tech.date_start, tech.date_end):
        return TechSetupOffer(tech.id, start, end, False, "the tech-setup call already fits")
    if not move:
        return TechSetupOffer(tech.id, start, end, False, "POST its reschedule with these times to move it")
    patch: dict[str, Any] = {"date_start": start, "date_end": end}
    if tech.status != S.RESERVED:
        patch["status"] = S.RESCHEDULED.value
    appointments.update_in(
        uow,
        _wide(actor),
        tech.id,
        AppointmentPatch.model_validate(patch),
        reason=reason or "moved with its INITIAL",
    )
    return TechSetupOffer(tech.id, start, end, True, None)


def _same_person_slot(
    uow: UnitOfWork, tech: AppointmentRow, initial: AppointmentRow, options: SchedulingOptions, now: datetime
) -> tuple[datetime, datetime] | None:
    """The first free slot of ``tech``'s person by the two-days-before rule (``tech`` itself aside), if any."""
    calendar = tech.calendar
    plan = plan_for(uow, calendar, Purpose.TECH_SETUP, options, now, tech.date_end - tech.date_start)
    for _, _, window in _days_back(_requested_day(initial, plan.zone, options), initial, plan.zone, options, now):
        busy = uow.repo(SchedulingQueries).busy_intervals(
            [calendar.id], window[0] - plan.pad(), window[1] + plan.pad(), now, exclude=[tech.id]
        )[calendar.id]
        working = working_intervals(plan.rules, plan.exceptions, plan.zone, local_days(window[0], window[1], plan.zone))
        slots = free_slots(working, busy, plan.spec, window)
        if slots:
            return slots[0]
    return None


def _replace_tech_setup(
    uow: UnitOfWork,
    actor: Actor,
    initial: AppointmentRow,
    tech: AppointmentRow,
    options: SchedulingOptions,
    now: datetime,
) -> TechSetupOffer:
    """``tech``'s person has no slot before the moved INITIAL: book the call anew from the tech-setup team
    (the booking rule), and cancel the stale one either way, saying why (history reason, ``meta.tech_setup``)."""
    outcome = _schedule_tech_setup(uow, actor, initial, options, now)
    new = outcome.appointment.appointment if outcome.appointment is not None else None
    moved_to = f"its INITIAL {initial.id} moved to {format_timestamp(initial.date_start)}"
    if new is not None:
        why = f"{moved_to}; no slot with the same person before it, booked anew as {new.id}"
    else:
        why = f"{moved_to}; no tech-setup slot before it ({outcome.detail})"
    appointments.update_in(uow, _wide(actor), tech.id, AppointmentPatch(status=S.CANCELLED), reason=why[:1000])
    _note_outcome(uow, actor, initial, outcome, now, cancelled=tech.id)
    if new is None:
        return TechSetupOffer(tech.id, None, None, False, why, cancelled=tech.id)
    return TechSetupOffer(str(new.id), new.date_start, new.date_end, True, why, cancelled=tech.id)


def _schedule_missing(
    uow: UnitOfWork, actor: Actor, initial: AppointmentRow, options: SchedulingOptions, now: datetime
) -> TechSetupOffer | None:
    """An INITIAL recorded ``unscheduled`` (no call), moved: its call by the booking rule, if the new date
    leaves room for one; else the record says so for the new date."""
    recorded = _recorded(initial)
    if recorded.get("status") != "unscheduled":
        return None
    outcome = _schedule_tech_setup(uow, actor, initial, options, now)
    _note_outcome(uow, actor, initial, outcome, now, cancelled=recorded.get("cancelled_appointment_id"))
    if outcome.appointment is None:
        return None
    new = outcome.appointment.appointment
    return TechSetupOffer(str(new.id), new.date_start, new.date_end, True, "booked: the new date leaves room for it")


def _recorded(initial: AppointmentRow) -> dict[str, Any]:
    recorded = (initial.meta_extra or {}).get(TECH_SETUP_META)
    return recorded if isinstance(recorded, dict) else {}


def _note_outcome(
    uow: UnitOfWork,
    actor: Actor,
    initial: AppointmentRow,
    outcome: TechSetupOutcome,
    now: datetime,
    *,
    cancelled: str | None = None,
) -> None:
    """Record an ``unscheduled`` outcome on the INITIAL (``meta.tech_setup``, as the Salesforce mirror's policy
    records its outcomes) and raise :class:`TechSetupUnscheduled`, so staff see the missing call; a booked call
    clears an earlier such record."""
    extra = dict(initial.meta_extra or {})
    if outcome.status != "unscheduled":
        if _recorded(initial).get("status") == "unscheduled":
            extra.pop(TECH_SETUP_META)
            initial.meta_extra = extra
        return
    record: dict[str, Any] = {"status": "unscheduled", "at": format_timestamp(now), "detail": outcome.detail}
    if outcome.team_id:
        record["team_id"] = outcome.team_id
    if outcome.requested_date:
        record["requested_date"] = outcome.requested_date.isoformat()
    if cancelled:
        record["cancelled_appointment_id"] = cancelled
    initial.meta_extra = {**extra, TECH_SETUP_META: record}
    uow.add_event(
        TechSetupUnscheduled(
            actor=actor,
            appointment_id=initial.id,
            calendar_id=initial.calendar_id,
            detail=outcome.detail,
            cancelled_id=cancelled,
        )
    )


def _commit(uow: UnitOfWork) -> None:
    try:
        uow.commit()
    except IntegrityError as exc:
        raise SlotUnavailable("the slot was just taken by another booking") from exc
    except StaleDataError as exc:
        raise Conflict("the appointment was changed concurrently; fetch it again and retry") from exc


def _stored(row: AppointmentRow) -> Stored:
    stored = Stored(row, etag_of(row))
    _ = stored.appointment  # built now, while the session may still load what the written row lacks
    return stored
