"""The canonical JSON itself, behind the same interface as every other format.

Importing canonical JSON keeps everything; the appointment's ``id`` becomes the ``source_id`` and its
``calendar`` the calendar hint, so that the import service decides, as for any format, whether to keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from caldav_bridge.converters._common import Reader
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.services.validation import field_errors

__all__ = ["CONVERTER", "FORMAT", "CanonicalOptions", "from_canonical", "to_canonical"]

FORMAT = "canonical"


@dataclass(frozen=True)
class CanonicalOptions:
    """The canonical format has nothing to configure."""


def to_canonical(payload: object, options: CanonicalOptions | None = None) -> ConvertedAppointment:
    """One canonical appointment (the brief's JSON). Raises :class:`ConversionError` naming every bad field."""
    root = Reader(FORMAT, payload).root
    try:
        appointment = Appointment.model_validate(root)
    except ValidationError as exc:
        raise ConversionError(FORMAT, field_errors(exc)) from None
    return ConvertedAppointment(
        format=FORMAT,
        source_id=str(appointment.id),
        calendar_hint=CalendarHint(kind="calendar", id=appointment.calendar.id, name=appointment.calendar.name),
        created_at=appointment.created_at,
        updated_at=appointment.updated_at,
        date_start=appointment.date_start,
        date_end=appointment.date_end,
        description=appointment.description,
        guests=appointment.guests,
        meta=appointment.meta,
        name=appointment.name,
        status=appointment.status,
    )


def from_canonical(appointment: Appointment, options: CanonicalOptions | None = None) -> dict[str, Any]:
    """The brief's JSON: UTC timestamps with milliseconds and ``Z``."""
    return appointment.model_dump(mode="json")


CONVERTER: FormatConverter[CanonicalOptions] = FormatConverter(FORMAT, CanonicalOptions, to_canonical, from_canonical)
