"""Which message a self-booked customer is sent after a change, on the fake unit of work: the self-booking
handler through ``uow.repo(SelfBookingRows)`` in memory, whichever channel changed the appointment."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.model import AppointmentEvent
from caldav_bridge.model.requests import CancelRequest, RescheduleRequest
from caldav_bridge.selfbooking import handlers
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.services import appointments
from caldav_bridge.services.actor import CALDAV_CHANNEL, system_actor
from tests.unit.fake_uow import T0, FakeUnitOfWork, appointment, calendar

A1, CAL1 = "00000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000001"
STAFF, PHONE = system_actor("api", "dispatcher"), system_actor(CALDAV_CHANNEL, "fitter")


class FakeSelfBookingRows:
    def __init__(self) -> None:
        self.bookings: dict[str, CustomerBookingRow] = {}
        self.messages: list[CustomerMessageRow] = []

    def booking_of(self, appointment_id: str) -> CustomerBookingRow | None:
        return next((b for b in self.bookings.values() if b.appointment_id == appointment_id), None)

    def last_told(self, booking_id: str, kinds: Sequence[str]) -> CustomerMessageRow | None:
        told = [m for m in self.messages if m.booking_id == booking_id and m.kind in kinds]
        return told[-1] if told else None

    def add_message(self, row: CustomerMessageRow) -> None:
        self.messages.append(row)


def _uow(state: str = "booked") -> tuple[FakeUnitOfWork, FakeSelfBookingRows]:
    bus = MessageBus()
    bus.on(AppointmentEvent, handlers.on_appointment_changed)
    uow = FakeUnitOfWork(bus)
    rows = FakeSelfBookingRows()
    uow.use(SelfBookingRows, rows)
    calendar(uow, CAL1)
    appointment(uow, A1, CAL1)
    rows.bookings["b1"] = CustomerBookingRow(
        id="b1", appointment_id=A1, state=state, sequence=0, active_link_id="link-1", created_at=T0, updated_at=T0
    )
    return uow, rows


def test_a_move_from_any_channel_tells_the_customer_once_with_a_new_sequence() -> None:
    uow, rows = _uow()
    later = T0 + timedelta(days=1)
    move = RescheduleRequest(date_start=later, date_end=later + timedelta(hours=1))
    appointments.reschedule(uow, PHONE, A1, move)
    appointments.reschedule(uow, STAFF, A1, move)  # the same times again: nothing new to tell
    assert [(m.kind, m.payload["sequence"]) for m in rows.messages] == [("rescheduled", 1)]
    assert rows.messages[0].dedupe_key == "b1:rescheduled:1"


def test_a_cancellation_tells_a_booked_customer_and_frees_the_personal_link() -> None:
    uow, rows = _uow()
    appointments.cancel(uow, STAFF, A1, CancelRequest(reason="fitter ill"))
    booking = rows.bookings["b1"]
    assert [m.kind for m in rows.messages] == ["cancelled"]
    assert (booking.state, booking.sequence, booking.active_link_id) == ("cancelled", 1, None)


def test_a_hold_that_ends_sends_nothing() -> None:
    uow, rows = _uow(state="held")
    appointments.cancel(uow, STAFF, A1, CancelRequest(reason="hold expired"))
    assert rows.messages == []
    assert rows.bookings["b1"].state == "expired"
