"""The scheduling handler on the fake unit of work: slot claims through ``uow.repo(SlotClaims)``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from caldav_bridge.errors import Conflict
from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import AppointmentEvent
from caldav_bridge.model.requests import AppointmentPatch, CancelRequest, RescheduleRequest
from caldav_bridge.scheduling import hooks
from caldav_bridge.scheduling.claims import ClaimTaken, SlotClaims
from caldav_bridge.scheduling.rules import AvailabilityRules
from caldav_bridge.scheduling.tables import AppointmentLinkRow, SlotClaimRow
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import MIRROR_CHANNEL, system_actor
from caldav_bridge.services.appointments import ExternalChange
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar

A1 = "00000000-0000-4000-8000-000000000001"
CAL1, CAL2 = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
API = system_actor("api", "dispatcher")
MIRROR = system_actor(MIRROR_CHANNEL, "salesforce")


class FakeClaims:
    def __init__(self, *, refuse_moves: bool = False) -> None:
        self.claims: dict[str, SlotClaimRow] = {}
        self.refuse_moves = refuse_moves

    def of(self, appointment_id: str) -> SlotClaimRow | None:
        return self.claims.get(appointment_id)

    def remove(self, claim: SlotClaimRow) -> None:
        del self.claims[claim.appointment_id]

    def move(self, claim: SlotClaimRow, calendar_id: str) -> None:
        if self.refuse_moves:
            raise ClaimTaken("exclusion constraint")
        claim.calendar_id = calendar_id

    def links_from(self, source_id: str, kind: str | None = None) -> list[AppointmentLinkRow]:
        return []

    def overlapping(
        self, calendar_id: str, start: datetime, end: datetime, *, exclude: str | None = None
    ) -> list[SlotClaimRow]:
        return [
            c
            for c in self.claims.values()
            if c.calendar_id == calendar_id and c.start_at < end and c.end_at > start and c.appointment_id != exclude
        ]

    def resize(self, claim: SlotClaimRow, start: datetime, end: datetime) -> None:
        claim.start_at, claim.end_at = start, end


def _uow(claims: FakeClaims) -> FakeUnitOfWork:
    bus = MessageBus()
    bus.on(AppointmentEvent, hooks.on_appointment_changed)
    uow = FakeUnitOfWork(bus)
    uow.use(SlotClaims, claims)
    calendar(uow, CAL1)
    calendar(uow, CAL2)
    appointment(uow, A1, CAL1)
    claims.claims[A1] = SlotClaimRow(
        appointment_id=A1, calendar_id=CAL1, start_at=T0, end_at=T0.replace(hour=10), created_at=T0
    )
    return uow


def test_a_cancelled_appointment_gives_its_slot_back() -> None:
    claims = FakeClaims()
    appointments.cancel(_uow(claims), API, A1, CancelRequest(reason="customer called"))
    assert claims.claims == {}


def test_a_moved_appointment_takes_its_claim_along_or_is_refused() -> None:
    claims = FakeClaims()
    appointments.apply_external_change(_uow(claims), MIRROR, A1, ExternalChange(calendar_id=CAL2))
    assert claims.claims[A1].calendar_id == CAL2
    refused = FakeClaims(refuse_moves=True)
    with pytest.raises(Conflict, match="slot is taken in that calendar"):
        appointments.apply_external_change(_uow(refused), MIRROR, A1, ExternalChange(calendar_id=CAL2))
    assert refused.claims[A1].calendar_id == CAL1


def test_a_changed_name_leaves_the_claim_alone() -> None:
    claims = FakeClaims(refuse_moves=True)
    appointments.update(_uow(claims), API, A1, AppointmentPatch(name="Renamed"))
    assert (claims.claims[A1].calendar_id, claims.claims[A1].start_at) == (CAL1, T0)


def test_a_rescheduled_appointment_takes_its_claim_along_with_its_calendars_buffers() -> None:
    claims = FakeClaims()
    uow = _uow(claims)
    uow.scheduling.rules[CAL1] = AvailabilityRules.model_validate(
        {"weekly_hours": {}, "buffer_before_minutes": 15, "buffer_after_minutes": 30}
    )
    later = T0 + timedelta(hours=3)
    appointments.reschedule(uow, API, A1, RescheduleRequest(date_start=later, date_end=later + timedelta(hours=1)))
    claim = claims.claims[A1]
    assert (claim.start_at, claim.end_at) == (later - timedelta(minutes=15), later + timedelta(minutes=90))


def test_a_reschedule_onto_another_booked_slot_is_refused() -> None:
    claims = FakeClaims()
    uow = _uow(claims)
    later = T0 + timedelta(hours=3)
    claims.claims["other"] = SlotClaimRow(
        appointment_id="other", calendar_id=CAL1, start_at=later, end_at=later + timedelta(hours=1), created_at=T0
    )
    with pytest.raises(hooks.SlotUnavailable):
        appointments.reschedule(uow, API, A1, RescheduleRequest(date_start=later, date_end=later + timedelta(hours=1)))
    assert claims.claims[A1].start_at == T0
