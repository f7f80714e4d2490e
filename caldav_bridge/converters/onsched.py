"""OnSched appointments (``/consumer/v1/appointments/{id}``) ↔ canonical.

Statuses map one to one: IN, RS, BK, CN, RE ↔ INITIAL, RESERVED, BOOKED, CANCELLED, RESCHEDULED
(RE marks the old appointment of a reschedule).

Times: an OnSched appointment carries ``startDateTime``/``endDateTime`` (ISO 8601 with an offset); those
are read, and ``startDate``/``endDate`` only when they are missing. The brief's sample shows
``startDate``/``endDate`` as ``YYYY-MM-DD``: those are the date-range *filters* of OnSched's list endpoint,
not an appointment's times, and a date alone is an error naming the field. Exports write
``startDateTime``/``endDateTime`` (what OnSched's create/update endpoints take), in the customer's zone
(``timezoneName``), else UTC.

The type comes from ``serviceId`` through :attr:`OnschedOptions.service_types`; no defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from caldav_bridge.converters._common import (
    Reader,
    build,
    configure_hint,
    format_iso,
    freeze_table,
    pick_code,
    remembered,
    render_zone,
)
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType

__all__ = ["CONVERTER", "FORMAT", "STATUSES", "OnschedOptions", "from_canonical", "to_canonical"]

FORMAT = "onsched"
STATUSES: Mapping[str, AppointmentStatus] = MappingProxyType(
    {
        "IN": AppointmentStatus.INITIAL,
        "RS": AppointmentStatus.RESERVED,
        "BK": AppointmentStatus.BOOKED,
        "CN": AppointmentStatus.CANCELLED,
        "RE": AppointmentStatus.RESCHEDULED,
    }
)
#: OnSched ids kept under ``meta.onsched`` and written back as they were.
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_KEPT_IDS = ("serviceId", "resourceId", "locationId", "calendarId", "serviceAllocationId")
_SOURCE_FIELDS = {
    "name": "serviceName",
    "guests.*.id": "customerId",
    "guests.*.first_name": "firstname",
    "guests.*.last_name": "lastname",
    "guests.*.email": "email",
    "guests.*.timezone": "timezoneName",
}


@dataclass(frozen=True)
class OnschedOptions:
    """Attributes:
    service_types: OnSched ``serviceId`` → our type. No defaults.
    """

    service_types: Mapping[str, AppointmentType] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        table = {str(k): v for k, v in self.service_types.items()}
        object.__setattr__(self, "service_types", freeze_table(table, AppointmentType, "onsched service_types"))


_DEFAULTS = OnschedOptions()


def to_canonical(payload: object, options: OnschedOptions | None = None) -> ConvertedAppointment:
    """One OnSched appointment. Raises :class:`ConversionError` naming every bad field."""
    options = options or _DEFAULTS
    r = Reader(FORMAT, payload)
    p = r.root
    if _is_list_filter(p):
        r.error(
            "id",
            "is required. This object has no id and date-only startDate/endDate: it is the query of OnSched's "
            "appointment list (its startDate/endDate filter), not an appointment; import the appointments "
            "that list returns",
        )
    appointment_id = r.ident(p, "id", required=not _is_list_filter(p))
    status = _read_status(r, p)
    start, start_field = _read_time(r, p, "startDateTime", "startDate")
    end, end_field = _read_time(r, p, "endDateTime", "endDate")
    r.interval(start, end, end_field)
    kept: dict[str, Any] = {"id": appointment_id}
    for key in _KEPT_IDS:
        value = r.ident(p, key, required=key == "serviceId")
        kept[key] = None if value is None else str(value)
    kept["resourceName"] = r.text(p, "resourceName") or None  # OnSched sends "" for "not set"
    kept["bookedBy"] = r.text(p, "bookedBy") or None
    type_ = r.lookup(options.service_types, kept["serviceId"], "serviceId", "OnSched serviceId")
    guest: dict[str, Any] = {}
    customer_id = r.ident(p, "customerId")
    if customer_id is not None:
        guest["id"] = str(customer_id)
    for source, target in (
        ("firstname", "first_name"),
        ("lastname", "last_name"),
        ("email", "email"),
        ("timezoneName", "timezone"),
    ):
        value = r.text(p, source)
        if value:
            guest[target] = value
    name = r.text(p, "serviceName")
    r.check()

    resource_id = kept["resourceId"]
    return build(
        FORMAT,
        {
            "source_id": str(appointment_id),
            "calendar_hint": (
                CalendarHint(kind="resource", id=resource_id, name=kept["resourceName"]) if resource_id else None
            ),
            "date_start": start,
            "date_end": end,
            "guests": [guest] if guest else [],
            "meta": {"type": type_, FORMAT: {k: v for k, v in kept.items() if v is not None}},
            "name": name or "",
            "status": status,
        },
        {**_SOURCE_FIELDS, "date_start": start_field, "date_end": end_field},
    )


def _is_list_filter(p: Any) -> bool:
    """The shape of an appointment-list query (no id, whole days in startDate/endDate), not of an appointment."""
    dates = [p.get(key) for key in ("startDate", "endDate")]
    return p.get("id") is None and all(isinstance(d, str) and _DAY.fullmatch(d.strip()) for d in dates)


def from_canonical(appointment: Appointment, options: OnschedOptions | None = None) -> dict[str, Any]:
    """The appointment as an OnSched appointment."""
    options = options or _DEFAULTS
    kept = remembered(appointment, FORMAT)
    service_id = pick_code(options.service_types, appointment.meta.type, kept.get("serviceId"))
    if service_id is None:
        raise ConversionError(
            FORMAT,
            [
                FieldError(
                    "meta.type", configure_hint("OnSched serviceId", appointment.meta.type, "onsched_service_types")
                )
            ],
        )
    status = pick_code(STATUSES, appointment.status)
    zone = render_zone(appointment)
    kept_id = _kept_text(kept, "id")
    out: dict[str, Any] = {
        "id": str(appointment.id) if kept_id is None else kept_id,
        "status": status,
        "startDateTime": format_iso(appointment.date_start, zone),
        "endDateTime": format_iso(appointment.date_end, zone),
        "serviceId": service_id,
    }
    if appointment.name:
        out["serviceName"] = appointment.name
    if _kept_text(kept, "resourceId") is not None:
        out |= {key: kept[key] for key in ("resourceId", "resourceName") if _kept_text(kept, key) is not None}
    else:
        out["resourceId"] = appointment.calendar.id
        if appointment.calendar.name:
            out["resourceName"] = appointment.calendar.name
    out |= {
        key: kept[key]
        for key in ("locationId", "calendarId", "serviceAllocationId", "bookedBy")
        if _kept_text(kept, key) is not None
    }
    if appointment.guests:
        guest = appointment.guests[0]
        email = (guest.model_extra or {}).get("email")
        customer = {
            "customerId": guest.id,
            "firstname": guest.first_name,
            "lastname": guest.last_name,
            "email": email if isinstance(email, str) else None,
            "timezoneName": guest.timezone,
        }
        out |= {key: value for key, value in customer.items() if value is not None}
    return out


def _read_status(r: Reader, p: Mapping[str, Any]) -> AppointmentStatus | None:
    code = r.text(p, "status", required=True)
    if code is None:
        return None
    status = STATUSES.get(code)
    if status is None:
        r.error("status", f"unknown OnSched status {code[:40]!r}; expected one of {', '.join(STATUSES)}")
    return status


def _read_time(r: Reader, p: Mapping[str, Any], key: str, fallback: str) -> tuple[datetime | None, str]:
    """``key`` if present, else ``fallback``; and the field read, for error messages."""
    if p.get(key) is None and p.get(fallback) is not None:
        return r.time(p, fallback), fallback
    return r.time(p, key, required=True), key


def _kept_text(kept: Mapping[str, Any], key: str) -> str | int | None:
    value = kept.get(key)
    return value if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


CONVERTER: FormatConverter[OnschedOptions] = FormatConverter(FORMAT, OnschedOptions, to_canonical, from_canonical)
