"""Blueprint OMS (hearing-care practice software) appointments ↔ canonical.

Blueprint publishes no list of its integer ``status`` codes or its ``eventTypeId`` values, so both are
tables in :class:`BlueprintOptions`; the defaults are placeholders (see ``docs/converters.md``) to be
replaced by the installation's own lists. Times are ``"YYYY-MM-DD HH:MM:SS GMT"``.

``onlineBookingSecret`` is a secret: it is never read, kept, logged or written. ``birthdate`` is patient
data: it is read and written (as the guest's ``birthdate``) only when ``include_patient_details`` is on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from caldav_bridge.converters._common import Reader, build, freeze_table, pick_code, remembered
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType, Guest

__all__ = [
    "CONVERTER",
    "DEFAULT_EVENT_TYPES",
    "DEFAULT_STATUSES",
    "FORMAT",
    "BlueprintOptions",
    "format_time",
    "from_canonical",
    "join_patient_name",
    "parse_time",
    "split_patient_name",
    "to_canonical",
]

FORMAT = "blueprint"

#: Placeholder event types: ids 1, 2, 3 in the order the brief lists our types.
DEFAULT_EVENT_TYPES: Mapping[int, AppointmentType] = MappingProxyType(
    {1: AppointmentType.INITIAL, 2: AppointmentType.FOLLOW_UP, 3: AppointmentType.TECH_SETUP}
)
#: Placeholder statuses: 1-5 in the order the brief lists our statuses, and 7 (the brief's only sample,
#: a busy appointment) as BOOKED. 6 and anything else is unmapped: an error, never a guess.
DEFAULT_STATUSES: Mapping[int, AppointmentStatus] = MappingProxyType(
    {
        1: AppointmentStatus.INITIAL,
        2: AppointmentStatus.RESERVED,
        3: AppointmentStatus.BOOKED,
        4: AppointmentStatus.CANCELLED,
        5: AppointmentStatus.RESCHEDULED,
        7: AppointmentStatus.BOOKED,
    }
)

_NOT_BUSY = (AppointmentStatus.CANCELLED, AppointmentStatus.RESCHEDULED)
_TIME = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: (\S+))?")
_SOURCE_FIELDS = {
    "name": "summary",
    "description": "notes",
    "date_start": "start_time",
    "date_end": "end_time",
    "guests.*.id": "patient_id",
    "guests.*.first_name": "patient_name",
    "guests.*.last_name": "patient_name",
    "guests.*.birthdate": "birthdate",
}


@dataclass(frozen=True)
class BlueprintOptions:
    """Blueprint's code tables and the privacy switch.

    Attributes:
        event_types: ``eventTypeId`` → our type. Export writes the first id mapped to the type, unless the
            appointment came from Blueprint with an id that still maps to its type.
        statuses: integer ``status`` → our status, exported the same way.
        include_patient_details: read and write ``birthdate``. Off by default: patient data stays in Blueprint.
    """

    event_types: Mapping[int, AppointmentType] = field(default_factory=lambda: DEFAULT_EVENT_TYPES)
    statuses: Mapping[int, AppointmentStatus] = field(default_factory=lambda: DEFAULT_STATUSES)
    include_patient_details: bool = False

    def __post_init__(self) -> None:
        # Configuration files (TOML, JSON) can only spell table keys as strings: "7" is 7.
        event_types = {int(k): v for k, v in self.event_types.items()}
        statuses = {int(k): v for k, v in self.statuses.items()}
        object.__setattr__(self, "event_types", freeze_table(event_types, AppointmentType, "blueprint event_types"))
        object.__setattr__(self, "statuses", freeze_table(statuses, AppointmentStatus, "blueprint statuses"))


_DEFAULTS = BlueprintOptions()


def parse_time(text: str) -> datetime:
    """``"2015-09-02 19:00:00 GMT"`` as an aware UTC datetime; ``ValueError`` for anything else."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise ValueError("is not 'YYYY-MM-DD HH:MM:SS GMT'")
    if match.group(2) is None:
        raise ValueError("has no time zone; expected 'YYYY-MM-DD HH:MM:SS GMT'")
    if match.group(2) not in ("GMT", "UTC"):
        raise ValueError(f"is in zone {match.group(2)!r}, not GMT; expected 'YYYY-MM-DD HH:MM:SS GMT'")
    try:
        return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError("is not a valid date and time") from None


def format_time(value: datetime) -> str:
    """Blueprint's spelling, whole seconds (milliseconds are dropped)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S GMT")


def split_patient_name(text: str) -> tuple[str | None, str | None]:
    """``"Skywalker, Luke"`` → ``("Skywalker", "Luke")``; text without a comma is a last name."""
    last, _, first = text.partition(",")
    return last.strip() or None, first.strip() or None


def join_patient_name(last: str | None, first: str | None) -> str | None:
    """The inverse of :func:`split_patient_name` (``", Luke"`` when only the first name is known)."""
    if first:
        return f"{last or ''}, {first}"
    return last or None


def to_canonical(payload: object, options: BlueprintOptions | None = None) -> ConvertedAppointment:
    """One Blueprint appointment. Raises :class:`ConversionError` naming every bad field."""
    options = options or _DEFAULTS
    r = Reader(FORMAT, payload)
    p = r.root
    appointment_id = r.ident(p, "appointment_id", required=True)
    start = _read_time(r, p, "start_time")
    end = _read_time(r, p, "end_time")
    r.interval(start, end, "end_time")
    status_code = r.integer_code(p, "status", required=True)
    status = r.lookup(options.statuses, status_code, "status", "Blueprint status")
    type_code = r.integer_code(p, "eventTypeId", required=True)
    type_ = r.lookup(options.event_types, type_code, "eventTypeId", "Blueprint eventTypeId")
    patient_id = r.ident(p, "patient_id")
    patient_name = r.text(p, "patient_name")
    summary = r.text(p, "summary")
    notes = r.text(p, "notes")
    kept: dict[str, Any] = {
        "appointment_id": appointment_id,
        "eventTypeId": type_code,
        "status": status_code,
        "provider_id": r.ident(p, "provider_id"),
        "provider": r.text(p, "provider"),
        "location_id": r.ident(p, "location_id"),
        "location": r.text(p, "location"),
        "busy": r.get(p, "busy", "boolean"),
        "contactVerified": r.get(p, "contactVerified", "boolean"),
    }
    birthdate = _read_birthdate(r, p) if options.include_patient_details else None
    r.check()

    guest: dict[str, Any] = {}
    if patient_id is not None:
        guest["id"] = str(patient_id)
    if patient_name is not None:
        guest["last_name"], guest["first_name"] = split_patient_name(patient_name)
    if birthdate is not None:
        guest["birthdate"] = birthdate
    provider_id = kept["provider_id"]
    return build(
        FORMAT,
        {
            "source_id": str(appointment_id),
            "calendar_hint": (
                CalendarHint(kind="provider", id=str(provider_id), name=kept["provider"])
                if provider_id is not None
                else None
            ),
            "date_start": start,
            "date_end": end,
            "description": notes,
            "guests": [guest] if guest else [],
            "meta": {"type": type_, FORMAT: {k: v for k, v in kept.items() if v is not None}},
            "name": summary if summary is not None else patient_name or "",
            "status": status,
        },
        _SOURCE_FIELDS,
    )


def from_canonical(appointment: Appointment, options: BlueprintOptions | None = None) -> dict[str, Any]:
    """The appointment as a Blueprint appointment. Never writes ``onlineBookingSecret``."""
    options = options or _DEFAULTS
    kept = remembered(appointment, FORMAT)
    status_code = pick_code(options.statuses, appointment.status, kept.get("status"))
    type_code = pick_code(options.event_types, appointment.meta.type, kept.get("eventTypeId"))
    errors = []
    if status_code is None:
        errors.append(FieldError("status", f"no Blueprint status code is configured for {appointment.status}"))
    if type_code is None:
        errors.append(FieldError("meta.type", f"no Blueprint eventTypeId is configured for {appointment.meta.type}"))
    if errors:
        raise ConversionError(FORMAT, errors)

    appointment_id = _kept_id(kept, "appointment_id")
    out: dict[str, Any] = {
        "appointment_id": str(appointment.id) if appointment_id is None else appointment_id,
        "start_time": format_time(appointment.date_start),
        "end_time": format_time(appointment.date_end),
        "eventTypeId": type_code,
        "status": status_code,
        "summary": appointment.name,
        "busy": False if appointment.status in _NOT_BUSY else kept.get("busy") is not False,
    }
    if _kept_id(kept, "provider_id") is not None:
        out |= _kept_items(kept, ("provider_id", "provider"))
    else:
        out["provider_id"] = _id_out(appointment.calendar.id)
        if appointment.calendar.name is not None:
            out["provider"] = appointment.calendar.name
    out |= _kept_items(kept, ("location_id", "location", "contactVerified"))
    if appointment.description is not None:
        out["notes"] = appointment.description
    if appointment.guests:
        out |= _patient(appointment.guests[0], options)
    return out


def _read_time(r: Reader, p: Mapping[str, Any], key: str) -> datetime | None:
    text = r.text(p, key, required=True)
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        r.error(key, f"{text[:40]!r} {exc}")
        return None


def _read_birthdate(r: Reader, p: Mapping[str, Any]) -> str | None:
    text = r.text(p, "birthdate")
    if text is None:
        return None
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        r.error("birthdate", "expected a date, YYYY-MM-DD")  # the value is patient data: not echoed
        return None


def _patient(guest: Guest, options: BlueprintOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if guest.id is not None:
        out["patient_id"] = _id_out(guest.id)
    name = join_patient_name(guest.last_name, guest.first_name)
    if name is not None:
        out["patient_name"] = name
    birthdate = (guest.model_extra or {}).get("birthdate")
    if options.include_patient_details and isinstance(birthdate, str):
        out["birthdate"] = birthdate
    return out


def _id_out(value: str) -> str | int:
    """Blueprint's ids are numbers: a canonical decimal string goes back as one."""
    return int(value) if re.fullmatch(r"0|[1-9]\d{0,17}", value) else value


def _kept_id(kept: Mapping[str, Any], key: str) -> str | int | None:
    value = kept.get(key)
    return value if isinstance(value, str | int) and not isinstance(value, bool) else None


def _kept_items(kept: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: kept[key] for key in keys if kept.get(key) is not None}


CONVERTER: FormatConverter[BlueprintOptions] = FormatConverter(FORMAT, BlueprintOptions, to_canonical, from_canonical)
