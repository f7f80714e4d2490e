"""Salesforce records ↔ canonical appointments: pure functions, no I/O.

Two mapping modes (``SalesforceMapping.mode``):

- ``event``: the standard Event. ``WhatId`` is the Opportunity, ``WhoId`` the Contact or Lead,
  ``OwnerId`` the fitter's User. Type and status travel in custom fields named by the settings.
  Recurring Events: a series master (``IsRecurrence`` true, or a Lightning series record with
  ``GroupEventType`` 3) has no occurrence of its own and is marked :attr:`MirroredRecord.series_master`
  (the mirror skips it); each occurrence is its own Event, with ``RecurrenceActivityId`` pointing at
  the master, and maps to one appointment (:attr:`MirroredRecord.series_gid`).
- ``service_appointment``: ServiceAppointment. ``ParentRecordId`` is the Opportunity, ``ContactId``
  the customer; the owner comes from AssignedResource → ServiceResource → User (resolved by the
  mirror). Status is read by its ``StatusCategory`` (not its label) and written as the configured
  ``Status`` value.

Field names, including the external-id, type and status fields, come from :class:`SalesforceMapping`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import MAX_DESCRIPTION, MAX_DURATION, MAX_NAME, Appointment

__all__ = [
    "MirroredRecord",
    "SalesforceMapping",
    "content_hash",
    "format_sf_datetime",
    "parse_sf_datetime",
    "record_from_salesforce",
    "salesforce_body",
]

_STATUSES = {"INITIAL", "RESERVED", "BOOKED", "CANCELLED", "RESCHEDULED"}
_TYPES = {"INITIAL", "FOLLOW_UP", "TECH_SETUP"}
#: Key prefix of Opportunity ids: only those go to ``opportunity_gid``.
OPPORTUNITY_PREFIX = "006"
#: Event fields that tell a series master from an occurrence (standard on every org's Event).
SERIES_FIELDS = ("IsRecurrence", "RecurrenceActivityId", "GroupEventType")
#: ``GroupEventType`` of a Lightning (Recurrence 2.0) event series record: the pattern, not an occurrence.
SERIES_GROUP_EVENT_TYPE = "3"


@dataclass(frozen=True)
class SalesforceMapping:
    """Which object and fields appointments map to (from the ``sf_*`` settings)."""

    mode: str = "event"
    external_id_field: str = "Appointment_Service_Id__c"
    type_field: str = "Appointment_Type__c"
    status_field: str = "Appointment_Status__c"
    cancel_mode: str = "status"
    status_categories: Mapping[str, str] = field(default_factory=dict)
    service_statuses: Mapping[str, str] = field(default_factory=dict)
    default_type: str = "INITIAL"
    #: Checkbox that receives ``meta.no_show`` (a no-show marked by staff); empty: not written.
    no_show_field: str = ""

    @property
    def sobject(self) -> str:
        return "Event" if self.mode == "event" else "ServiceAppointment"

    def select_fields(self) -> list[str]:
        """The fields the mirror reads (always with ``Id``, ``IsDeleted`` and ``SystemModstamp``)."""
        if self.mode == "event":
            base = [
                "Subject",
                "Description",
                "StartDateTime",
                "EndDateTime",
                "OwnerId",
                "WhatId",
                "WhoId",
                "ShowAs",
                *SERIES_FIELDS,
            ]
        else:
            base = [
                "Subject",
                "Description",
                "SchedStartTime",
                "SchedEndTime",
                "Status",
                "StatusCategory",
                "ParentRecordId",
                "ContactId",
                "OwnerId",
            ]
        extra = [f for f in (self.external_id_field, self.type_field, self.status_field) if f]
        if self.mode != "event" and self.status_field:
            extra.remove(self.status_field)  # ServiceAppointment has its own Status
        return ["Id", "IsDeleted", "SystemModstamp", *base, *extra]


@dataclass(frozen=True)
class MirroredRecord:
    """What the mirror needs of one Salesforce record."""

    sf_id: str
    deleted: bool
    modstamp: datetime
    owner_sf_id: str | None
    external_id: str | None
    name: str
    description: str | None
    date_start: datetime
    date_end: datetime
    status: str
    type: str
    opportunity_gid: str | None
    customer_gid: str | None
    #: A recurring series' master (or Lightning series record): no appointment of its own.
    series_master: bool = False
    #: For an occurrence of a recurring series: the master's Id (``RecurrenceActivityId``).
    series_gid: str | None = None
    #: Event mode with Shared Activities: the Who ids related besides ``customer_gid`` (None: not known).
    other_whos: tuple[str, ...] | None = None
    #: ServiceAppointment mode: the crew's other ServiceResources (None: not known).
    crew: tuple[str, ...] | None = None

    def content_hash(self) -> str:
        return content_hash(
            self.name,
            self.description,
            self.date_start,
            self.date_end,
            self.status,
            self.type,
            self.opportunity_gid,
            self.customer_gid,
        )


def content_hash(
    name: str,
    description: str | None,
    start: datetime,
    end: datetime,
    status: str,
    type_: str,
    opportunity_gid: str | None,
    customer_gid: str | None,
) -> str:
    """A hash of the fields both sides carry, to recognise a write of ours coming back."""
    data = [
        name,
        description or None,
        format_sf_datetime(start),
        format_sf_datetime(end),
        status,
        type_,
        opportunity_gid or None,
        customer_gid or None,
    ]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def appointment_hash(appointment: Appointment) -> str:
    sf = appointment.meta.salesforce
    return content_hash(
        appointment.name,
        appointment.description,
        appointment.date_start,
        appointment.date_end,
        str(appointment.status),
        str(appointment.meta.type),
        sf.opportunity_gid,
        sf.customer_gid,
    )


def parse_sf_datetime(value: Any, field_name: str = "datetime") -> datetime:
    """``2024-05-01T09:00:00.000+0000`` (or ``Z``, or ``+00:00``) → aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise ConversionError("salesforce", [FieldError(field_name, "missing")])
    text = value.replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConversionError("salesforce", [FieldError(field_name, f"not a datetime: {value!r}")]) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_sf_datetime(value: datetime) -> str:
    """An aware datetime → Salesforce's wire form, UTC with milliseconds."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def record_from_salesforce(record: Mapping[str, Any], mapping: SalesforceMapping) -> MirroredRecord:
    """One Event or ServiceAppointment record → :class:`MirroredRecord`; raises :class:`ConversionError`."""
    sf_id = record.get("Id")
    if not isinstance(sf_id, str) or not sf_id:
        raise ConversionError("salesforce", [FieldError("Id", "missing")])
    deleted = bool(record.get("IsDeleted"))
    modstamp = parse_sf_datetime(record.get("SystemModstamp"), "SystemModstamp")
    errors: list[FieldError] = []
    event = mapping.mode == "event"
    if event and _is_series_master(record):
        # The pattern of a series, not a meeting: its times need not describe one occurrence.
        return MirroredRecord(
            sf_id=sf_id,
            deleted=deleted,
            modstamp=modstamp,
            owner_sf_id=record.get("OwnerId") or None,
            external_id=(record.get(mapping.external_id_field) or None) if mapping.external_id_field else None,
            name=str(record.get("Subject") or "(no subject)")[:MAX_NAME],
            description=None,
            date_start=modstamp,
            date_end=modstamp + timedelta(minutes=1),
            status="BOOKED",
            type=mapping.default_type,
            opportunity_gid=None,
            customer_gid=None,
            series_master=True,
        )
    start_field, end_field = ("StartDateTime", "EndDateTime") if event else ("SchedStartTime", "SchedEndTime")
    start = end = modstamp
    try:
        start = parse_sf_datetime(record.get(start_field), start_field)
        end = parse_sf_datetime(record.get(end_field), end_field)
    except ConversionError as exc:
        errors.extend(exc.errors)
    if not errors:
        if end <= start:
            if end == start:  # zero-length events exist in Salesforce; give them one minute
                end = start + timedelta(minutes=1)
            else:
                errors.append(FieldError(end_field, "must be after " + start_field))
        elif end - start > MAX_DURATION:
            errors.append(FieldError(end_field, f"an appointment may last at most {MAX_DURATION.days} days"))
    if errors and not deleted:
        raise ConversionError("salesforce", errors)
    type_value = record.get(mapping.type_field) if mapping.type_field else None
    type_ = type_value if type_value in _TYPES else mapping.default_type
    if event:
        status_value = record.get(mapping.status_field) if mapping.status_field else None
        status = str(status_value) if status_value in _STATUSES else "BOOKED"
        what = record.get("WhatId")
        opportunity = what if isinstance(what, str) and what.startswith(OPPORTUNITY_PREFIX) else None
        customer = record.get("WhoId") or None
        owner = record.get("OwnerId") or None
    else:
        category = record.get("StatusCategory") or record.get("Status") or "None"
        status = mapping.status_categories.get(str(category), "BOOKED")
        parent = record.get("ParentRecordId")
        opportunity = parent if isinstance(parent, str) and parent.startswith(OPPORTUNITY_PREFIX) else None
        customer = record.get("ContactId") or None
        owner = None  # from AssignedResource
    name = str(record.get("Subject") or "(no subject)")[:MAX_NAME]
    description = record.get("Description")
    return MirroredRecord(
        sf_id=sf_id,
        deleted=deleted,
        modstamp=modstamp,
        owner_sf_id=owner,
        external_id=(record.get(mapping.external_id_field) or None) if mapping.external_id_field else None,
        name=name,
        description=str(description)[:MAX_DESCRIPTION] if description else None,
        date_start=start,
        date_end=end,
        status=status,
        type=type_,
        opportunity_gid=opportunity,
        customer_gid=customer,
        series_gid=_series_gid(record) if event else None,
    )


def _is_series_master(record: Mapping[str, Any]) -> bool:
    return record.get("IsRecurrence") is True or str(record.get("GroupEventType") or "") == SERIES_GROUP_EVENT_TYPE


def _series_gid(record: Mapping[str, Any]) -> str | None:
    value = record.get("RecurrenceActivityId")
    return value if isinstance(value, str) and value and value != record.get("Id") else None


def salesforce_body(
    appointment: Appointment,
    mapping: SalesforceMapping,
    *,
    owner_sf_id: str | None = None,
    creating: bool = True,
) -> dict[str, Any]:
    """The fields written for ``appointment`` (without ``attributes`` and the external id)."""
    sf = appointment.meta.salesforce
    status = str(appointment.status)
    body: dict[str, Any] = {
        "Subject": appointment.name[:255],
        "Description": appointment.description,
    }
    if mapping.type_field:
        body[mapping.type_field] = str(appointment.meta.type)
    if mapping.no_show_field:
        body[mapping.no_show_field] = (appointment.meta.model_extra or {}).get("no_show") is True
    if mapping.mode == "event":
        body["StartDateTime"] = format_sf_datetime(appointment.date_start)
        body["EndDateTime"] = format_sf_datetime(appointment.date_end)
        body["ShowAs"] = "Free" if status == "CANCELLED" else "Busy"
        if mapping.status_field:
            body[mapping.status_field] = status
        body["WhatId"] = sf.opportunity_gid or None
        body["WhoId"] = sf.customer_gid or None
        if owner_sf_id:
            body["OwnerId"] = owner_sf_id
    else:
        body["SchedStartTime"] = format_sf_datetime(appointment.date_start)
        body["SchedEndTime"] = format_sf_datetime(appointment.date_end)
        body["Status"] = mapping.service_statuses.get(status, "Scheduled")
        body["ContactId"] = sf.customer_gid or None
        if creating and sf.opportunity_gid:
            body["ParentRecordId"] = sf.opportunity_gid  # create-only in Salesforce
    return body
