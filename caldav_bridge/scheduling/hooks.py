"""What the appointment service calls for every change, from any channel (REST, OLS, CalDAV, sync).

:func:`appointment_changing` runs inside the change's transaction, before it is flushed:

- slot claims follow their appointment: released when it is cancelled or deleted, moved (and
  re-checked against other claims) when its times change, no longer a hold once it is booked;
- the chain stays consistent: cancelling an INITIAL appointment cancels its pending TECH_SETUP call;
- webhook subscribers get their event queued (``caldav_bridge.webhooks.events``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from caldav_bridge.clock import utcnow
from caldav_bridge.errors import Conflict
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from caldav_bridge.scheduling import queries
from caldav_bridge.scheduling.rules import DEFAULT_RULES
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["SlotUnavailable", "appointment_changing", "appointment_created", "event_type"]

S = AppointmentStatus


class SlotUnavailable(Conflict):
    """The slot is taken, outside the bookable time, or was taken by a concurrent request."""

    title = "Slot unavailable"


def event_type(row: AppointmentRow, action: str, times_changed: bool) -> str:
    if action == "create":
        return "appointment.created"
    if action == "delete" or row.status == S.CANCELLED:
        return "appointment.cancelled"
    if action == "reschedule" or times_changed:
        return "appointment.rescheduled"
    return "appointment.updated"


def appointment_created(uow: UnitOfWork, actor: Actor, row: AppointmentRow) -> None:
    """A new appointment (``services.creates``, which may pass a plain row): only its webhook events;
    slot claims and booking chains are made by the booking flow itself."""
    from caldav_bridge.webhooks.events import queue as queue_webhooks

    queue_webhooks(uow, row, event_type(row, "create", False))


def appointment_changing(uow: UnitOfWork, actor: Actor, row: AppointmentRow, action: str) -> None:
    if action == "create":
        appointment_created(uow, actor, row)
        return
    state = inspect(row)
    times_changed = action != "create" and (
        state.attrs.date_start.history.has_changes() or state.attrs.date_end.history.has_changes()
    )
    status_changed = action == "create" or state.attrs.status.history.has_changes()
    _claims_and_chain(uow, actor, row, action, times_changed, status_changed)
    from caldav_bridge.webhooks.events import queue as queue_webhooks

    queue_webhooks(uow, row, event_type(row, action, times_changed))


def _claims_and_chain(
    uow: UnitOfWork, actor: Actor, row: AppointmentRow, action: str, times_changed: bool, status_changed: bool
) -> None:
    session = uow.session
    if action == "create":
        return
    claim = queries.claim_of(session, row.id)
    if action == "delete" or row.status == S.CANCELLED:
        if claim is not None:
            session.delete(claim)
        if row.type == AppointmentType.INITIAL and (status_changed or action == "delete"):
            _cancel_pending_tech_setups(uow, actor, row)
        return
    if claim is None:
        return
    if row.status != S.RESERVED and claim.hold_expires_at is not None:
        claim.hold_expires_at = None
    if times_changed:
        rules = queries.rules_of(session, row.calendar) or DEFAULT_RULES
        start = row.date_start - timedelta(minutes=rules.buffer_before_minutes)
        end = row.date_end + timedelta(minutes=rules.buffer_after_minutes)
        if queries.claims_overlapping(session, row.calendar_id, start, end, exclude=row.id):
            raise SlotUnavailable("the new time overlaps a slot booked through scheduling")
        claim.start_at, claim.end_at = start, end
        try:
            session.flush()
        except IntegrityError as exc:  # PostgreSQL's exclusion constraint: a concurrent booking won
            raise SlotUnavailable("the new time was just taken by another booking") from exc


def _cancel_pending_tech_setups(uow: UnitOfWork, actor: Actor, initial: AppointmentRow) -> None:
    from caldav_bridge.model.requests import AppointmentPatch
    from caldav_bridge.services import appointments

    now = utcnow()
    wide = replace(actor, calendar_ids=None)
    for link in queries.links_from(uow.session, initial.id, "tech_setup"):
        target = uow.appointments.get(link.target_id, for_update=True)
        if target is None or target.status == S.CANCELLED or target.date_start <= now:
            continue
        appointments.update_in(
            uow,
            wide,
            target.id,
            AppointmentPatch(status=S.CANCELLED),
            reason=f"its INITIAL appointment {initial.id} was cancelled",
        )
