"""The APScheduler set-up: explicit job ids, ``replace_existing=True``, a persistent SQLAlchemy job store.

Several instances may run the scheduler at once (``serve`` on each host, or ``appointment-service
worker``): each job takes a database lease first (:func:`caldav_bridge.salesforce.runner.run_job`),
so exactly one instance runs it at a time. The jobs call module-level functions by reference
(``caldav_bridge.jobs.scheduler:run``) so the job store can persist them; the process's sync
context is registered here when the scheduler starts.
"""

from __future__ import annotations

import logging
from typing import Any

from caldav_bridge.salesforce.runner import default_holder, run_job
from caldav_bridge.salesforce.sync_context import SyncContext

__all__ = ["JOB_IDS", "build_scheduler", "run"]

log = logging.getLogger(__name__)
JOB_IDS = {"mirror": "salesforce-mirror", "push": "salesforce-push", "reconcile": "salesforce-reconcile"}
_context: SyncContext | None = None
_holder = default_holder()


def run(job: str) -> None:
    """The scheduled entry point: run ``job`` under its lease (skipped when another instance holds it)."""
    if _context is None:
        log.warning("salesforce %s: no sync context in this process; skipped", job)
        return
    run_job(_context, job, holder=_holder)


def build_scheduler(rt: Any, ctx: SyncContext, *, background: bool = True) -> Any:
    """A scheduler with the three Salesforce jobs in a job store on the service's database."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _context
    _context = ctx
    s = rt.settings
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler = cls(
        jobstores={"default": SQLAlchemyJobStore(engine=rt.engine, tablename="apscheduler_jobs")},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )
    ref = "caldav_bridge.jobs.scheduler:run"
    scheduler.add_job(
        ref,
        "interval",
        seconds=s.sf_mirror_interval_seconds,
        args=["mirror"],
        id=JOB_IDS["mirror"],
        replace_existing=True,
    )
    scheduler.add_job(
        ref, "interval", seconds=s.sf_push_interval_seconds, args=["push"], id=JOB_IDS["push"], replace_existing=True
    )
    scheduler.add_job(
        ref,
        "cron",
        hour=s.sf_reconcile_hour,
        minute=17,
        args=["reconcile"],
        id=JOB_IDS["reconcile"],
        replace_existing=True,
    )
    return scheduler
