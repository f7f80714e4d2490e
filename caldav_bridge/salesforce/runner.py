"""Run sync jobs under a database lease (exactly one runner per job), and report sync status."""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.salesforce import UNMAPPED_META
from caldav_bridge.salesforce import mirror as mirror_mod
from caldav_bridge.salesforce import push as push_mod
from caldav_bridge.salesforce.feed_urls import publish_feed_urls
from caldav_bridge.salesforce.gateway import SalesforceLimitExceeded, SalesforceSyncError
from caldav_bridge.salesforce.links import SfLinks
from caldav_bridge.salesforce.mirror import RunResult
from caldav_bridge.salesforce.state import SyncState, acquire_lease, finish_run, release_lease, start_run
from caldav_bridge.salesforce.sync_context import Progress, SyncContext
from caldav_bridge.scheduling import mirrored
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["JOBS", "dead_letters", "default_holder", "run_job", "status"]

log = logging.getLogger(__name__)
JOBS = ("mirror", "push", "reconcile")


def _push_and_publish(ctx: SyncContext, gw: Any, progress: Progress | None = None) -> RunResult:
    """The push job: the outbox, then (``sf_feed_url_field`` set) fitters' feed URLs not yet on their records."""
    result = push_mod.push(ctx, gw, progress)
    if ctx.feed_url_field and result.outcome in ("ok", "partial"):
        failed = result.failed
        publish_feed_urls(ctx, gw, result)
        if result.failed > failed and result.outcome == "ok":
            result.outcome = "partial"
    return result


_RUNNERS = {"mirror": mirror_mod.mirror, "push": _push_and_publish, "reconcile": mirror_mod.reconcile}


def default_holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


def run_job(
    ctx: SyncContext,
    job: str,
    *,
    holder: str | None = None,
    progress: Progress | None = None,
    lease: timedelta = timedelta(minutes=15),
) -> RunResult | None:
    """Run ``job`` once if no other worker holds it; ``None`` when another one does."""
    if job not in _RUNNERS:
        raise ValueError(f"unknown job {job!r}")
    if ctx.gate is not None and not ctx.gate.open(ctx):
        log.info("salesforce %s: held until the org passes the preflight (appointment-service sync check)", job)
        return RunResult(job, outcome="held")
    holder = holder or default_holder()
    if not acquire_lease(ctx.uow_factory(), "sf:" + job, holder, lease):
        log.info("salesforce %s: another worker holds the lease; skipped", job)
        return None
    run_id = start_run(ctx.uow_factory(), job, holder)
    gw = ctx.gateway_factory()
    result = RunResult(job)
    try:
        result = _RUNNERS[job](ctx, gw, progress)
    except SalesforceLimitExceeded as exc:
        result.outcome = "limited"
        result.note(f"{exc.code}: {exc.message}")
    except SalesforceSyncError as exc:
        result.outcome = "failed"
        result.note(f"{exc.code or exc.status or type(exc).__name__}: {exc.message}")
    except Exception as exc:  # a job must record its failure, then let the scheduler carry on
        log.exception("salesforce %s failed", job)
        result.outcome = "failed"
        result.note(f"{type(exc).__name__}: {exc}"[:500])
    finally:
        result.api_calls = gw.api_calls
        finish_run(
            ctx.uow_factory(),
            run_id,
            result.outcome,
            processed=result.processed,
            failed=result.failed,
            api_calls=gw.api_calls,
            detail="; ".join(result.errors) or None,
            api_usage=gw.api_usage,
        )
        release_lease(ctx.uow_factory(), "sf:" + job, holder)
    log.info("salesforce %s: %s", job, {k: v for k, v in result.as_dict().items() if k != "errors"})
    return result


def dead_letters(uow: UnitOfWork, limit: int = 100) -> list[dict[str, Any]]:
    with uow:
        rows = uow.outbox.dead(limit)
        return [
            {
                "id": r.id,
                "appointment_id": r.appointment_id,
                "operation": r.operation,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]


def status(uow: UnitOfWork, settings: Any) -> dict[str, Any]:
    """Watermarks and lag, last runs, outbox depth by state, dead letters, API usage."""
    now = utcnow()
    with uow:
        state = uow.repo(SyncState)
        marks = []
        for row in state.watermark_rows():
            marks.append(
                {
                    "object": row.name[3:],
                    "system_modstamp": row.modstamp.isoformat() if row.modstamp else None,
                    "last_id": row.last_id,
                    "lag_seconds": round((now - row.modstamp).total_seconds(), 1) if row.modstamp else None,
                }
            )
        depth = uow.outbox.depth_by_state()
        runs = {}
        for job in JOBS:
            runs[job] = [
                {
                    "id": r.id,
                    "holder": r.holder,
                    "started_at": r.started_at.isoformat(),
                    "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                    "outcome": r.outcome,
                    "processed": r.processed,
                    "failed": r.failed,
                    "api_calls": r.api_calls,
                    "detail": r.detail,
                }
                for r in state.last_runs(job, 3)
            ]
        unassigned = uow.repo(SfLinks).count_unassigned()
        usage = state.value("api_usage")
        unmapped = unmapped_values(uow)
        tech_setup = {"policy": settings.sf_tech_setup_policy, **mirrored.proposals(uow)}
    return {
        "configured": bool(settings.sf_auth),
        "mode": settings.sf_mode,
        "watermarks": marks,
        "last_runs": runs,
        "outbox": {state: depth.get(state, 0) for state in ("pending", "inflight", "sent", "dead")},
        "dead_letters": depth.get("dead", 0),
        "unassigned": unassigned,
        "unmapped": unmapped,
        "tech_setup": tech_setup,
        "api_usage": usage,
    }


def unmapped_values(uow: UnitOfWork) -> dict[str, dict[str, int]]:
    """Live appointments by Salesforce value the mapping does not know: ``{"status": {"On Hold": 2}}``."""
    counts: dict[str, dict[str, int]] = {}
    for extra in uow.appointments.live_meta_mentioning(UNMAPPED_META):
        for field_name, entry in ((extra or {}).get(UNMAPPED_META) or {}).items():
            value = str(entry.get("value")) if isinstance(entry, dict) else str(entry)
            per_field = counts.setdefault(field_name, {})
            per_field[value] = per_field.get(value, 0) + 1
    return counts
