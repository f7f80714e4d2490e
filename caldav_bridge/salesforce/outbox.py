"""The Salesforce outbox: the event handlers that queue every change for the push, in its transaction.

A change whose actor is the mirror (channel ``sync``) came from Salesforce: it is not queued back
(no echo). Every other change, including the consequences of a mirrored change (channel
``scheduling``: e.g. a TECH_SETUP call cancelled with its mirrored INITIAL), is queued.
"""

from __future__ import annotations

from caldav_bridge.events.model import AppointmentDeleted, AppointmentEvent, AppointmentsCreated
from caldav_bridge.services.actor import MIRROR_CHANNEL
from caldav_bridge.services.creates import insert_dicts, outbox_values
from caldav_bridge.services.mapping import appointment_from_row, canonical_json
from caldav_bridge.store.tables import OutboxRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["on_appointment_changed", "on_appointments_created"]


def on_appointments_created(uow: UnitOfWork, event: AppointmentsCreated) -> None:
    if event.actor.channel == MIRROR_CHANNEL:
        return
    rows = event.appointments
    now = rows[0].updated_at
    insert_dicts(uow, OutboxRow, [outbox_values(r.id, "upsert", canonical_json(r.as_row()), now) for r in rows])


def on_appointment_changed(uow: UnitOfWork, event: AppointmentEvent) -> None:
    if event.actor.channel == MIRROR_CHANNEL:
        return
    row = uow.appointments.including_deleted(event.appointment_id)
    if row is None:
        return
    operation = "delete" if isinstance(event, AppointmentDeleted) else "upsert"
    payload = appointment_from_row(row).model_dump(mode="json")
    uow.outbox.add(OutboxRow(**outbox_values(row.id, operation, payload, row.updated_at)))
