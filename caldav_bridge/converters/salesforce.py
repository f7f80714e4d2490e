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

Type and status travel through mapping tables in both directions (:class:`ValueTable`): canonical →
Salesforce value when writing, Salesforce value → canonical when reading. A value the table does
not know is never guessed: the record keeps it as written (:data:`UNMAPPED_META`), a new appointment
holds the slot as ``RESERVED`` (status) or takes the configured default type, an existing one keeps
what it had, and the write-back leaves that Salesforce field alone until the appointment changes here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.converters.salesforce_series import series_description, without_series_note
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import MAX_DESCRIPTION, MAX_DURATION, MAX_NAME, Appointment, is_busy_block

__all__ = [
    "BUSY_SUBJECT",
    "MAX_EVENT_WHOS",
    "SHOW_AS",
    "UNMAPPED_META",
    "MirroredRecord",
    "SalesforceMapping",
    "ServiceIds",
    "ValueTable",
    "busy_event_body",
    "content_hash",
    "format_sf_datetime",
    "parse_sf_datetime",
    "record_from_salesforce",
    "salesforce_body",
    "who_ids",
]

STATUSES = ("INITIAL", "RESERVED", "BOOKED", "CANCELLED", "RESCHEDULED")
TYPES = ("INITIAL", "FOLLOW_UP", "TECH_SETUP")
#: Meta key (owned by the mirror) keeping Salesforce values the mapping does not know, as written:
#: ``{"status": {"value": "On Hold", "kept": "BOOKED"}}``; ``kept`` is the canonical value the appointment
#: holds meanwhile (the write-back leaves the Salesforce field alone while the appointment still says it).
UNMAPPED_META = "salesforce_unmapped"
#: The status a *new* appointment holds while its Salesforce status is unmapped: the slot stays taken,
#: but it is not shown as a confirmed booking.
UNMAPPED_STATUS = "RESERVED"


@dataclass(frozen=True)
class ValueTable:
    """One picklist's mapping both ways: ``outbound`` canonical → Salesforce value (written),
    ``inbound`` Salesforce value → canonical (read; the inverse of ``outbound`` plus extra aliases)."""

    outbound: Mapping[str, str]
    inbound: Mapping[str, str]

    @classmethod
    def build(cls, outbound: Mapping[str, str], aliases: Mapping[str, str] | None = None) -> ValueTable:
        inbound: dict[str, str] = {}
        for canonical, value in outbound.items():
            inbound.setdefault(value, canonical)
        inbound.update(aliases or {})
        return cls(dict(outbound), inbound)

    @classmethod
    def identity(cls, values: tuple[str, ...]) -> ValueTable:
        return cls.build({v: v for v in values})

    def problems(self, canonical: tuple[str, ...]) -> list[str]:
        """What is wrong with the table (empty: usable): every canonical value written, every value read
        naming a canonical one, and each written value read back as itself."""
        out = [f"no Salesforce value for {c}" for c in canonical if not self.outbound.get(c)]
        out += [f"unknown canonical value {c!r}" for c in sorted(set(self.outbound) - set(canonical))]
        out += [f"{v!r} maps to unknown canonical value {c!r}" for v, c in self.inbound.items() if c not in canonical]
        for c, v in self.outbound.items():
            if self.inbound.get(v) not in (c, None) and list(self.outbound.values()).count(v) == 1:
                out.append(f"{c} is written as {v!r} but {v!r} is read as {self.inbound[v]}")
        return out

    def read(self, value: Any) -> str | None:
        return self.inbound.get(value) if isinstance(value, str) else None

    def write(self, canonical: str) -> str:
        return self.outbound.get(canonical, canonical)


#: Key prefix of Opportunity ids: only those go to ``opportunity_gid``.
OPPORTUNITY_PREFIX = "006"
#: Key prefixes of the Whos an Event relates (Contact, Lead): the guests written as ``WhoId`` / ``EventWhoIds``.
WHO_PREFIXES = ("003", "00Q")
#: Salesforce relates at most 50 Contacts/Leads to one Event.
MAX_EVENT_WHOS = 50
#: ``meta.show_as`` (the appointment's transparency: how the time shows in calendars) ↔ Event ``ShowAs``.
#: Absent means busy. A cancelled appointment is always written ``Free``.
SHOW_AS = {"busy": "Busy", "free": "Free", "out_of_office": "OutOfOffice"}
_SHOW_AS_READ = {v: k for k, v in SHOW_AS.items()}
#: A series made here (``meta.recurrence``) is written as one record at its first occurrence, its rule and its
#: changed occurrences named in a last line of the Description (Salesforce's own series fields cannot be changed
#: after create, and its occurrences would come back as appointments of their own); the line is dropped again
#: when read (:mod:`.salesforce_series`).
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
    #: Busy blocks (``meta.kind`` busy) are pushed as detail-less busy Events (:func:`busy_event_body`);
    #: otherwise not at all. Event mode only.
    push_busy_blocks: bool = False
    #: Type picklist both ways (``sf_type_values`` / ``sf_type_aliases``).
    types: ValueTable = field(default_factory=lambda: ValueTable.identity(TYPES))
    #: Event status picklist both ways (``sf_status_values`` / ``sf_status_aliases``).
    statuses: ValueTable = field(default_factory=lambda: ValueTable.identity(STATUSES))
    #: ServiceAppointment mode: WorkType / ServiceTerritory ids by calendar id, team calendar id or ``*``
    #: (``sf_work_types`` / ``sf_service_territories``), set when a record is created.
    work_types: Mapping[str, str] = field(default_factory=dict)
    service_territories: Mapping[str, str] = field(default_factory=dict)

    def service_ids(self, calendar_id: str, team_id: str | None) -> ServiceIds:
        """The WorkType and ServiceTerritory of a new record on ``calendar_id`` (its own, its team's, or ``*``)."""

        def pick(table: Mapping[str, str]) -> str | None:
            for key in (calendar_id, team_id, "*"):
                if key and table.get(key):
                    return table[key]
            return None

        return ServiceIds(pick(self.work_types), pick(self.service_territories))

    @classmethod
    def from_settings(cls, settings: Any) -> SalesforceMapping:
        """The mapping the ``sf_*`` settings configure: the sync's, and the ``salesforce`` export format's."""
        s = settings
        return cls(
            mode=s.sf_mode,
            external_id_field=s.sf_external_id_field,
            type_field=s.sf_type_field,
            status_field=s.sf_status_field,
            cancel_mode=s.sf_cancel_mode,
            push_busy_blocks=s.sf_push_busy_blocks,
            status_categories=dict(s.sf_status_categories),
            service_statuses=dict(s.sf_service_statuses),
            no_show_field=s.sf_no_show_field,
            default_type=s.sf_default_type,
            types=ValueTable.build(s.sf_type_values, s.sf_type_aliases),
            statuses=ValueTable.build(s.sf_status_values, s.sf_status_aliases),
            work_types=dict(s.sf_work_types),
            service_territories=dict(s.sf_service_territories),
        )

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
                "Location",
                "IsAllDayEvent",
                "ActivityDate",
                "DurationInMinutes",
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
    #: Event ``Location`` (``meta.location``).
    location: str | None = None
    #: Salesforce values the mapping does not know, as written: ``{"status": "On Hold"}``.
    unmapped: Mapping[str, str] = field(default_factory=dict)
    #: An all-day Event: its first date and the day after its last (``date_start``/``date_end`` are then the
    #: midnights in UTC until :meth:`in_zone` places them in the calendar's zone).
    all_day: tuple[date, date] | None = None
    #: ``meta.show_as`` read from ``ShowAs`` (None: busy, or the ``Free`` of a cancellation).
    show_as: str | None = None

    def in_zone(self, timezone: str) -> MirroredRecord:
        """An all-day record's instants as the midnights of its dates in ``timezone`` (the calendar's)."""
        if self.all_day is None:
            return self
        zone = ZoneInfo(timezone)
        first, after = self.all_day
        start = datetime.combine(first, time(), zone).astimezone(UTC)
        return replace(self, date_start=start, date_end=datetime.combine(after, time(), zone).astimezone(UTC))

    def keeping(self, status: str, type_: str) -> MirroredRecord:
        """This record applied to an existing appointment: what is unmapped keeps the appointment's value."""
        if not self.unmapped:
            return self
        return replace(
            self,
            status=status if "status" in self.unmapped else self.status,
            type=type_ if "type" in self.unmapped else self.type,
        )

    def unmapped_meta(self) -> dict[str, dict[str, str]]:
        """The :data:`UNMAPPED_META` value for this record (empty when everything mapped)."""
        kept = {"status": self.status, "type": self.type}
        return {k: {"value": v, "kept": kept[k]} for k, v in sorted(self.unmapped.items())}

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
            self.location,
            show_as=self.show_as,
            all_day=self.all_day is not None,
        )


@dataclass(frozen=True)
class ServiceIds:
    """ServiceAppointment mode: the WorkType and ServiceTerritory a new record gets (None: not set)."""

    work_type_id: str | None = None
    service_territory_id: str | None = None


def content_hash(
    name: str,
    description: str | None,
    start: datetime,
    end: datetime,
    status: str,
    type_: str,
    opportunity_gid: str | None,
    customer_gid: str | None,
    location: str | None = None,
    *,
    show_as: str | None = None,
    all_day: bool = False,
) -> str:
    """A hash of the fields both sides carry, to recognise a write of ours coming back (a location, a
    transparency other than busy and all-day only when there are, so the hashes of appointments without them
    are what they were before they were carried)."""
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
    if location:
        data.append(location)
    if show_as or all_day:
        data += [show_as or "", "all-day" if all_day else ""]
    return hashlib.sha256(json.dumps(data, separators=(",", ":")).encode()).hexdigest()


def appointment_hash(appointment: Appointment, mapping: SalesforceMapping | None = None, zone: str = "UTC") -> str:
    """The hash the mirror will compute when our write of ``appointment`` (on a calendar in ``zone``) comes back.

    With ``mapping``, the body we write is read back through :func:`record_from_salesforce`, so what
    the read side normalises (an empty Subject read as "(no subject)", a WhatId that is not an
    Opportunity, an all-day Event's midnights) is what the echo is compared with: our own write coming
    back never rewrites our fields.
    """
    if mapping is not None:
        body = salesforce_body(appointment, mapping, creating=True, zone=zone)
        echo = {**body, "Id": "echo", "IsDeleted": False, "SystemModstamp": format_sf_datetime(appointment.updated_at)}
        if mapping.mode != "event":
            echo["StatusCategory"] = _category_of(body.get("Status"), mapping)
        try:
            rec = record_from_salesforce(echo, mapping).in_zone(zone)
        except ConversionError:
            rec = None
        if rec is not None:
            kept = _unmapped_kept(appointment)
            return replace(
                rec,
                status=str(appointment.status) if "status" in kept else rec.status,
                type=str(appointment.meta.type) if "type" in kept else rec.type,
            ).content_hash()
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
        meta_location(appointment),
        show_as=meta_show_as(appointment) if appointment.status != "CANCELLED" else None,
        all_day=_is_all_day(appointment),
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


def _text(value: object, limit: int) -> str:
    """A Salesforce text field as we keep it: NUL dropped (PostgreSQL cannot store it in text: one such
    record failed every page of the mirror), cut to ``limit``."""
    return str(value).replace("\x00", "")[:limit]


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
            name=_text(record.get("Subject") or "(no subject)", MAX_NAME),
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
    all_day: tuple[date, date] | None = None
    try:
        if event and record.get("IsAllDayEvent") is True:
            all_day = _all_day_dates(record)
            start, end = (datetime.combine(d, time(), UTC) for d in all_day)
        else:
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
    unmapped: dict[str, str] = {}
    type_value = record.get(mapping.type_field) if mapping.type_field else None
    type_ = mapping.types.read(type_value) if type_value else mapping.default_type
    if type_ is None:
        unmapped["type"], type_ = str(type_value), mapping.default_type
    if event:
        status_value = record.get(mapping.status_field) if mapping.status_field else None
        status = mapping.statuses.read(status_value) if status_value else "BOOKED"
        if status is None:
            unmapped["status"], status = str(status_value), UNMAPPED_STATUS
        what = record.get("WhatId")
        opportunity = what if isinstance(what, str) and what.startswith(OPPORTUNITY_PREFIX) else None
        customer = record.get("WhoId") or None
        owner = record.get("OwnerId") or None
    else:
        category = str(record.get("StatusCategory") or record.get("Status") or "None")
        mapped = mapping.status_categories.get(category)
        if mapped is None:
            unmapped["status"], mapped = category, UNMAPPED_STATUS
        status = mapped
        parent = record.get("ParentRecordId")
        opportunity = parent if isinstance(parent, str) and parent.startswith(OPPORTUNITY_PREFIX) else None
        customer = record.get("ContactId") or None
        owner = None  # from AssignedResource
    name = _text(record.get("Subject") or "(no subject)", MAX_NAME)
    description = without_series_note(str(record.get("Description") or "")) or None
    return MirroredRecord(
        sf_id=sf_id,
        deleted=deleted,
        modstamp=modstamp,
        owner_sf_id=owner,
        external_id=(record.get(mapping.external_id_field) or None) if mapping.external_id_field else None,
        name=name,
        description=_text(description, MAX_DESCRIPTION) if description else None,
        date_start=start,
        date_end=end,
        status=status,
        type=type_,
        opportunity_gid=opportunity,
        customer_gid=customer,
        location=(_text(record.get("Location"), 255) or None) if event and record.get("Location") else None,
        series_gid=_series_gid(record) if event else None,
        unmapped=unmapped,
        all_day=all_day,
        show_as=_show_as(record.get("ShowAs"), status) if event else None,
    )


def _all_day_dates(record: Mapping[str, Any]) -> tuple[date, date]:
    """An all-day Event's first date and the day after its last: ``ActivityDate`` (else the date of
    ``StartDateTime``, midnight GMT), for ``DurationInMinutes`` / 1440 days (else up to ``EndDateTime``'s date)."""
    raw = record.get("ActivityDate") or record.get("StartDateTime")
    try:
        first = date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise ConversionError("salesforce", [FieldError("ActivityDate", f"not a date: {raw!r}")]) from None
    minutes = record.get("DurationInMinutes")
    if isinstance(minutes, int | float) and minutes > 0:
        days = max(1, -(-int(minutes) // 1440))
    elif record.get("EndDateTime"):
        days = (parse_sf_datetime(record["EndDateTime"], "EndDateTime").date() - first).days + 1
    else:
        days = 1  # Salesforce's default for an all-day Event with neither
    if days < 1:
        raise ConversionError("salesforce", [FieldError("EndDateTime", "must not be before ActivityDate")])
    return first, first + timedelta(days=days)


def _show_as(value: Any, status: str) -> str | None:
    """``meta.show_as`` of an Event's ``ShowAs``: None for Busy (the default) and for the Free a cancellation writes."""
    show = _SHOW_AS_READ.get(str(value)) if value else None
    if show == "busy" or (show == "free" and status == "CANCELLED"):
        return None
    return show


def _category_of(status: Any, mapping: SalesforceMapping) -> str:
    """The StatusCategory Salesforce derives for a ServiceAppointment ``Status`` we write (default statuses)."""
    return {"In Progress": "InProgress", "Cannot Complete": "CannotComplete"}.get(str(status), str(status))


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
    zone: str = "UTC",
    shared_activities: bool = False,
    service: ServiceIds | None = None,
) -> dict[str, Any]:
    """The fields written for ``appointment`` (without ``attributes`` and the external id).

    ``zone``: the calendar's time zone (the dates of an all-day appointment); ``shared_activities``: the org
    relates several Whos to an Event (every Who guest is written as ``EventWhoIds``, else only the first as
    ``WhoId``); ``service``: ServiceAppointment mode, the WorkType and ServiceTerritory of a new record. A busy
    block is written by :func:`busy_event_body`.
    """
    if is_busy_block(appointment):
        return busy_event_body(appointment, owner_sf_id=owner_sf_id)
    sf = appointment.meta.salesforce
    status = str(appointment.status)
    body: dict[str, Any] = {
        "Subject": appointment.name[:255],
        "Description": series_description(appointment, zone),
    }
    kept = _unmapped_kept(appointment)
    if mapping.type_field and kept.get("type") != str(appointment.meta.type):
        body[mapping.type_field] = mapping.types.write(str(appointment.meta.type))
    if mapping.no_show_field:
        body[mapping.no_show_field] = (appointment.meta.model_extra or {}).get("no_show") is True
    if mapping.mode == "event":
        body.update(_event_times(appointment, zone))
        body["ShowAs"] = "Free" if status == "CANCELLED" else SHOW_AS.get(meta_show_as(appointment) or "busy", "Busy")
        body["Location"] = meta_location(appointment)
        if mapping.status_field and kept.get("status") != status:
            body[mapping.status_field] = mapping.statuses.write(status)
        body["WhatId"] = sf.opportunity_gid or None
        whos = who_ids(appointment)
        body["WhoId"] = sf.customer_gid or (whos[0] if whos else None)  # the customer as given, else the first Who
        if shared_activities:
            body["EventWhoIds"] = whos[:MAX_EVENT_WHOS]
        if owner_sf_id:
            body["OwnerId"] = owner_sf_id
    else:
        body["SchedStartTime"] = format_sf_datetime(appointment.date_start)
        body["SchedEndTime"] = format_sf_datetime(appointment.date_end)
        if kept.get("status") != status:
            body["Status"] = mapping.service_statuses.get(status, "Scheduled")
        body["ContactId"] = sf.customer_gid or None
        if creating and sf.opportunity_gid:
            body["ParentRecordId"] = sf.opportunity_gid  # create-only in Salesforce
        if creating and service is not None:
            if service.work_type_id:
                body["WorkTypeId"] = service.work_type_id
            if service.service_territory_id:
                body["ServiceTerritoryId"] = service.service_territory_id
    return body


#: The Subject of a busy block's Event: what dispatchers see instead of the fitter's own title.
BUSY_SUBJECT = "Busy"


def busy_event_body(appointment: Appointment, *, owner_sf_id: str | None = None) -> dict[str, Any]:
    """A busy block as an Event without details: its times and owner, Subject "Busy", ShowAs Busy; no
    Who or What, description, place, type or status (the fitter's own time says nothing about a customer)."""
    body: dict[str, Any] = {
        "Subject": BUSY_SUBJECT,
        "StartDateTime": format_sf_datetime(appointment.date_start),
        "EndDateTime": format_sf_datetime(appointment.date_end),
        "ShowAs": "Busy",
        "WhatId": None,
        "WhoId": None,
    }
    if owner_sf_id:
        body["OwnerId"] = owner_sf_id
    return body


def _event_times(appointment: Appointment, zone: str) -> dict[str, Any]:
    """An Event's times: start and end instants; for an all-day appointment ``IsAllDayEvent``, its first local
    date as ``ActivityDate`` and ``StartDateTime``/``EndDateTime`` at midnight GMT of its first and last dates."""
    if not _is_all_day(appointment):  # IsAllDayEvent written false too: an Event all-day before becomes timed
        return {
            "IsAllDayEvent": False,
            "StartDateTime": format_sf_datetime(appointment.date_start),
            "EndDateTime": format_sf_datetime(appointment.date_end),
        }
    tz = ZoneInfo(zone)
    first = appointment.date_start.astimezone(tz).date()
    end = appointment.date_end.astimezone(tz)
    last = end.date() - timedelta(days=1) if end.timetz().replace(tzinfo=None) == time() else end.date()
    last = max(last, first)
    return {
        "IsAllDayEvent": True,
        "ActivityDate": first.isoformat(),
        "StartDateTime": format_sf_datetime(datetime.combine(first, time(), UTC)),
        "EndDateTime": format_sf_datetime(datetime.combine(last, time(), UTC)),
    }


def _is_all_day(appointment: Appointment) -> bool:
    return (appointment.meta.model_extra or {}).get("all_day") is True


def who_ids(appointment: Appointment) -> list[str]:
    """The Contacts/Leads an Event relates for ``appointment``: its customer first, then every other guest
    whose id is a Contact or Lead id (other guests are people Salesforce does not know)."""
    ids = [appointment.meta.salesforce.customer_gid, *(g.id for g in appointment.guests)]
    return list(dict.fromkeys(i for i in ids if i and _is_who(i)))


def _is_who(value: str) -> bool:
    return len(value) in (15, 18) and value.isalnum() and value.startswith(WHO_PREFIXES)


def meta_show_as(appointment: Appointment) -> str | None:
    """``meta.show_as`` when it is one of :data:`SHOW_AS` other than busy."""
    value = (appointment.meta.model_extra or {}).get("show_as")
    return value if isinstance(value, str) and value in SHOW_AS and value != "busy" else None


def _unmapped_kept(appointment: Appointment) -> dict[str, str]:
    """Field → the canonical value the appointment holds for a Salesforce value the mapping does not know."""
    raw = (appointment.meta.model_extra or {}).get(UNMAPPED_META)
    if not isinstance(raw, dict):
        return {}
    return {k: str(v.get("kept")) for k, v in raw.items() if isinstance(v, dict) and v.get("kept")}


def meta_location(appointment: Appointment) -> str | None:
    """``meta.location`` (the convention iCalendar imports and the calendar page share), as Event ``Location``."""
    value = (appointment.meta.model_extra or {}).get("location")
    return value[:255] if isinstance(value, str) and value.strip() else None
