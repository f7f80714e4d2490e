"""Preflight: does the org have what the sync needs? Read-only; nothing is written.

It reads the describe metadata of every object the configured mode uses and reports, one problem
at a time: objects or fields the org lacks or that have the wrong type, picklist values the mapping
writes that the picklist does not offer, and objects or fields the integration user may not create
or update. It also says whether Shared Activities is on (``Event.EventWhoIds`` exists) and how many
API requests are left today. ``appointment-service sync check`` prints it; ``serve`` and ``worker``
keep the sync jobs off until it passes (:class:`PreflightGate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.salesforce import SalesforceMapping
from caldav_bridge.salesforce.gateway import SalesforceGateway, SalesforcePermanentError, SalesforceSyncError, soql
from caldav_bridge.salesforce.state import SyncState
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["STATE_KEY", "PreflightGate", "Problem", "Report", "check", "last_report"]

log = logging.getLogger(__name__)
#: ``sf_sync_state`` value holding the last report (read by ``/readyz`` and ``sync status``).
STATE_KEY = "preflight"
_PERMISSIONS = {"queryable": "Read", "createable": "Create", "updateable": "Edit", "deletable": "Delete"}
_TEXT = {"string", "textarea", "combobox", "picklist", "url", "email", "phone"}


@dataclass(frozen=True)
class Problem:
    """One thing to fix in the org (``field`` empty: the object itself)."""

    sobject: str
    field: str
    message: str

    def line(self) -> str:
        where = f"{self.sobject}.{self.field}" if self.field else self.sobject
        return f"{where}: {self.message}"


@dataclass
class Report:
    mode: str
    problems: list[Problem] = field(default_factory=list)
    shared_activities: bool | None = None
    api_max: int | None = None
    api_remaining: int | None = None
    checked_at: datetime = field(default_factory=utcnow)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, sobject: str, field_name: str, message: str) -> None:
        self.problems.append(Problem(sobject, field_name, message))

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "problems": [p.line() for p in self.problems],
            "shared_activities": self.shared_activities,
            "api": {"max": self.api_max, "remaining": self.api_remaining},
            "checked_at": self.checked_at.isoformat(),
        }


@dataclass(frozen=True)
class _Need:
    """A field the sync uses: read (``query``), written on create and/or update, of one of ``types``."""

    name: str
    types: frozenset[str] = frozenset()
    create: bool = False
    update: bool = False
    values: tuple[str, ...] = ()
    external_id: bool = False


def _needs(mapping: SalesforceMapping, feed_url_field: str) -> dict[str, tuple[dict[str, bool], list[_Need]]]:
    """Object → (object permissions needed, fields needed)."""
    text, when = frozenset(_TEXT), frozenset({"datetime"})
    ref = frozenset({"reference"})
    main: list[_Need] = [
        _Need(mapping.external_id_field, frozenset({"string"}), external_id=True, create=True, update=True),
        _Need("Subject", text, create=True, update=True),
        _Need("Description", frozenset({"textarea"}), create=True, update=True),
    ]
    if mapping.type_field:
        main.append(
            _Need(mapping.type_field, text, values=tuple(mapping.types.outbound.values()), create=True, update=True)
        )
    if mapping.no_show_field:
        main.append(_Need(mapping.no_show_field, frozenset({"boolean"}), create=True, update=True))
    objects: dict[str, tuple[dict[str, bool], list[_Need]]] = {}
    crud = {"queryable": True, "createable": True, "updateable": True, "deletable": True}
    if mapping.mode == "event":
        main += [
            _Need("StartDateTime", when, create=True, update=True),
            _Need("EndDateTime", when, create=True, update=True),
            _Need("ShowAs", frozenset({"picklist"}), values=("Busy", "Free", "OutOfOffice"), create=True, update=True),
            _Need("IsAllDayEvent", frozenset({"boolean"}), create=True, update=True),
            _Need("ActivityDate", frozenset({"date"}), create=True, update=True),
            _Need("Location", text, create=True, update=True),
            _Need("WhatId", ref, create=True, update=True),
            _Need("WhoId", ref, create=True, update=True),
            _Need("OwnerId", ref, create=True, update=True),
            *(_Need(n) for n in ("IsRecurrence", "RecurrenceActivityId", "GroupEventType")),
        ]
        if mapping.status_field:
            main.append(
                _Need(
                    mapping.status_field,
                    text,
                    values=tuple(mapping.statuses.outbound.values()),
                    create=True,
                    update=True,
                )
            )
        objects["Event"] = (crud, main)
        objects["EventRelation"] = ({"queryable": True}, [_Need("EventId"), _Need("RelationId"), _Need("IsInvitee")])
    else:
        main += [
            _Need("SchedStartTime", when, create=True, update=True),
            _Need("SchedEndTime", when, create=True, update=True),
            _Need(
                "Status",
                frozenset({"picklist"}),
                values=tuple(mapping.service_statuses.values()),
                create=True,
                update=True,
            ),
            _Need("StatusCategory"),
            _Need("ContactId", ref, create=True, update=True),
            _Need("ParentRecordId", ref, create=True),
        ]
        if mapping.work_types:
            main.append(_Need("WorkTypeId", ref, create=True))
        if mapping.service_territories:
            main.append(_Need("ServiceTerritoryId", ref, create=True))
        objects["ServiceAppointment"] = (crud, main)
        objects["AssignedResource"] = (
            {"queryable": True, "createable": True, "updateable": True},
            [
                _Need("ServiceAppointmentId", ref, create=True),
                _Need("ServiceResourceId", ref, create=True, update=True),
            ],
        )
        objects["ServiceResource"] = ({"queryable": True}, [_Need("RelatedRecordId"), _Need("IsActive")])
    objects["User"] = ({"queryable": True}, [_Need("Email"), _Need("IsActive"), _Need("TimeZoneSidKey")])
    objects["Contact"] = ({"queryable": True}, [_Need("FirstName"), _Need("LastName")])
    objects["Lead"] = ({"queryable": True}, [_Need("FirstName"), _Need("LastName")])
    if feed_url_field:
        target = "User" if mapping.mode == "event" else "ServiceResource"
        perms, fields = objects[target]
        objects[target] = ({**perms, "updateable": True}, [*fields, _Need(feed_url_field, text, update=True)])
    return objects


def _check_field(report: Report, sobject: str, need: _Need, described: dict[str, Any] | None) -> None:
    if described is None:
        report.add(sobject, need.name, "missing: the org has no such field (or the integration user cannot see it)")
        return
    if need.types and described.get("type") not in need.types:
        wanted = " or ".join(sorted(need.types))
        report.add(sobject, need.name, f"has type {described.get('type')}, the sync needs {wanted}")
    if need.external_id and not (described.get("externalId") and described.get("unique")):
        report.add(sobject, need.name, "must be marked External ID and Unique")
    if need.create and not described.get("createable"):
        report.add(sobject, need.name, "the integration user cannot set it on create (field-level security)")
    if need.update and not described.get("updateable"):
        report.add(sobject, need.name, "the integration user cannot update it (field-level security)")
    if need.values and described.get("type") == "picklist":
        offered = {v.get("value") for v in described.get("picklistValues") or () if v.get("active", True)}
        for value in dict.fromkeys(need.values):
            if value not in offered:
                report.add(sobject, need.name, f"picklist lacks the value {value!r} that the mapping writes")


def check(gw: SalesforceGateway, mapping: SalesforceMapping, *, feed_url_field: str = "") -> Report:
    """Read the org's describe metadata and limits; raises :class:`SalesforceSyncError` when it cannot be reached."""
    report = Report(mapping.mode)
    for sobject, (perms, needs) in _needs(mapping, feed_url_field).items():
        try:
            described = gw.describe(sobject)
        except SalesforcePermanentError as exc:
            report.add(sobject, "", f"not available to the integration user ({exc.code or exc.status})")
            continue
        for perm, wanted in perms.items():
            if wanted and not described.get(perm, False):
                report.add(sobject, "", f"the integration user lacks the '{_PERMISSIONS[perm]}' permission")
        by_name = {f.get("name"): f for f in described.get("fields") or ()}
        for need in needs:
            _check_field(report, sobject, need, by_name.get(need.name))
        if sobject == "Event":
            report.shared_activities = "EventWhoIds" in by_name
    if mapping.mode == "service_appointment":
        _check_service_ids(gw, mapping, report)
    limits = gw.limits().get("DailyApiRequests") or {}
    report.api_max, report.api_remaining = limits.get("Max"), limits.get("Remaining")
    if report.api_remaining is not None and report.api_remaining <= 0:
        report.add("Organization", "DailyApiRequests", "no API requests left today")
    return report


def _check_service_ids(gw: SalesforceGateway, mapping: SalesforceMapping, report: Report) -> None:
    """The WorkTypes and ServiceTerritories the settings name exist (and the territories are active)."""
    for sobject, table, extra in (
        ("WorkType", mapping.work_types, ""),
        ("ServiceTerritory", mapping.service_territories, ", IsActive"),
    ):
        wanted = sorted(set(table.values()))
        if not wanted:
            continue
        try:
            q = soql(f"SELECT Id{extra} FROM {sobject} WHERE Id IN {{}}", wanted)  # noqa: S608
            found = {str(r["Id"])[:15]: r for r in gw.query(q)}
        except SalesforcePermanentError as exc:
            report.add(sobject, "", f"cannot be read by the integration user ({exc.code or exc.status})")
            continue
        for key, value in sorted(table.items()):
            record = found.get(value[:15])
            where = "every other calendar" if key == "*" else f"calendar {key}"
            if record is None:
                report.add(sobject, "", f"{value} (for {where}) does not exist")
            elif extra and record.get("IsActive") is False:
                report.add(sobject, "", f"{value} (for {where}) is not active")


def last_report(uow: UnitOfWork) -> dict[str, Any] | None:
    """The last recorded report (any process), or None when none was run."""
    with uow:
        return uow.repo(SyncState).value(STATE_KEY)


def record(uow: UnitOfWork, report: dict[str, Any]) -> None:
    with uow:
        uow.repo(SyncState).put_value(STATE_KEY, report)
        uow.commit()


@dataclass
class PreflightGate:
    """Keeps the sync jobs off until the preflight passes; checks again at most every ``recheck``."""

    recheck: timedelta = timedelta(minutes=5)
    passed: bool = False
    checked_at: datetime | None = None

    def open(self, ctx: Any) -> bool:
        """Whether the jobs may run (runs the preflight when it is due)."""
        if self.passed:
            return True
        now = utcnow()
        if self.checked_at is not None and now - self.checked_at < self.recheck:
            return False
        self.checked_at = now
        gw = ctx.gateway_factory()
        try:
            report = check(gw, ctx.mapping, feed_url_field=ctx.feed_url_field).as_dict()
        except SalesforceSyncError as exc:
            report = Report(ctx.mapping.mode).as_dict()
            report["ok"] = False
            report["problems"] = [f"Salesforce: cannot be reached or refused the check ({exc.code or exc.message})"]
        record(ctx.uow_factory(), report)
        self.passed = bool(report["ok"])
        if self.passed:
            log.info("salesforce preflight passed")
        else:
            log.warning("salesforce preflight failed; sync jobs stay off: %s", "; ".join(report["problems"]))
        return self.passed
