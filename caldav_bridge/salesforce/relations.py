"""The mirror's look-ups of related records, one query per page of records (never one per record).

- :func:`event_whos`: the Who (Contact/Lead) relations of Events when the org has Shared Activities
  ("Allow Users to Relate Multiple Contacts to Tasks and Events"): EventRelation rows with
  ``IsInvitee = false`` and ``IsWhat = false``. ``WhoId`` is only the primary one.
- :func:`crews`: all AssignedResources of ServiceAppointments, primary first.

Orgs without the feature answer ``INVALID_FIELD`` (EventRelation has no ``IsWhat``; AssignedResource
has no ``IsPrimaryResource`` before API 47 / without Field Service crews): the look-up then degrades
(WhoId only; the earliest-created resource is primary), and the gateway remembers that for the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from caldav_bridge.salesforce.gateway import SalesforceGateway, SalesforcePermanentError, soql

__all__ = ["CHUNK", "MISSING_FIELD_CODES", "Assignment", "crews", "event_whos", "org_features"]

#: Ids per ``IN (…)`` list: keeps each query well under SOQL's length limit.
CHUNK = 200
#: Key prefixes of Who records: Contact and Lead.
WHO_PREFIXES = ("003", "00Q")
#: Error codes of a query naming a field or object the org does not have (no Shared Activities, ...).
MISSING_FIELD_CODES = {"INVALID_FIELD", "INVALID_TYPE"}


@dataclass(frozen=True)
class Assignment:
    """One AssignedResource of a ServiceAppointment."""

    id: str
    resource_id: str
    primary: bool
    created: str


def org_features(gw: SalesforceGateway) -> dict[str, bool]:
    """What this gateway's org is known to have or lack (learnt from answers), kept on the gateway."""
    features: dict[str, bool] | None = getattr(gw, "org_features", None)
    if features is None:
        features = {}
        gw.org_features = features  # type: ignore[attr-defined]
    return features


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(i for i in ids if i))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def event_whos(gw: SalesforceGateway, event_ids: Sequence[str]) -> dict[str, list[str]] | None:
    """Event id → its Who ids (Contacts and Leads, in id order), or ``None`` without Shared Activities.

    One query per 200 Events. An Event with no relation is absent from the answer.
    """
    features = org_features(gw)
    if features.get("shared_activities") is False:
        return None
    out: dict[str, list[str]] = {}
    if not event_ids:
        return out
    for chunk in _chunks(event_ids):
        q = soql(
            "SELECT EventId, RelationId FROM EventRelation"
            " WHERE EventId IN {} AND IsInvitee = false AND IsWhat = false ORDER BY EventId, RelationId",
            chunk,
        )
        try:
            records = gw.query(q)
        except SalesforcePermanentError as exc:
            if exc.code in MISSING_FIELD_CODES:
                features["shared_activities"] = False
                return None
            raise
        features["shared_activities"] = True
        for rec in records:
            who = rec.get("RelationId")
            if isinstance(who, str) and who.startswith(WHO_PREFIXES):
                out.setdefault(str(rec["EventId"]), []).append(who)
    return out


def crews(gw: SalesforceGateway, appointment_ids: Sequence[str]) -> dict[str, list[Assignment]]:
    """ServiceAppointment id → its AssignedResources, primary first; one query per 200 appointments.

    The primary is the one marked ``IsPrimaryResource`` when the org has that field, otherwise (and
    among several marked) the earliest created (``CreatedDate``, then ``Id``). Deleted ones are left out.
    """
    features = org_features(gw)
    out: dict[str, list[Assignment]] = {}
    for chunk in _chunks(appointment_ids):
        records = _assignments(gw, chunk, features)
        for rec in records:
            sa, resource = rec.get("ServiceAppointmentId"), rec.get("ServiceResourceId")
            if not sa or not resource:
                continue
            out.setdefault(str(sa), []).append(
                Assignment(
                    id=str(rec["Id"]),
                    resource_id=str(resource),
                    primary=rec.get("IsPrimaryResource") is True,
                    created=str(rec.get("CreatedDate") or ""),
                )
            )
    for assignments in out.values():
        assignments.sort(key=lambda a: (not a.primary, a.created, a.id))
    return out


def _assignments(gw: SalesforceGateway, chunk: list[str], features: dict[str, bool]) -> list[dict[str, Any]]:
    fields = "Id, ServiceAppointmentId, ServiceResourceId, CreatedDate"
    if features.get("primary_resource") is not False:
        try:
            q = soql(
                f"SELECT {fields}, IsPrimaryResource FROM AssignedResource WHERE ServiceAppointmentId IN {{}}",  # noqa: S608
                chunk,
            )
            records = gw.query(q)
            features["primary_resource"] = True
            return records
        except SalesforcePermanentError as exc:
            if exc.code not in MISSING_FIELD_CODES:
                raise
            features["primary_resource"] = False
    q = soql(f"SELECT {fields} FROM AssignedResource WHERE ServiceAppointmentId IN {{}}", chunk)  # noqa: S608
    return gw.query(q)
