"""Schedule in Salesforce, we handle it: the tech-setup policy for INITIAL appointments the mirror brings.

A booked INITIAL that appears through the Salesforce mirror (a new record, or one whose status becomes
BOOKED or RESCHEDULED there) gets what a booking through the API gets, by ``sf_tech_setup_policy``:

- ``off``: nothing;
- ``propose``: the tech-setup slot is found by the same rule (two days before, the fallback days, the
  tech-setup team's availability) and recorded on the INITIAL (``meta.tech_setup``), nothing booked; an
  operator books it with ``POST /api/v1/bookings/{id}/tech-setup``, which clears the proposal;
- ``book``: the call is booked (slot checked and claimed) as a consequence of the mirror's change
  (channel ``scheduling``), so the push writes it to Salesforce as an Event of its own.

Idempotent: an INITIAL that has a live tech-setup call, or a standing proposal, gets nothing more, however
often it is mirrored. Whatever the outcome, it is recorded in ``meta.tech_setup`` (``unscheduled`` with the
reason when no slot or team was found). A cancelled or deleted INITIAL loses its proposal (its booked call is
cancelled by :mod:`caldav_bridge.scheduling.hooks`, whatever the channel).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import (
    AppointmentCancelled,
    AppointmentDeleted,
    AppointmentEvent,
    AppointmentsCreated,
)
from caldav_bridge.model.appointment import AppointmentStatus, AppointmentType
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.scheduling import booking
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import SchedulingOptions
from caldav_bridge.services.actor import MIRROR_CHANNEL, Actor, consequence_actor
from caldav_bridge.store.tables import AppointmentRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["POLICIES", "MirroredInitials", "proposals"]

POLICIES = ("off", "propose", "book")
S = AppointmentStatus
#: The statuses of an INITIAL that is booked (a tech-setup call follows it).
BOOKED = {S.BOOKED.value, S.RESCHEDULED.value}
META = booking.TECH_SETUP_META


@dataclass(frozen=True)
class MirroredInitials:
    """The policy's two handlers (registered by :func:`caldav_bridge.events.wiring.build_bus`)."""

    policy: str = "off"
    options: SchedulingOptions = field(default_factory=SchedulingOptions)

    @classmethod
    def from_settings(cls, settings: Any | None) -> MirroredInitials:
        if settings is None:
            return cls()
        return cls(settings.sf_tech_setup_policy, SchedulingOptions.from_settings(settings))

    def on_appointments_created(self, uow: UnitOfWork, event: AppointmentsCreated) -> None:
        if self.policy == "off" or event.actor.channel != MIRROR_CHANNEL:
            return
        for new in event.appointments:
            if new.type == AppointmentType.INITIAL.value and new.status in BOOKED:
                self._apply(uow, event.actor, new.id)

    def on_appointment_changed(self, uow: UnitOfWork, event: AppointmentEvent) -> None:
        if isinstance(event, AppointmentCancelled | AppointmentDeleted):
            _withdraw_proposal(uow, event.appointment_id)
            return
        if self.policy == "off" or event.actor.channel != MIRROR_CHANNEL:
            return
        if event.new_status in BOOKED and event.old_status not in BOOKED:
            self._apply(uow, event.actor, event.appointment_id)

    def _apply(self, uow: UnitOfWork, actor: Actor, appointment_id: str) -> None:
        row = uow.appointments.get(appointment_id)
        now = utcnow()
        if row is None or row.type != AppointmentType.INITIAL or row.date_start <= now:
            return
        if booking.live_tech_setups(uow, row.id) or _proposed(row):
            return  # never a second call, nor a second proposal
        outcome = booking.tech_setup_in(
            uow, consequence_actor(actor), row, self.options, propose=self.policy == "propose", now=now
        )
        row.meta_extra = {**(row.meta_extra or {}), META: _record(self.policy, outcome, now)}


def _record(policy: str, outcome: booking.TechSetupOutcome, now: datetime) -> dict[str, Any]:
    record: dict[str, Any] = {"policy": policy, "status": outcome.status, "at": format_timestamp(now)}
    if outcome.appointment is not None:
        record["appointment_id"] = str(outcome.appointment.appointment.id)
    if outcome.slot is not None:
        record["date_start"], record["date_end"] = (format_timestamp(t) for t in outcome.slot)
        record["calendar_id"] = outcome.calendar_id
    if outcome.team_id:
        record["team_id"] = outcome.team_id
    if outcome.detail:
        record["detail"] = outcome.detail
    return record


def _proposed(row: AppointmentRow) -> bool:
    recorded = (row.meta_extra or {}).get(META)
    return isinstance(recorded, dict) and recorded.get("status") == "proposed"


def _withdraw_proposal(uow: UnitOfWork, appointment_id: str) -> None:
    row = uow.appointments.including_deleted(appointment_id)
    if row is not None and row.type == AppointmentType.INITIAL and _proposed(row):
        row.meta_extra = {**row.meta_extra, META: {**row.meta_extra[META], "status": "withdrawn"}}


def proposals(uow: UnitOfWork, limit: int = 50) -> dict[str, Any]:
    """The standing proposals of live INITIALs (for ``sync status``): how many, and the first ``limit`` ids."""
    rows = uow.repo(SchedulingQueries).live_initials_mentioning("proposed")
    ids = [i for i, extra in rows if (extra.get(META) or {}).get("status") == "proposed"]
    return {"proposed": len(ids), "appointment_ids": ids[:limit]}
