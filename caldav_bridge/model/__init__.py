"""The canonical appointment model: the brief's JSON, the one vocabulary inside the core."""

from caldav_bridge.model.appointment import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CalendarRef,
    Guest,
    Meta,
    SalesforceIds,
)
from caldav_bridge.model.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "AppointmentType",
    "CalendarRef",
    "Guest",
    "Meta",
    "SalesforceIds",
    "format_timestamp",
    "parse_timestamp",
]
