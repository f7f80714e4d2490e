"""Status history and audit: the event handlers that record every change, in its transaction."""

from __future__ import annotations

from datetime import datetime

from caldav_bridge.clock import utcnow
from caldav_bridge.events.model import AppointmentEvent, AppointmentsCreated, OccurrenceChanged
from caldav_bridge.model.appointment import AppointmentStatus
from caldav_bridge.model.series import Override
from caldav_bridge.model.timestamps import format_timestamp
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
    """A history row when the status or the start changed (or it was rescheduled); always an audit row. A change
    of one occurrence of a series: a history row of that occurrence (:func:`_occurrence_history`)."""
    now = utcnow()
    if isinstance(event, OccurrenceChanged):
        _occurrence_history(uow, event, now)
        return
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


def _occurrence_history(uow: UnitOfWork, event: OccurrenceChanged, now: datetime) -> None:
    """The occurrence's old → new status (the series', or CANCELLED) and start, which occurrence
    (``recurrence_id``) and what the change gave it (``changed``); its audit row names them too."""
    if event.before is None or event.after is None:
        return
    changed = " ".join(event.changed)
    uow.appointments.add_history(
        StatusHistoryRow(
            appointment_id=event.appointment_id,
            old_status=_status(event.before, event.old_status),
            new_status=_status(event.after, event.new_status),
            old_start=event.before.start,
            new_start=event.after.start,
            at=now,
            actor=event.actor.username,
            channel=event.actor.channel,
            reason=event.reason,
            recurrence_id=event.after.recurrence_id,
            changed=changed or None,
        )
    )
    detail = f"occurrence {format_timestamp(event.after.recurrence_id)}: {changed or 'nothing changed'}"
    uow.audit.add_all(
        [AuditRow(**audit_values(event.actor, event.action, event.appointment_id, event.calendar_id, now, detail))]
    )


def _status(occurrence: Override, series_status: str) -> str:
    return AppointmentStatus.CANCELLED.value if occurrence.cancelled else series_status
