"""OLS (the Opportunity Lifecycle Service in use today) ↔ canonical.

OLS shape: ``{appointment_gid, created_at, customer_gid, date_v2, date, id, opportunity_gid,
status, type, updated_at}``. ``date_v2`` is the true UTC start. ``date`` is a legacy field: the
wall-clock time of the start in a legacy zone (Europe/Berlin by default), labelled ``Z``: in the
brief's May example it is two hours after ``date_v2``. OLS's free-text ``type`` and ``status``
labels map to canonical values by configurable tables; the label a caller sent is kept under
``meta.ols`` and given back for as long as it still describes the appointment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, AppointmentType
from caldav_bridge.model.timestamps import format_timestamp, parse_timestamp

__all__ = [
    "OLS_KEYS",
    "OlsFields",
    "OlsOptions",
    "from_canonical",
    "from_legacy_date",
    "legacy_date",
    "to_canonical_fields",
]

_CANONICAL_TYPES = frozenset(t.value for t in AppointmentType)
_CANONICAL_STATUSES = frozenset(s.value for s in AppointmentStatus)

#: The exact keys of an OLS appointment, in OLS's order.
OLS_KEYS = (
    "appointment_gid",
    "created_at",
    "customer_gid",
    "date_v2",
    "date",
    "id",
    "opportunity_gid",
    "status",
    "type",
    "updated_at",
)


@dataclass(frozen=True)
class OlsOptions:
    legacy_timezone: str = "Europe/Berlin"
    type_labels: Mapping[str, str] = field(default_factory=dict)
    status_labels: Mapping[str, str] = field(default_factory=dict)
    unknown_type: str = "FOLLOW_UP"
    unknown_status: str = "INITIAL"
    default_duration: timedelta = timedelta(minutes=60)

    def type_of(self, label: str) -> str:
        """The canonical type of ``label``: by the table, else ``label`` itself if it is a canonical type
        (what :meth:`label_for_type` gives when the table has no label for it), else ``unknown_type``."""
        if label in self.type_labels:
            return self.type_labels[label]
        return label if label in _CANONICAL_TYPES else self.unknown_type

    def status_of(self, label: str) -> str:
        """Like :meth:`type_of`, for statuses."""
        if label in self.status_labels:
            return self.status_labels[label]
        return label if label in _CANONICAL_STATUSES else self.unknown_status

    def label_for_type(self, canonical: str) -> str:
        return next((k for k, v in self.type_labels.items() if v == canonical), canonical)

    def label_for_status(self, canonical: str) -> str:
        return next((k for k, v in self.status_labels.items() if v == canonical), canonical)


@dataclass(frozen=True)
class OlsFields:
    """The canonical fields an OLS payload sets (only those present in it)."""

    values: dict[str, Any]
    errors: list[FieldError]


def legacy_date(start: datetime, zone: str) -> str:
    """OLS's legacy ``date``: the wall-clock time in ``zone``, labelled ``Z``."""
    wall = start.astimezone(ZoneInfo(zone)).replace(tzinfo=UTC)
    return format_timestamp(wall)


def from_legacy_date(text: str, zone: str) -> datetime:
    """The instant a legacy ``date`` names: its digits read as wall-clock time in ``zone``.

    The zone label it carries (``Z`` from OLS; any offset) is required but not applied: the digits
    are the legacy zone's wall-clock time whatever the label says. A time skipped by a DST change
    is read with the offset before the change; a repeated one as its first occurrence.
    """
    labelled = datetime.fromisoformat(text)
    if labelled.tzinfo is None or labelled.utcoffset() is None:
        raise ValueError("a time zone (an offset or 'Z') is required")
    wall = labelled.replace(tzinfo=None, microsecond=labelled.microsecond // 1000 * 1000)
    return wall.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def from_canonical(appointment: Appointment, options: OlsOptions) -> dict[str, Any]:
    sf = appointment.meta.salesforce
    kept = getattr(appointment.meta, "ols", None) or {}
    type_label = kept.get("type")
    if not isinstance(type_label, str) or options.type_of(type_label) != appointment.meta.type:
        type_label = options.label_for_type(appointment.meta.type)
    status_label = kept.get("status")
    if not isinstance(status_label, str) or options.status_of(status_label) != appointment.status:
        status_label = options.label_for_status(appointment.status)
    return {
        "appointment_gid": sf.appointment_gid or "",
        "created_at": format_timestamp(appointment.created_at),
        "customer_gid": sf.customer_gid or "",
        "date_v2": format_timestamp(appointment.date_start),
        "date": legacy_date(appointment.date_start, options.legacy_timezone),
        "id": str(appointment.id),
        "opportunity_gid": sf.opportunity_gid or "",
        "status": status_label,
        "type": type_label,
        "updated_at": format_timestamp(appointment.updated_at),
    }


def to_canonical_fields(payload: Mapping[str, Any], options: OlsOptions) -> OlsFields:
    """Read the OLS fields present in ``payload`` into canonical terms.

    Returns ``date_start`` (from ``date_v2``, else from the legacy ``date``), ``type`` and
    ``status`` (canonical), ``ols`` (the labels as sent) and ``salesforce`` (the gids present).
    Server-owned keys (``id``, ``created_at``, ``updated_at``) are ignored.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key in ("date_v2", "date"):
        raw = payload.get(key)
        if raw is None or "date_start" in values:
            continue
        if not isinstance(raw, str):
            errors.append(FieldError(key, "expected an ISO 8601 timestamp string"))
            continue
        try:
            values["date_start"] = (
                parse_timestamp(raw) if key == "date_v2" else from_legacy_date(raw, options.legacy_timezone)
            )
        except ValueError as exc:
            errors.append(FieldError(key, f"expected an ISO 8601 timestamp with a zone: {exc}"))
        except OverflowError:  # e.g. 0001-01-01T00:30 read in a zone east of UTC
            errors.append(FieldError(key, "the timestamp is out of the supported range"))
    labels: dict[str, str] = {}
    for key, to_canonical in (("type", options.type_of), ("status", options.status_of)):
        raw = payload.get(key)
        if raw is None:
            continue
        if not isinstance(raw, str) or not raw.strip() or len(raw) > 64:
            errors.append(FieldError(key, "expected a non-empty label of at most 64 characters"))
            continue
        labels[key] = raw
        values[key] = to_canonical(raw)
    if labels:
        values["ols"] = labels
    salesforce: dict[str, str | None] = {}
    for key in ("appointment_gid", "opportunity_gid", "customer_gid"):
        if key not in payload:
            continue
        raw = payload[key]
        if raw is not None and (not isinstance(raw, str) or len(raw) > 64):
            errors.append(FieldError(key, "expected a Salesforce id string of at most 64 characters"))
            continue
        salesforce[key] = raw or None
    if salesforce:
        values["salesforce"] = salesforce
    return OlsFields(values, errors)
