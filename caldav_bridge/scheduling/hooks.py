"""Scheduling's consequences of every appointment change, from any channel: the event handlers.

:func:`on_appointment_changed` runs in the change's transaction (registered on the runtime's bus):

- slot claims follow their appointment: released when it is cancelled or deleted, moved (and
  re-checked against other claims) when its times change or it moves to another calendar, no
  longer a hold once it is booked;
- the chain stays consistent: cancelling an INITIAL appointment cancels its pending TECH_SETUP call,
  as a change of its own made by the ``scheduling`` channel (:func:`consequence_actor`), whose event
  every other handler (CalDAV item, outbox, webhooks, history) handles like any other.
"""

from __future__ import annotations

from datetime import timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import Conflict
from caldav_bridge.events.model import AppointmentCancelled, AppointmentDeleted, AppointmentEvent
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from caldav_bridge.model.requests import AppointmentPatch
from caldav_bridge.scheduling.claims import ClaimTaken, SlotClaims
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import DEFAULT_RULES
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import consequence_actor
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["SlotUnavailable", "on_appointment_changed"]

S = AppointmentStatus


class SlotUnavailable(Conflict):
    """The slot is taken, outside the bookable time, or was taken by a concurrent request."""

    title = "Slot unavailable"


def on_appointment_changed(uow: UnitOfWork, event: AppointmentEvent) -> None:
    row = uow.appointments.including_deleted(event.appointment_id)
    if row is None:
        return
    claims = uow.repo(SlotClaims)
    claim = claims.of(row.id)
    if isinstance(event, AppointmentDeleted | AppointmentCancelled):
        if claim is not None:
            claims.remove(claim)
        if row.type == AppointmentType.INITIAL and (event.status_changed or isinstance(event, AppointmentDeleted)):
            _cancel_pending_tech_setups(uow, event, row)
        return
    if claim is None:
        return
    if row.status != S.RESERVED and claim.hold_expires_at is not None:
        claim.hold_expires_at = None
    if event.moved:
        try:
            claims.move(claim, row.calendar_id)
        except ClaimTaken as exc:
            raise Conflict("the appointment's slot is taken in that calendar") from exc
    if event.times_changed:
        rules = uow.repo(SchedulingQueries).rules_of(row.calendar) or DEFAULT_RULES
        start = row.date_start - timedelta(minutes=rules.buffer_before_minutes)
        end = row.date_end + timedelta(minutes=rules.buffer_after_minutes)
        if claims.overlapping(row.calendar_id, start, end, exclude=row.id):
            raise SlotUnavailable("the new time overlaps a slot booked through scheduling")
        try:
            claims.resize(claim, start, end)
        except ClaimTaken as exc:  # PostgreSQL's exclusion constraint: a concurrent booking won
            raise SlotUnavailable("the new time was just taken by another booking") from exc


def _cancel_pending_tech_setups(uow: UnitOfWork, event: AppointmentEvent, initial: AppointmentRow) -> None:
    now = utcnow()
    actor = consequence_actor(event.actor)
    for link in uow.repo(SlotClaims).links_from(initial.id, "tech_setup"):
        target = uow.appointments.get(link.target_id, for_update=True)
        if target is None or target.status == S.CANCELLED or target.date_start <= now:
            continue
        appointments.update_in(
            uow,
            actor,
            target.id,
            AppointmentPatch(status=S.CANCELLED),
            reason=f"its INITIAL appointment {initial.id} was cancelled",
        )
