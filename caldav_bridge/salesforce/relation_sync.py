"""Event mode with Shared Activities: follow EventRelation changes by their own SystemModstamp.

A Who related to (or removed from) an Event through the API, without the Event itself being saved,
changes only an EventRelation row, so the Event pages alone would not see it (as a reassignment
that changes only an AssignedResource). After the Event pages, the mirror reads EventRelation by
its own watermark (``EventRelation``, ``queryAll``, keyset pages); for each linked appointment a
page touches it reads that Event's current Whos again (one query per 200 Events,
:func:`caldav_bridge.salesforce.relations.event_whos`) and updates the guests the same way the
Event pages do. The first run starts at the run's start (its Event pages already read the
relations current then). An org without Shared Activities has no such rows: nothing is read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from caldav_bridge.salesforce import relations
from caldav_bridge.salesforce.gateway import SalesforceGateway, SalesforcePermanentError, soql
from caldav_bridge.salesforce.links import SfLinks
from caldav_bridge.salesforce.mirror_support import (
    RunResult,
    floor_second,
    keyset_pages,
    mark_of,
    merged_guests,
    other_guest_ids,
)
from caldav_bridge.salesforce.state import SyncState
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import appointments as svc
from caldav_bridge.services.appointments import ExternalChange

__all__ = ["mirror_who_relations"]

FIELDS = ["Id", "EventId", "RelationId", "IsInvitee", "IsWhat", "IsDeleted", "SystemModstamp"]


def mirror_who_relations(ctx: SyncContext, gw: SalesforceGateway, result: RunResult, run_started: datetime) -> None:
    """Re-read the Whos of linked Events whose EventRelation rows changed since the watermark."""
    features = relations.org_features(gw)
    if features.get("shared_activities") is False:
        return
    initial = soql("SystemModstamp >= {}", floor_second(run_started - ctx.overlap))
    pages = keyset_pages(ctx, gw, "EventRelation", "EventRelation", FIELDS, include_deleted=True, initial_where=initial)
    try:
        for records in pages:
            _apply(ctx, gw, records, result)
    except SalesforcePermanentError as exc:
        if exc.code not in relations.MISSING_FIELD_CODES:
            raise
        features["shared_activities"] = False  # no IsWhat: the org has no Shared Activities


def _apply(ctx: SyncContext, gw: SalesforceGateway, records: list[dict[str, Any]], result: RunResult) -> None:
    touched = list(
        dict.fromkeys(
            str(r["EventId"])
            for r in records
            if r.get("EventId") and r.get("IsInvitee") is False and r.get("IsWhat") is False
        )
    )
    with ctx.uow_factory() as uow:
        linked = uow.repo(SfLinks).linked_sf_ids(touched)
    whos = relations.event_whos(gw, [str(i) for i in linked]) if linked else {}
    with ctx.uow_factory() as uow:
        if linked and whos is not None:
            links = {str(link.appointment_id): link for link in uow.repo(SfLinks).of_records(linked)}
            pending = uow.outbox.waiting_among(links)
            for row in uow.appointments.by_ids(links).values():
                if row.deleted_at is not None or row.id in pending:
                    continue  # unsent local changes win until they are pushed, as on the Event pages
                customer = row.sf_customer_gid or None
                current = whos.get(str(links[row.id].sf_id), [])
                others = tuple(w for w in current if w != customer)
                if other_guest_ids(row) == sorted(others):
                    continue
                change = ExternalChange(guests=merged_guests(uow, row, customer, others))
                svc.apply_external_change(uow, ctx.actor, row.id, change)
                result.updated += 1
        uow.repo(SyncState).set_watermark("EventRelation", mark_of(records))
        uow.commit()
