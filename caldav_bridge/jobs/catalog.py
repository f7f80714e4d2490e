"""Every background job, and the one function that builds the scheduler with them.

``serve`` and ``appointment-service worker`` both call :func:`build_scheduler`, so a worker runs
everything ``serve`` would, and any mix of them on one database runs each tick of each job exactly once
(:mod:`caldav_bridge.jobs.scheduler`). The jobs:

============================  ==============================  ==========================================
job id                        when                            what
============================  ==============================  ==========================================
``salesforce-mirror``         ``sf_mirror_interval_seconds``  Salesforce → store (when configured)
``salesforce-push``           ``sf_push_interval_seconds``    outbox → Salesforce (when configured)
``salesforce-reconcile``      daily at ``sf_reconcile_hour``  the mirrored window's ids (when configured)
``webhooks-deliver``          ``webhook_delivery_interval``   due webhook deliveries
``scheduling-expire-holds``   ``hold_expiry_interval``        holds past their time give their slot back
``caldav-prune-change-log``   ``dav_prune_interval``          CalDAV change logs past the token age
``audit-fold-reads``          every 5 s                       spooled reads' audit → ``audit_log`` (SQLite)
``appointments-encode``       every 300 s                     stored JSON copies missing or old
``messages-deliver``          every 15 s                      the customer-message outbox (self-booking)
``booking-reminders``         every 300 s                     queue the reminders that are due
``salesforce-booking-links``  ``sf_push_interval_seconds``    personal links' URLs → Opportunities (when set)
============================  ==============================  ==========================================

A feature adds its jobs as one more provider in :data:`PROVIDERS`: a function from the runtime to the
jobs it adds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta

from caldav_bridge.clock import utcnow
from caldav_bridge.dav.collections import DEFAULT_MAX_TOKEN_AGE
from caldav_bridge.dav.repository import DavRows
from caldav_bridge.jobs.scheduler import SKIPPED, Job, JobScheduler, default_holder
from caldav_bridge.jobs.ticks import Daily, Every
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.gateway import SalesforceSyncError
from caldav_bridge.salesforce.mirror import RunResult
from caldav_bridge.salesforce.preflight import PreflightGate
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.scheduling.booking import expire_holds
from caldav_bridge.selfbooking import jobs as selfbooking_jobs
from caldav_bridge.selfbooking import sf_links
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.services.audit_trail import fold_staged_reads
from caldav_bridge.store.encoded_copies import STALE_BATCH
from caldav_bridge.webhooks.delivery import WebhookOptions, deliver_due

__all__ = [
    "AUDIT_FOLD_INTERVAL_SECONDS",
    "ENCODE_INTERVAL_SECONDS",
    "PROVIDERS",
    "build_scheduler",
    "core_jobs",
    "customer_message_jobs",
    "fold_read_audit",
    "jobs_of",
    "salesforce_jobs",
    "write_encoded_copies",
]

log = logging.getLogger(__name__)

SALESFORCE_JOB_IDS = {"mirror": "salesforce-mirror", "push": "salesforce-push", "reconcile": "salesforce-reconcile"}


def salesforce_jobs(rt: Runtime, ctx: SyncContext, holder: str) -> list[Job]:
    """Mirror, push and the nightly reconcile; each run also holds the job's Salesforce lease."""
    s = rt.settings

    def runner(job: str) -> Callable[[], object]:
        def run() -> object:
            result: RunResult | None = run_job(ctx, job, holder=holder)
            if result is None:
                return SKIPPED
            return result.outcome not in {"failed", "limited"}

        return run

    jobs = [
        Job(SALESFORCE_JOB_IDS["mirror"], Every(s.sf_mirror_interval_seconds), runner("mirror")),
        Job(SALESFORCE_JOB_IDS["push"], Every(s.sf_push_interval_seconds), runner("push")),
        Job(SALESFORCE_JOB_IDS["reconcile"], Daily(s.sf_reconcile_hour, 17), runner("reconcile")),
    ]
    if s.sf_booking_link_field:
        jobs.append(
            Job("salesforce-booking-links", Every(s.sf_push_interval_seconds), lambda: publish_booking_links(rt, ctx))
        )
    return jobs


def publish_booking_links(rt: Runtime, ctx: SyncContext) -> bool:
    """Self-booking: personal links' URLs to their Opportunities (``sf_booking_link_field``)."""
    s = rt.settings
    try:
        report = sf_links.publish_booking_links(
            rt.uow,
            ctx.gateway_factory(),
            field_name=s.sf_booking_link_field,
            public_url=s.public_url,
            key=service_key(s),
        )
    except SalesforceSyncError as exc:  # tried again next tick: nothing was recorded as written
        log.warning("salesforce booking links: %s", exc)
        return False
    for note in report.notes:
        log.warning("salesforce booking links: %s", note)
    if report.written:
        log.info("salesforce booking links: %d written", report.written)
    return report.failed == 0


def deliver_webhooks(rt: Runtime) -> int:
    report = deliver_due(rt.uow, WebhookOptions.from_settings(rt.settings))
    if report.attempted:
        log.info("webhooks: %s", report)
    return report.attempted


def expire_due_holds(rt: Runtime) -> int:
    count = expire_holds(rt.uow())
    if count:
        log.info("scheduling: %d hold(s) expired", count)
    return count


def prune_change_logs(rt: Runtime, max_age: int = DEFAULT_MAX_TOKEN_AGE) -> int:
    """Prune CalDAV change logs older than ``max_age`` seconds; how many collections were pruned.

    CalDAV writes prune their own collection's log; this prunes the collections only REST, OLS or the
    mirror change. Safe on several processes at once (each run takes the storage lock).
    """
    with rt.uow() as uow:
        count = uow.repo(DavRows).prune_all(utcnow() - timedelta(seconds=max_age))
        uow.commit()
    if count:
        log.info("caldav: change log of %d collection(s) pruned", count)
    return count


#: How often the reads' audit staged in spool files (an SQLite file database) is folded into ``audit_log``
#: (``docs/architecture.md``, "Reads and their audit"); elsewhere reads are kept as rows and a run finds nothing.
AUDIT_FOLD_INTERVAL_SECONDS = 5


def fold_read_audit(rt: Runtime) -> int:
    """Fold the reads staged since the last run into ``audit_log``; how many rows that made."""
    folded = fold_staged_reads(rt.uow())
    if folded.batches:
        log.debug("audit: %d read(s) folded into %d audit_log row(s)", folded.batches, folded.reads)
    return folded.reads


#: How often the appointments whose stored JSON copy is missing or old get theirs (``store/encoded_copies.py``): every
#: write stores its own, so this finds rows from before migration 0016, rows written past the service, and every
#: row once after a release changes the encoding.
ENCODE_INTERVAL_SECONDS = 300
#: A run writes at most this many batches of copies (each its own short transaction: SQLite's write lock is held
#: a few milliseconds at a time); the next run goes on.
ENCODE_BATCHES_PER_RUN = 40


def write_encoded_copies(rt: Runtime) -> int:
    """Write the stored JSON copies still missing or old, batch by batch; how many were written."""
    written = 0
    for _ in range(ENCODE_BATCHES_PER_RUN):
        with rt.uow().reading() as uow:  # the scan holds no write lock; the write recomputes from the rows
            ids = uow.appointments.stale_encoded(STALE_BATCH)
        if not ids:
            break
        with rt.uow() as uow:
            written += uow.appointments.write_encoded(ids)
            uow.commit()
        if len(ids) < STALE_BATCH:
            break
    if written:
        log.info("appointments: %d stored JSON copies written", written)
    return written


def core_jobs(rt: Runtime) -> list[Job]:
    """The jobs every deployment runs: webhook delivery, hold expiry, CalDAV change-log pruning, the reads' audit
    fold, the appointments' stored JSON copies."""
    s = rt.settings
    return [
        Job("webhooks-deliver", Every(s.webhook_delivery_interval_seconds), lambda: deliver_webhooks(rt)),
        Job("scheduling-expire-holds", Every(s.hold_expiry_interval_seconds), lambda: expire_due_holds(rt)),
        Job("caldav-prune-change-log", Every(s.dav_prune_interval_seconds), lambda: prune_change_logs(rt)),
        Job("audit-fold-reads", Every(AUDIT_FOLD_INTERVAL_SECONDS), lambda: fold_read_audit(rt)),
        Job("appointments-encode", Every(ENCODE_INTERVAL_SECONDS), lambda: write_encoded_copies(rt)),
    ]


def customer_message_jobs(rt: Runtime) -> list[Job]:
    """Self-booking: deliver the customer-message outbox, queue the reminders that are due."""
    s = rt.settings
    return [
        Job(
            "messages-deliver",
            Every(selfbooking_jobs.DELIVER_INTERVAL_SECONDS),
            lambda: selfbooking_jobs.deliver_messages(s, rt.uow).attempted,
        ),
        Job(
            "booking-reminders",
            Every(selfbooking_jobs.REMIND_INTERVAL_SECONDS),
            lambda: selfbooking_jobs.remind(s, rt.uow),
        ),
    ]


#: Where jobs come from, besides Salesforce's: each provider gives the jobs of one feature.
PROVIDERS: tuple[Callable[[Runtime], Iterable[Job]], ...] = (core_jobs, customer_message_jobs)


def jobs_of(rt: Runtime, *, salesforce: SyncContext | None = None, holder: str, extra: Sequence[Job] = ()) -> list[Job]:
    """Every job this runtime runs: Salesforce's when ``salesforce`` is given, every provider's, ``extra``."""
    jobs = salesforce_jobs(rt, salesforce, holder) if salesforce is not None else []
    for provider in PROVIDERS:
        jobs.extend(provider(rt))
    jobs.extend(extra)
    return jobs


def build_scheduler(
    rt: Runtime,
    *,
    session_factory: Callable[[], object] | None = None,
    extra: Sequence[Job] = (),
    holder: str | None = None,
) -> JobScheduler:
    """The scheduler with every job (Salesforce's when it is configured); not started.

    ``session_factory`` makes the Salesforce gateway's ``requests.Session`` (``serve --salesforce-emulator``).
    """
    holder = holder or default_holder()
    sync = SyncContext.from_runtime(rt, session_factory) if rt.settings.salesforce_configured() else None
    if sync is not None:  # the sync jobs stay off until the org passes the preflight (checked at their first tick)
        sync.gate = PreflightGate()
    return JobScheduler(rt.uow, jobs_of(rt, salesforce=sync, holder=holder, extra=extra), holder=holder)
