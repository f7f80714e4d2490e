"""Write-back store → Salesforce: claim outbox rows, upsert by our external id in batches, record the ids.

- Claim: pending rows (and rows whose claim lease ran out: a worker died) are marked ``inflight``
  with a lease, in a short transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite every
  write transaction starts with ``BEGIN IMMEDIATE``, so claims are serialised. Appointments another
  worker holds a live claim on are left alone.
- Push: the appointment's *current* state (several changes collapse into one write), through the
  sObject Collections endpoint, at most 200 records a call, ``allOrNone`` false. New records are
  upserted by the external id (the appointment id, a URL-safe UUID), so a retry after a lost answer
  or a crash between the call and the commit updates the same record rather than adding one.
  Records that came from Salesforce are updated by Id (and get our external id stamped).
- Answers: success → ``sent`` and the Salesforce id recorded; a per-record 400-class error →
  ``dead`` with Salesforce's message (retry through the API or CLI after a fix); 5xx/timeouts →
  back to ``pending`` with exponential backoff and jitter (``dead`` after ``max_attempts``);
  REQUEST_LIMIT_EXCEEDED → back to ``pending`` and the run ends until the next tick.
- Cancellations set the status (ShowAs Free) or delete the record (``sf_cancel_mode``); a deleted
  appointment deletes its record.
- Busy blocks (``meta.kind`` busy) are not pushed; with ``sf_push_busy_blocks`` they are Events without
  details (:func:`~caldav_bridge.converters.salesforce.busy_event_body`), deleted when cancelled or deleted
  (or when the setting is turned off and they change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.salesforce import SalesforceMapping, appointment_hash, salesforce_body, who_ids
from caldav_bridge.model.appointment import Appointment, is_busy_block
from caldav_bridge.salesforce import relations
from caldav_bridge.salesforce.gateway import (
    RecordResult,
    SalesforceAuthError,
    SalesforceGateway,
    SalesforceLimitExceeded,
    SalesforcePermanentError,
    SalesforceSyncError,
    SalesforceTransientError,
    soql,
)
from caldav_bridge.salesforce.links import SfLinks
from caldav_bridge.salesforce.mirror import RunResult
from caldav_bridge.salesforce.preflight import STATE_KEY as PREFLIGHT_KEY
from caldav_bridge.salesforce.sf_users import SfUsers
from caldav_bridge.salesforce.state import SyncState
from caldav_bridge.salesforce.sync_context import Progress, SyncContext
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["Claim", "claim", "push", "retry_dead"]

log = logging.getLogger(__name__)
MAX_BATCHES = 100_000


@dataclass
class Claim:
    outbox_ids: list[int]
    appointment_ids: list[str]
    attempts: dict[str, int]


def claim(ctx: SyncContext, limit: int) -> Claim:
    """Mark up to ``limit`` due outbox rows ``inflight`` for this worker and return them by appointment."""
    uow = ctx.uow_factory()
    with uow:
        now = utcnow()
        rows = uow.outbox.due(now, limit * 4)
        if not rows:
            return Claim([], [], {})
        held = uow.outbox.held({r.appointment_id for r in rows}, now)
        chosen: list[str] = []
        taken: list[OutboxRow] = []
        for r in rows:
            if r.appointment_id in held:
                continue
            if r.appointment_id not in chosen:
                if len(chosen) >= limit:
                    continue
                chosen.append(r.appointment_id)
            taken.append(r)
        attempts: dict[str, int] = {}
        for r in taken:
            r.state = "inflight"
            r.attempts += 1
            r.available_at = now + ctx.claim_lease
            attempts[r.appointment_id] = max(attempts.get(r.appointment_id, 0), r.attempts)
        uow.commit()
        return Claim([r.id for r in taken], chosen, attempts)


def _settle(
    uow: UnitOfWork,
    outbox_ids: list[int],
    appointment_id: str,
    state: str,
    *,
    error: str | None = None,
    available_in: timedelta | None = None,
    refund_attempt: bool = False,
) -> None:
    now = utcnow()
    values: dict[str, Any] = {"state": state, "last_error": error}
    values["available_at"] = now + (available_in or timedelta(0))
    if refund_attempt:
        values["attempts"] = OutboxRow.attempts - 1
    uow.outbox.settle(outbox_ids, appointment_id, values)


def push(
    ctx: SyncContext,
    gw: SalesforceGateway,
    progress: Progress | None = None,
    *,
    after_call: Callable[[], None] | None = None,
    max_batches: int = MAX_BATCHES,
) -> RunResult:
    """Push due outbox rows until none are left (or the API limit, or ``max_batches``)."""
    result = RunResult("push")
    for _ in range(max_batches):
        batch = claim(ctx, ctx.push_batch_size)
        if not batch.appointment_ids:
            break
        try:
            _push_batch(ctx, gw, batch, result, after_call)
        except SalesforceLimitExceeded as exc:
            _release(ctx, batch, f"REQUEST_LIMIT_EXCEEDED: {exc.message}", timedelta(0), refund=True)
            result.outcome = "limited"
            result.note(str(exc))
            break
        except SalesforceAuthError as exc:
            _release(ctx, batch, f"auth: {exc.message}", ctx.backoff(1), refund=True)
            result.outcome = "failed"
            result.note(str(exc))
            break
        if progress:
            progress(result.processed, None)
    if result.outcome == "ok" and result.failed:
        result.outcome = "partial"
    return result


def _release(ctx: SyncContext, batch: Claim, error: str, delay: timedelta, *, refund: bool) -> None:
    with ctx.uow_factory() as uow:
        for appointment_id in batch.appointment_ids:
            _settle(
                uow, batch.outbox_ids, appointment_id, "pending", error=error, available_in=delay, refund_attempt=refund
            )
        uow.commit()


@dataclass
class _Item:
    appointment_id: str
    op: str  # upsert | update | delete | done
    body: dict[str, Any]
    sf_id: str | None
    hash: str | None
    #: ServiceAppointment mode: the ServiceResource of the appointment's calendar, and the one we last knew assigned.
    resource: str | None = None
    assigned: str | None = None


def _plan(ctx: SyncContext, uow: UnitOfWork, batch: Claim, org: _Org) -> list[_Item]:
    mapping = ctx.mapping
    rows = uow.appointments.by_ids(batch.appointment_ids)
    links = uow.repo(SfLinks).of_appointments(batch.appointment_ids)
    sf_users = uow.repo(SfUsers)
    owner_of = sf_users.owners_of_calendars({r.calendar_id for r in rows.values()})
    resource_of: dict[str, str] = {}
    if mapping.mode == "service_appointment" and owner_of:
        by_user = sf_users.resources_of(owner_of.values())
        resource_of = {cal: by_user[user].sf_id for cal, user in owner_of.items() if user in by_user}
    given = {
        aid: gid for aid in batch.appointment_ids if aid not in links and (gid := _given_record(rows.get(aid), mapping))
    }
    # a record another appointment is already linked to is not taken over (it is pushed as its own record)
    taken = set(uow.repo(SfLinks).linked_sf_ids(list(given.values())))
    items = []
    for appointment_id in batch.appointment_ids:
        row = rows.get(appointment_id)
        link = links.get(appointment_id)
        sf_id: str | None = link.sf_id if link else given.get(appointment_id)
        if sf_id in taken:
            sf_id = None
        if row is None:
            items.append(_Item(appointment_id, "done", {}, None, None))
            continue
        appointment = appointment_from_row(row)
        busy = is_busy_block(appointment)
        if busy and not mapping.push_busy_blocks and sf_id is None and link is None:
            items.append(_Item(appointment_id, "done", {}, None, None))  # a busy block: not Salesforce's
            continue
        cancelled_delete = row.status == "CANCELLED" and (mapping.cancel_mode == "delete" or busy)
        if row.deleted_at is not None or cancelled_delete or (busy and not mapping.push_busy_blocks):
            items.append(_Item(appointment_id, "delete", {}, sf_id, None))
            continue
        item = _write_item(ctx, uow, row, appointment, sf_id, owner_of.get(row.calendar_id), org)
        item.resource = resource_of.get(row.calendar_id)
        item.assigned = link.owner_sf_id if link else None
        if sf_id is not None and (link is None or link.external_id is None):
            # A record that came from Salesforce: update it by Id, stamping our external id on it.
            item.op, item.body = "update", {"id": sf_id, **item.body}
        items.append(item)
    return items


@dataclass
class _Org:
    """What the push needs to know of the org: Shared Activities, learnt once per run and only when needed."""

    gw: SalesforceGateway
    #: Appointments whose further guests could not be related (no Shared Activities), counted for the run.
    whos_left_out: int = 0

    def shared_activities(self, uow: UnitOfWork) -> bool:
        """Known from this run, else from the last preflight report, else from one describe call."""
        features = relations.org_features(self.gw)
        if "shared_activities" not in features:
            report = uow.repo(SyncState).value(PREFLIGHT_KEY) or {}
            known = report.get("shared_activities")
            if isinstance(known, bool):
                features["shared_activities"] = known
            else:  # no preflight recorded (a job run by hand): one describe call
                fields = self.gw.describe("Event").get("fields") or ()
                features["shared_activities"] = any(f.get("name") == "EventWhoIds" for f in fields)
        return features["shared_activities"]


def _write_item(
    ctx: SyncContext,
    uow: UnitOfWork,
    row: AppointmentRow,
    appointment: Appointment,
    sf_id: str | None,
    owner_sf_id: str | None,
    org: _Org,
) -> _Item:
    """The upsert of ``row``'s current state (every Who guest related where the org can, else the first alone)."""
    mapping = ctx.mapping
    zone = row.calendar.timezone
    shared = False
    if mapping.mode == "event":
        whos = who_ids(appointment)
        known = relations.org_features(org.gw).get("shared_activities")
        shared = org.shared_activities(uow) if len(whos) > 1 or known is not None else False
        if len(whos) > 1 and not shared:
            org.whos_left_out += 1  # kept here as guests; Salesforce holds the first as WhoId
    service = mapping.service_ids(row.calendar_id, row.calendar.team_id) if mapping.mode != "event" else None
    body = salesforce_body(
        appointment,
        mapping,
        owner_sf_id=owner_sf_id,
        creating=sf_id is None,
        zone=zone,
        shared_activities=shared,
        service=service,
    )
    body[mapping.external_id_field] = row.id
    return _Item(row.id, "upsert", body, sf_id, appointment_hash(appointment, mapping, zone))


def _given_record(row: AppointmentRow | None, mapping: SalesforceMapping) -> str | None:
    """The record an appointment posted with ``meta.salesforce.appointment_gid`` names (an id of the mapped
    object): written by Id, so it is linked to and updated, never created a second time."""
    gid = row.sf_appointment_gid if row is not None else None
    prefix = {"Event": "00U", "ServiceAppointment": "08p"}[mapping.sobject]
    return gid if gid and len(gid) in (15, 18) and gid.startswith(prefix) and gid.isalnum() else None


def _assign_resources(
    gw: SalesforceGateway,
    items: list[_Item],
    answers: dict[str, RecordResult],
    transient: dict[str, str],
) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """ServiceAppointment mode: point each written appointment's AssignedResource at its fitter's ServiceResource.

    Looks the appointments' AssignedResources up first (so a retry after a lost answer finds the one
    it made), then creates the missing ones and re-points the others, in sObject Collections calls.
    Returns (appointment id → resource now assigned, per-record errors, transient errors).
    """
    todo: list[tuple[_Item, str]] = []
    for item in items:
        answer = answers.get(item.appointment_id)
        if item.appointment_id in transient or answer is None or not answer.success:
            continue
        sa_id = answer.id or item.sf_id
        if item.resource and sa_id and item.resource != item.assigned:
            todo.append((item, sa_id))
    assigned: dict[str, str] = {}
    errors: dict[str, str] = {}
    failed: dict[str, str] = {}
    if not todo:
        return assigned, errors, failed
    try:
        existing = relations.crews(gw, [sa for _, sa in todo])
        creates: list[tuple[_Item, dict[str, Any]]] = []
        repoints: list[tuple[_Item, dict[str, Any]]] = []
        for item, sa_id in todo:
            crew = existing.get(sa_id, [])
            if not crew:
                creates.append((item, {"ServiceAppointmentId": sa_id, "ServiceResourceId": item.resource}))
            elif crew[0].resource_id != item.resource:
                # Re-point the primary (by the mirror's rule) at the fitter's resource. When the fitter is
                # already in the crew, their assignment takes the old primary's resource: a swap, so the
                # crew stays whole and the fitter's becomes the primary by the same rule.
                repoints.append((item, {"id": crew[0].id, "ServiceResourceId": item.resource}))
                member = next((a for a in crew[1:] if a.resource_id == item.resource), None)
                if member is not None:
                    repoints.append((item, {"id": member.id, "ServiceResourceId": crew[0].resource_id}))
            else:
                assigned[item.appointment_id] = str(item.resource)
        for group, call in ((creates, gw.create_many), (repoints, gw.update_many)):
            for start in range(0, len(group), 200):
                part = group[start : start + 200]
                results = call("AssignedResource", [body for _, body in part])
                for (item, _), res in zip(part, results, strict=True):
                    if res.success:
                        assigned[item.appointment_id] = str(item.resource)
                    else:
                        errors[item.appointment_id] = f"AssignedResource {res.code}: {res.message}"
        for aid in errors:
            assigned.pop(aid, None)
    except (SalesforceTransientError, SalesforcePermanentError) as exc:
        failed = {item.appointment_id: "AssignedResource " + _describe(exc) for item, _ in todo}
        failed = {aid: msg for aid, msg in failed.items() if aid not in assigned and aid not in errors}
    return assigned, errors, failed


@dataclass
class _Sent:
    """What Salesforce answered for one batch, by appointment id."""

    answers: dict[str, RecordResult] = field(default_factory=dict)
    #: The call failed as a whole (timeout, 5xx, ...): retried later.
    transient: dict[str, str] = field(default_factory=dict)
    #: ServiceAppointment mode: resources assigned, refused, or not reached.
    assigned: dict[str, str] = field(default_factory=dict)
    assign_errors: dict[str, str] = field(default_factory=dict)
    assign_failed: dict[str, str] = field(default_factory=dict)


def _push_batch(
    ctx: SyncContext, gw: SalesforceGateway, batch: Claim, result: RunResult, after_call: Callable[[], None] | None
) -> None:
    mapping = ctx.mapping
    org = _Org(gw)
    with ctx.uow_factory() as uow:
        items = _plan(ctx, uow, batch, org)
    if org.whos_left_out:
        result.note(
            f"{org.whos_left_out} appointment(s) with several Contacts/Leads: only the first is related"
            " (the org has no Shared Activities); the others stay guests here"
        )
    sent = _Sent()
    writes = [i for i in items if i.op == "upsert"] + [i for i in items if i.op == "update"]
    _send_writes(gw, mapping, writes, sent)
    _send_deletes(gw, mapping, [i for i in items if i.op == "delete"], sent)
    if mapping.mode == "service_appointment":
        sent.assigned, sent.assign_errors, sent.assign_failed = _assign_resources(
            gw, writes, sent.answers, sent.transient
        )
    if after_call:
        after_call()  # tests: the process "dies" here, between Salesforce's answer and our commit
    with ctx.uow_factory() as uow:
        now = utcnow()
        links = uow.repo(SfLinks).of_appointments(batch.appointment_ids)
        for item in items:
            result.processed += 1
            if _settle_item(ctx, uow, batch, item, sent, result):
                _record_link(uow, mapping, item, sent, links, now, result)
        uow.commit()


def _send_writes(gw: SalesforceGateway, mapping: SalesforceMapping, writes: list[_Item], sent: _Sent) -> None:
    """Upserts (by our external id) and updates (by Salesforce id), one collection call per kind."""
    for kind in ("upsert", "update"):
        group = [i for i in writes if i.op == kind]
        if not group:
            continue
        try:
            if kind == "upsert":
                res = gw.upsert_many(mapping.sobject, mapping.external_id_field, [i.body for i in group])
            else:
                res = gw.update_many(mapping.sobject, [i.body for i in group])
            sent.answers.update({i.appointment_id: r for i, r in zip(group, res, strict=True)})
        except (SalesforceTransientError, SalesforcePermanentError) as exc:
            sent.transient.update({i.appointment_id: _describe(exc) for i in group})


def _send_deletes(gw: SalesforceGateway, mapping: SalesforceMapping, deletes: list[_Item], sent: _Sent) -> None:
    """Deletes by Salesforce id; records never pushed (or whose answer was lost) are found by our external id."""
    if not deletes:
        return
    unknown = [i for i in deletes if i.sf_id is None]
    if unknown:  # never pushed, or the answer was lost: find it by our external id
        try:
            ext = mapping.external_id_field
            template = f"SELECT Id, {ext} FROM {mapping.sobject} WHERE {ext} IN {{}}"  # noqa: S608
            q = soql(template, [i.appointment_id for i in unknown])
            found = {r[mapping.external_id_field]: r["Id"] for r in gw.query(q)}
            for i in unknown:
                i.sf_id = found.get(i.appointment_id)
        except (SalesforceTransientError, SalesforcePermanentError) as exc:
            sent.transient.update({i.appointment_id: _describe(exc) for i in unknown})
    to_delete = [i for i in deletes if i.sf_id and i.appointment_id not in sent.transient]
    for i in deletes:
        if not i.sf_id and i.appointment_id not in sent.transient:
            sent.answers[i.appointment_id] = RecordResult(True, None)
    if to_delete:
        try:
            res = gw.delete_many([str(i.sf_id) for i in to_delete])
            sent.answers.update({i.appointment_id: r for i, r in zip(to_delete, res, strict=True)})
        except (SalesforceTransientError, SalesforcePermanentError) as exc:
            sent.transient.update({i.appointment_id: _describe(exc) for i in to_delete})


def _settle_item(ctx: SyncContext, uow: UnitOfWork, batch: Claim, item: _Item, sent: _Sent, result: RunResult) -> bool:
    """Settle the item's outbox rows by its answer; True when Salesforce took the write (its link is recorded)."""
    aid = item.appointment_id
    if item.op == "done":
        _settle(uow, batch.outbox_ids, aid, "sent")
        return False
    attempts = batch.attempts.get(aid, 1)
    if aid in sent.transient:
        result.failed += 1
        result.note(f"{aid}: {sent.transient[aid]}")
        if attempts >= ctx.max_attempts:
            _settle(uow, batch.outbox_ids, aid, "dead", error=sent.transient[aid])
        else:
            _settle(
                uow, batch.outbox_ids, aid, "pending", error=sent.transient[aid], available_in=ctx.backoff(attempts)
            )
        return False
    answer = sent.answers[aid]
    if not answer.success:
        message = f"{answer.code}: {answer.message}"
        result.failed += 1
        result.note(f"{aid}: {message}")
        if answer.code in {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"}:
            _settle(uow, batch.outbox_ids, aid, "pending", error=message, available_in=ctx.backoff(attempts))
        else:
            _settle(uow, batch.outbox_ids, aid, "dead", error=message)
        return False
    if aid in sent.assign_failed:  # written, but not yet assigned: retried (the upsert is idempotent)
        result.failed += 1
        result.note(f"{aid}: {sent.assign_failed[aid]}")
        state = "dead" if attempts >= ctx.max_attempts else "pending"
        _settle(uow, batch.outbox_ids, aid, state, error=sent.assign_failed[aid], available_in=ctx.backoff(attempts))
    elif aid in sent.assign_errors:
        result.failed += 1
        result.note(f"{aid}: {sent.assign_errors[aid]}")
        _settle(uow, batch.outbox_ids, aid, "dead", error=sent.assign_errors[aid])
    else:
        _settle(uow, batch.outbox_ids, aid, "sent")
    return True


def _record_link(
    uow: UnitOfWork,
    mapping: SalesforceMapping,
    item: _Item,
    sent: _Sent,
    links: dict[str, SfLinkRow],
    now: datetime,
    result: RunResult,
) -> None:
    """The link row of a write Salesforce took: its id, the hash pushed, the assigned owner; counts."""
    aid = item.appointment_id
    answer = sent.answers[aid]
    link = links.get(aid)
    if item.op == "delete":
        result.deleted += 1
        if link is not None:
            link.pushed_at, link.updated_at = now, now
        return
    if link is None:  # the mirror may have linked it meanwhile (our external id came back first)
        link = links[aid] = uow.repo(SfLinks).ensure(aid, mapping.sobject, now)
    if answer.id:
        link.sf_id = answer.id
    link.external_id = aid
    link.pushed_hash, link.pushed_at, link.updated_at = item.hash, now, now
    if aid in sent.assigned:
        link.owner_sf_id, link.unassigned = sent.assigned[aid], False
    if answer.created:
        result.created += 1
    else:
        result.updated += 1
    if answer.id:
        # The Salesforce id becomes meta.salesforce.appointment_gid where none was set.
        uow.appointments.record_sf_appointment_gid(aid, answer.id)


def _describe(exc: SalesforceSyncError) -> str:
    return f"{exc.code or exc.status or type(exc).__name__}: {exc.message}"[:1000]


def retry_dead(uow: UnitOfWork, outbox_ids: list[int] | None = None) -> int:
    """Put dead letters (all, or the given ids) back to ``pending``, attempts reset; returns how many."""
    with uow:
        count = uow.outbox.retry_dead(outbox_ids, utcnow())
        uow.commit()
        return count
