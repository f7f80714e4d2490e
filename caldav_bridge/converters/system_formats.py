"""The OLS and Salesforce shapes behind the converter interface, so that the one interchange (REST
``?format=``, ``/import/{format}``, ``/export/{format}``, the CLI) speaks them too.

The mappings themselves live in :mod:`caldav_bridge.converters.ols` and
:mod:`caldav_bridge.converters.salesforce` (used by the OLS API and the Salesforce sync); this module
only adapts them:

* ``ols``: one OLS appointment object. The source id is its ``id`` (else ``appointment_gid``); the
  calendar hint its ``calendar_id``; the end ``date_end``, else the start plus the OLS default duration.
* ``salesforce``: one Event (or ServiceAppointment, by the ``sf_mode`` setting) record as the REST API
  gives it. The source id is its ``Id``; the calendar hint its ``OwnerId`` (a User id: pass
  ``calendar_id`` when importing). A recurring series' master has no occurrence of its own and is refused;
  export writes the fields the sync writes, with our id in the external-id field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caldav_bridge.converters._common import Reader, build
from caldav_bridge.converters.base import CalendarHint, ConvertedAppointment, FormatConverter
from caldav_bridge.converters.errors import ConversionError
from caldav_bridge.converters.ols import OlsOptions, to_canonical_fields
from caldav_bridge.converters.ols import from_canonical as ols_from_canonical
from caldav_bridge.converters.salesforce import (
    SalesforceMapping,
    format_sf_datetime,
    record_from_salesforce,
    salesforce_body,
)
from caldav_bridge.errors import FieldError
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.timestamps import parse_timestamp

__all__ = ["OLS", "SALESFORCE"]

_OLS_FIELDS = {"date_start": "date_v2", "date_end": "date_end", "name": "name", "meta.type": "type", "status": "status"}


def _ols_read(payload: object, options: OlsOptions) -> ConvertedAppointment:
    r = Reader("ols", payload)
    p = r.root
    source_id = r.text(p, "id") or r.text(p, "appointment_gid")
    if not source_id:
        r.error("id", "is required (or appointment_gid): the import upserts by it")
    fields = to_canonical_fields(p, options)
    r.errors.extend(fields.errors)
    values = fields.values
    start: datetime | None = values.get("date_start")
    if start is None and not fields.errors:
        r.error("date_v2", "is required (or the legacy date)")
    end = start + options.default_duration if start is not None else None
    raw_end = r.text(p, "date_end")
    if raw_end is not None:
        try:
            end = parse_timestamp(raw_end)
        except ValueError as exc:
            r.error("date_end", f"expected an ISO 8601 timestamp with a zone: {exc}")
    stamps = {key: _stamp(r, p, key) for key in ("created_at", "updated_at")}
    r.check()
    labels = values.get("ols", {})
    calendar_id = r.text(p, "calendar_id")
    return build(
        "ols",
        {
            "source_id": source_id,
            "calendar_hint": CalendarHint(kind="calendar", id=calendar_id) if calendar_id else None,
            **{key: value for key, value in stamps.items() if value is not None},
            "date_start": start,
            "date_end": end,
            "name": r.text(p, "name") or labels.get("type") or str(values.get("type", options.unknown_type)),
            "meta": {
                "type": values.get("type", options.unknown_type),
                "salesforce": values.get("salesforce", {}),
                "ols": labels,
            },
            "status": values.get("status", options.unknown_status),
        },
        _OLS_FIELDS,
    )


def _stamp(r: Reader, payload: Any, key: str) -> datetime | None:
    raw = r.text(payload, key)
    if not raw:
        return None
    try:
        return parse_timestamp(raw)
    except ValueError as exc:
        r.error(key, f"expected an ISO 8601 timestamp with a zone: {exc}")
        return None


def _ols_write(appointment: Appointment, options: OlsOptions) -> dict[str, Any]:
    return ols_from_canonical(appointment, options)


OLS: FormatConverter[OlsOptions] = FormatConverter("ols", OlsOptions, _ols_read, _ols_write)


def _sf_read(payload: object, mapping: SalesforceMapping) -> ConvertedAppointment:
    r = Reader("salesforce", payload)
    root = dict(r.root)
    in_salesforce = bool(root.get("Id"))
    if not in_salesforce and mapping.external_id_field and root.get(mapping.external_id_field):
        root["Id"] = root[mapping.external_id_field]  # not in Salesforce yet: known by our id alone
    record = record_from_salesforce(root, mapping)
    if record.series_master:
        raise ConversionError(
            "salesforce",
            [
                FieldError(
                    "IsRecurrence", "a recurring series' master has no occurrence of its own; import its occurrences"
                )
            ],
        )
    if record.deleted:
        raise ConversionError("salesforce", [FieldError("IsDeleted", "a deleted record is not imported")])
    start_field, end_field = (
        ("StartDateTime", "EndDateTime") if mapping.mode == "event" else ("SchedStartTime", "SchedEndTime")
    )
    return build(
        "salesforce",
        {
            "source_id": record.sf_id,
            "calendar_hint": CalendarHint(kind="user", id=record.owner_sf_id) if record.owner_sf_id else None,
            "updated_at": record.modstamp,
            "date_start": record.date_start,
            "date_end": record.date_end,
            "name": record.name,
            "description": record.description,
            "meta": {
                "type": record.type,
                "salesforce": {
                    "appointment_gid": record.sf_id if in_salesforce else None,
                    "opportunity_gid": record.opportunity_gid,
                    "customer_gid": record.customer_gid,
                },
                **({"location": record.location} if record.location else {}),  # Event Location, as the mirror
            },
            "status": record.status,
        },
        {"date_start": start_field, "date_end": end_field, "name": "Subject", "description": "Description"},
    )


def _sf_write(appointment: Appointment, mapping: SalesforceMapping) -> dict[str, Any]:
    body = salesforce_body(appointment, mapping)
    out: dict[str, Any] = {
        "attributes": {"type": mapping.sobject},
        "IsDeleted": False,
        "SystemModstamp": format_sf_datetime(appointment.updated_at),
    }
    if appointment.meta.salesforce.appointment_gid:
        out["Id"] = appointment.meta.salesforce.appointment_gid
    if mapping.external_id_field:
        out[mapping.external_id_field] = str(appointment.id)
    if not body.get("Subject"):
        body["Subject"] = "(no subject)"  # as an import reads an empty Subject
    body["Description"] = body.get("Description") or None  # and an empty Description
    return {**out, **body}


SALESFORCE: FormatConverter[SalesforceMapping] = FormatConverter("salesforce", SalesforceMapping, _sf_read, _sf_write)
