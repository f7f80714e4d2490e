"""Status history and audit: the event handlers that record every change, in its transaction."""

from __future__ import annotations

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import AppointmentEvent, AppointmentsCreated
from caldav_bridge.services.creates import audit_values, history_values, insert_dicts
from caldav_bridge.store.tables import AuditRow, StatusHistoryRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["on_appointment_changed", "on_appointments_created"]


def on_appointments_created(uow: UnitOfWork, event: AppointmentsCreated) -> None:
    """One history row (``None`` → the status) and one audit row per new appointment."""
    rows = event.appointments
    now = rows[0].updated_at
    details = event.details or (None,) * len(rows)
    insert_dicts(uow, StatusHistoryRow, [history_values(r, event.actor, now) for r in rows])
    insert_dicts(
        uow,
        AuditRow,
        [
            audit_values(event.actor, event.action, r.id, r.calendar_id, now, d)
            for r, d in zip(rows, details, strict=True)
        ],
    )


def on_appointment_changed(uow: UnitOfWork, event: AppointmentEvent) -> None:
    """A history row when the status or the start changed (or it was rescheduled); always an audit row."""
    now = utcnow()
    if event.status_changed or event.old_start != event.new_start or event.action == "reschedule":
        uow.appointments.add_history(
            StatusHistoryRow(
                appointment_id=event.appointment_id,
                old_status=event.old_status,
                new_status=event.new_status,
                old_start=event.old_start,
                new_start=event.new_start,
                at=now,
                actor=event.actor.username,
                channel=event.actor.channel,
                reason=event.reason,
            )
        )
    uow.audit.add_all(
        [AuditRow(**audit_values(event.actor, event.action, event.appointment_id, event.calendar_id, now))]
    )
