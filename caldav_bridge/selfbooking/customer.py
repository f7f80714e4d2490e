"""What a customer does through a booking link and a manage link: see free slots, hold one, book it,
see the booking, move it, cancel it.

Every change goes through the booking flows (:mod:`caldav_bridge.scheduling.booking`): the same slot
checks, round-robin assignment, tech-setup chain and Salesforce outbox as the staff API. The customer's
contact details stay on the customer booking (``customer_bookings``); the appointment gets the names only.
Secrets (link, hold, manage) are looked up by their SHA-256; an unknown one is :class:`NotFound`, so
nothing can be enumerated.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import Conflict, NotFound
from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.model.requests import AppointmentPatch
from caldav_bridge.scheduling import availability as slots_service
from caldav_bridge.scheduling import booking
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.requests import CancelBookingRequest, InitialBookingRequest, RescheduleBookingRequest
from caldav_bridge.scheduling.rules import Purpose, SchedulingOptions
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.keys import manage_secret
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import BookingLinkRow, CustomerBookingRow
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import AppointmentRow, CalendarRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "CUSTOMER",
    "AlreadyBooked",
    "CustomerDetails",
    "Held",
    "ManageView",
    "Offer",
    "OfferWindow",
    "cancel",
    "confirm",
    "hold",
    "manage_view",
    "offer",
    "reschedule",
    "reschedule_offer",
]

S = AppointmentStatus
UowFactory = Callable[[], UnitOfWork]
#: The actor of every change a customer makes (the audit's and history's "who").
CUSTOMER = Actor(user_id=None, username="customer", role="service", scopes=frozenset({"write"}), channel="booking")


class AlreadyBooked(Conflict):
    """A personal link's customer already has a live booking (manage that one instead)."""

    title = "Already booked"


@dataclass(frozen=True)
class CustomerDetails:
    first_name: str
    last_name: str
    email: str
    phone: str | None
    consent_reminders: bool
    timezone: str
    locale: str


@dataclass(frozen=True)
class Offer:
    """Free slots from today for ``weeks`` weeks, by week (its Monday) and local day, in the customer's zone."""

    link_id: str
    team_name: str
    weeks: list[tuple[date, list[tuple[date, list[datetime]]]]]  # Monday -> [(local day, slot starts in UTC)]
    duration: timedelta
    open_week: date  # the week shown open (the one asked for, else the first with a slot)

    @property
    def count(self) -> int:
        return sum(len(starts) for _, days in self.weeks for _, starts in days)


@dataclass(frozen=True)
class OfferWindow:
    """Which free slots an offer shows: ``weeks`` weeks from today in the customer's ``zone``, the week of
    ``week_start`` shown open (else the first with a slot)."""

    zone: ZoneInfo
    options: SchedulingOptions
    weeks: int = 4
    week_start: date | None = None


@dataclass(frozen=True)
class _Target:
    """Whose slots an offer shows, for what, and through which link."""

    link_id: str
    name: str
    where: dict[str, str]  # team_id or calendar_id
    purpose: Purpose


@dataclass(frozen=True)
class Held:
    secret: str
    start: datetime
    end: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ManageView:
    booking_id: str
    first_name: str
    start: datetime
    end: datetime
    consultant: str
    timezone: str
    locale: str
    location: str | None
    manage_secret: str


def _read_actor() -> Actor:
    return Actor(user_id=None, username="customer", role="service", scopes=frozenset({"read"}), channel="booking")


def offer(make_uow: UowFactory, secret: str, window: OfferWindow, *, now: datetime | None = None) -> Offer:
    """The link's team's free slots."""
    now = now or utcnow()
    with make_uow() as uow:
        link = links.resolve(uow, secret, now)
        team = uow.calendars.get(link.team_id)
        target = _Target(link.id, team.name if team else "", {"team_id": link.team_id}, Purpose(link.purpose))
    return _offer(make_uow, target, window, now)


def reschedule_offer(make_uow: UowFactory, manage: str, window: OfferWindow, *, now: datetime | None = None) -> Offer:
    """The free slots a booking may move to: on its consultant's calendar (a move keeps the person)."""
    now = now or utcnow()
    with make_uow() as uow:
        row, appointment = _live(uow, manage, now)
        target = _Target(row.link_id, "", {"calendar_id": appointment.calendar_id}, Purpose.INITIAL)
    return _offer(make_uow, target, window, now)


def _offer(make_uow: UowFactory, target: _Target, window: OfferWindow, now: datetime) -> Offer:
    zone, week_start = window.zone, window.week_start
    today = now.astimezone(zone).date()
    last_day = today + timedelta(weeks=window.weeks)
    start = datetime.combine(today, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last_day, time(0), tzinfo=zone).astimezone(UTC)
    query = slots_service.AvailabilityQuery(target.purpose, start, end, **target.where)
    result = slots_service.availability(make_uow(), _read_actor(), query, window.options, now=now)
    by_week: dict[date, dict[date, list[datetime]]] = {}
    for slot in result.slots:
        day = slot.start.astimezone(zone).date()
        by_week.setdefault(day - timedelta(days=day.weekday()), {}).setdefault(day, []).append(slot.start)
    grouped = [(monday, sorted(days.items())) for monday, days in sorted(by_week.items())]
    asked = week_start - timedelta(days=week_start.weekday()) if week_start else None
    open_week = asked if asked in by_week else (grouped[0][0] if grouped else today - timedelta(days=today.weekday()))
    return Offer(target.link_id, target.name, grouped, result.duration, open_week)


def hold(
    make_uow: UowFactory,
    secret: str,
    start: datetime,
    zone: str,
    locale: str,
    options: SchedulingOptions,
    *,
    previous: str | None = None,
    now: datetime | None = None,
) -> Held:
    """Hold ``start`` for the hold time (a RESERVED INITIAL with round-robin assignment); SlotUnavailable if taken.

    ``previous``: the visitor's (session's) last hold secret on this link. A visitor holds one slot at a time:
    the same start again (a double click, back and resubmit) is that hold again; another start releases it first.
    """
    now = now or utcnow()
    with make_uow() as uow:
        link = links.resolve(uow, secret, now)
        _check_personal(uow, link)
        kept = _live_hold(uow, link.id, previous, now) if previous else None
        if kept is not None and kept.start == start and previous is not None:
            return Held(previous, kept.start, kept.end, kept.expires_at)
        release = kept.appointment_id if kept is not None else None
        target = _Target(link.id, "", {"team_id": link.team_id}, Purpose(link.purpose))
        request = InitialBookingRequest.model_validate(
            {
                "team_id": link.team_id,
                "date_start": start,
                "name": "Initial consultation (held)",
                "hold": True,
                "meta": {
                    "salesforce": {"opportunity_gid": link.sf_opportunity_gid, "customer_gid": link.sf_customer_gid},
                    "self_booking": True,
                },
            }
        )
        link_id = link.id
    _require_offered(make_uow, target, start, options, now)
    if release is not None:
        booking.cancel(
            make_uow(), CUSTOMER, release, CancelBookingRequest(reason="hold released: the visitor chose another time")
        )
    booked = booking.book(make_uow(), CUSTOMER, Purpose.INITIAL, request, options, now=now)
    appointment = booked.appointment.appointment
    held_secret = secrets.token_urlsafe(24)
    with make_uow() as uow:
        uow.repo(SelfBookingRows).add_booking(
            CustomerBookingRow(
                link_id=link_id,
                appointment_id=str(appointment.id),
                state="held",
                hold_hash=token_digest(held_secret),
                consent_reminders=False,
                timezone=zone,
                locale=locale,
                ical_uid=f"{appointment.id}@appointment-service",
                sequence=0,
                created_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    expires = booked.hold_expires_at or now + options.hold
    return Held(held_secret, appointment.date_start, appointment.date_end, expires)


@dataclass(frozen=True)
class _LiveHold:
    appointment_id: str
    start: datetime
    end: datetime
    expires_at: datetime


def _live_hold(uow: UnitOfWork, link_id: str, held_secret: str, now: datetime) -> _LiveHold | None:
    """The hold behind ``held_secret`` on this link while it still holds its slot (not confirmed, not expired)."""
    row = uow.repo(SelfBookingRows).booking_by_hold(token_digest(held_secret))
    if row is None or row.link_id != link_id or row.state != "held":
        return None
    appointment = uow.appointments.get(row.appointment_id)
    expires = booking.hold_expiry(uow, row.appointment_id)
    if appointment is None or appointment.status != S.RESERVED or expires is None or expires <= now:
        return None
    return _LiveHold(appointment.id, appointment.date_start, appointment.date_end, expires)


def confirm(
    make_uow: UowFactory,
    secret: str,
    held_secret: str,
    details: CustomerDetails,
    options: SchedulingOptions,
    key: bytes,
    *,
    now: datetime | None = None,
) -> ManageView:
    """Book the held slot for the customer: names on the appointment, contact details on the booking,
    the INITIAL confirmed (its tech-setup call scheduled), the confirmation queued."""
    now = now or utcnow()
    with make_uow() as uow:
        link = links.resolve(uow, secret, now)
        row = uow.repo(SelfBookingRows).booking_by_hold(token_digest(held_secret))
        if row is None or row.link_id != link.id or row.state not in ("held", "confirming", "booked"):
            raise NotFound("hold", "…")
        booking_id, appointment_id, again = row.id, row.appointment_id, row.state == "booked"
        if not again:
            _check_personal(uow, link, exclude=row.id)
            _take_details(row, link, details, key, now)
            uow.commit()
    if again:  # the same form sent again (a reload, a double click): the booking it made
        return _view_of(make_uow, booking_id, key, now)
    guest = {"first_name": details.first_name, "last_name": details.last_name, "timezone": details.timezone}
    patch = AppointmentPatch.model_validate(
        {"name": f"Initial consultation: {details.first_name} {details.last_name}"[:255], "guests": [guest]}
    )
    booking.confirm(make_uow(), CUSTOMER, appointment_id, options, now=now, details=patch)
    return _view_of(make_uow, booking_id, key, now)


def manage_view(make_uow: UowFactory, manage: str, key: bytes, *, now: datetime | None = None) -> ManageView:
    """The booking behind a manage secret, while it is live (not cancelled, not over)."""
    now = now or utcnow()
    with make_uow() as uow:
        row, _ = _live(uow, manage, now)
        booking_id = row.id
    return _view_of(make_uow, booking_id, key, now)


def reschedule(
    make_uow: UowFactory,
    manage: str,
    start: datetime,
    options: SchedulingOptions,
    key: bytes,
    *,
    now: datetime | None = None,
) -> ManageView:
    """Move the booking to a free slot (checked like a booking); its tech-setup call moves along."""
    now = now or utcnow()
    with make_uow() as uow:
        row, appointment = _live(uow, manage, now)
        booking_id, appointment_id = row.id, row.appointment_id
        target = _Target(row.link_id, "", {"calendar_id": appointment.calendar_id}, Purpose.INITIAL)
    _require_offered(make_uow, target, start, options, now)
    request = RescheduleBookingRequest.model_validate(
        {"date_start": start, "reason": "rescheduled by the customer", "move_tech_setup": True}
    )
    booking.reschedule(make_uow(), CUSTOMER, appointment_id, request, options, now=now)
    return _view_of(make_uow, booking_id, key, now)


def cancel(make_uow: UowFactory, manage: str, reason: str | None, *, now: datetime | None = None) -> None:
    """Cancel the booking (its pending tech-setup call with it); the manage link stops working."""
    now = now or utcnow()
    with make_uow() as uow:
        row, _ = _live(uow, manage, now)
        appointment_id = row.appointment_id
    text = f"cancelled by the customer: {reason}" if reason else "cancelled by the customer"
    booking.cancel(make_uow(), CUSTOMER, appointment_id, CancelBookingRequest(reason=text[:1000]))


# --------------------------------------------------------------------------- helpers


def _require_offered(
    make_uow: UowFactory, target: _Target, start: datetime, options: SchedulingOptions, now: datetime
) -> None:
    """:class:`SlotUnavailable` for a start the page would not offer (off the slot grid, outside the hours, past,
    beyond the horizon, taken): the booking check alone let a crafted 14:30 on an hourly grid block two offered
    slots. The offer of the two days around it is the page's own computation."""
    window = slots_service.AvailabilityQuery(
        target.purpose, start - timedelta(days=1), start + timedelta(days=1), **target.where
    )
    offered = slots_service.availability(make_uow(), _read_actor(), window, options, now=now)
    if start not in {slot.start for slot in offered.slots}:
        raise SlotUnavailable("that time is not one the booking page offers")


def _take_details(
    row: CustomerBookingRow, link: BookingLinkRow, details: CustomerDetails, key: bytes, now: datetime
) -> None:
    row.first_name, row.last_name = details.first_name, details.last_name
    row.email, row.phone = details.email, details.phone
    row.consent_reminders, row.timezone, row.locale = details.consent_reminders, details.timezone, details.locale
    row.state, row.updated_at = "confirming", now
    row.manage_hash = token_digest(manage_secret(key, row.id))
    row.active_link_id = link.id if link.kind == "personal" else None


def _check_personal(uow: UnitOfWork, link: BookingLinkRow, *, exclude: str | None = None) -> None:
    if link.kind != "personal":
        return
    if uow.repo(SelfBookingRows).active_booking_through(link.id, exclude=exclude) is not None:
        raise AlreadyBooked("this link already has a booking; use the link in its confirmation to change it")


def _live(uow: UnitOfWork, manage: str, now: datetime) -> tuple[CustomerBookingRow, AppointmentRow]:
    row = uow.repo(SelfBookingRows).booking_by_manage(token_digest(manage))
    appointment = uow.appointments.including_deleted(row.appointment_id) if row is not None else None
    if (
        row is None
        or appointment is None
        or row.state != "booked"
        or appointment.deleted_at is not None
        or appointment.status == S.CANCELLED
        or appointment.date_end <= now
    ):
        raise NotFound("booking", "…")
    return row, appointment


def _consultant_first_name(uow: UnitOfWork, calendar: CalendarRow) -> str:
    owner = uow.users.get(calendar.owner_user_id) if calendar.owner_user_id else None
    name = (owner.display_name if owner is not None else "") or calendar.name
    return name.split()[0] if name.split() else ""


def _view_of(make_uow: UowFactory, booking_id: str, key: bytes, now: datetime) -> ManageView:
    with make_uow() as uow:
        row = uow.repo(SelfBookingRows).booking(booking_id)
        appointment = uow.appointments.including_deleted(row.appointment_id) if row is not None else None
        if row is None or appointment is None:
            raise NotFound("booking", "…")
        location = (appointment.meta_extra or {}).get("location")
        return ManageView(
            booking_id=row.id,
            first_name=row.first_name or "",
            start=appointment.date_start,
            end=appointment.date_end,
            consultant=_consultant_first_name(uow, appointment.calendar),
            timezone=row.timezone,
            locale=row.locale,
            location=location if isinstance(location, str) else None,
            manage_secret=manage_secret(key, row.id),
        )
