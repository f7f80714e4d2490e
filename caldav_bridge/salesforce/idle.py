"""An idle mirror tick costs one API call: every object's "anything new?" question in one composite request.

A mirror run reads one query per object (User, Contact, Lead, the appointments, their relations or
assignments; ServiceResource too in service-appointment mode), so a tick with nothing to read used to
cost about a dozen calls. :func:`nothing_changed` asks all of them at once through the Composite API
(``POST composite``, up to 25 subrequests, counted as one call) with ``LIMIT 1``: a record changed since
the last full run began, or within the overlap window before now (a long transaction's late commit), makes the run a
full one, as before. A first run (a watermark missing) or any subrequest error also makes it a full run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.salesforce.gateway import SalesforceGateway, SalesforceSyncError, soql
from caldav_bridge.salesforce.state import SyncState
from caldav_bridge.salesforce.sync_context import SyncContext

__all__ = ["STATE_KEY", "nothing_changed", "record_full_run", "watched_objects"]

#: ``sf_sync_state`` value: when the last full mirror run began.
STATE_KEY = "mirror_full_run"


def watched_objects(ctx: SyncContext) -> list[tuple[str, str, bool]]:
    """(watermark name, object, include deleted) of every query a mirror run starts with."""
    mode, sobject = ctx.mapping.mode, ctx.mapping.sobject
    objects = [("User", "User", False)]
    if mode == "service_appointment":
        objects.append(("ServiceResource", "ServiceResource", False))
    objects += [("Contact", "Contact", False), ("Lead", "Lead", False), (sobject, sobject, True)]
    objects.append(
        ("AssignedResource", "AssignedResource", True) if mode != "event" else ("EventRelation", "EventRelation", True)
    )
    return objects


def nothing_changed(ctx: SyncContext, gw: SalesforceGateway, now: datetime | None = None) -> bool:
    """True when no watched object has a record changed since the last full run began (one API call)."""
    now = now or utcnow()
    with ctx.uow_factory() as uow:
        state = uow.repo(SyncState).value(STATE_KEY)
    if not state or not state.get("started"):
        return False  # no full run yet: read everything
    started = datetime.fromisoformat(str(state["started"]))
    # SystemModstamps have whole seconds; a second more covers a change made as the last run began
    since = min(started, now - ctx.overlap).replace(microsecond=0) - timedelta(seconds=1)
    where = soql("SystemModstamp > {}", since)
    # Object names come from code and settings; the value went through format_soql.
    template = "SELECT Id FROM {} WHERE " + where + " LIMIT 1"  # noqa: S608
    queries = [(template.format(sobject), deleted) for _, sobject, deleted in watched_objects(ctx)]
    try:
        answers = gw.composite_queries(queries)
    except SalesforceSyncError:
        return False
    return all(answer is not None and not answer for answer in answers)


def record_full_run(ctx: SyncContext, started: datetime) -> None:
    """A full mirror run that began at ``started`` has read everything changed until then."""
    with ctx.uow_factory() as uow:
        uow.repo(SyncState).put_value(STATE_KEY, {"started": started.isoformat()})
        uow.commit()
