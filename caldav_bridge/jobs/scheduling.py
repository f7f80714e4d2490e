"""The scheduling jobs on the APScheduler of :mod:`caldav_bridge.jobs.scheduler`: webhook delivery
and hold expiry. Both are safe on several instances at once (deliveries are leased with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL and by SQLite's serialised writers; expired holds likewise),
so they need no job lease. Without a scheduler, run ``appointment-service webhooks deliver`` and
``appointment-service scheduling expire-holds`` (cron, or a worker loop)."""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["JOB_IDS", "add_jobs", "run"]

log = logging.getLogger(__name__)
JOB_IDS = {"webhooks": "webhooks-deliver", "holds": "scheduling-expire-holds"}
WEBHOOK_INTERVAL_SECONDS = 10
HOLD_INTERVAL_SECONDS = 60
_runtime: Any = None


def run(job: str) -> None:
    """The scheduled entry point (by reference, so the job store can persist it)."""
    if _runtime is None:
        log.warning("scheduling %s: no runtime in this process; skipped", job)
        return
    if job == "webhooks":
        from caldav_bridge.webhooks.delivery import WebhookOptions, deliver_due

        report = deliver_due(_runtime.uow, WebhookOptions.from_settings(_runtime.settings))
        if report.attempted:
            log.info("webhooks: %s", report)
    elif job == "holds":
        from caldav_bridge.scheduling.booking import expire_holds

        count = expire_holds(_runtime.uow())
        if count:
            log.info("scheduling: %d hold(s) expired", count)
    else:
        raise ValueError(f"unknown scheduling job {job!r}")


def add_jobs(scheduler: Any, rt: Any) -> None:
    global _runtime
    _runtime = rt
    ref = "caldav_bridge.jobs.scheduling:run"
    scheduler.add_job(
        ref,
        "interval",
        seconds=WEBHOOK_INTERVAL_SECONDS,
        args=["webhooks"],
        id=JOB_IDS["webhooks"],
        replace_existing=True,
    )
    scheduler.add_job(
        ref, "interval", seconds=HOLD_INTERVAL_SECONDS, args=["holds"], id=JOB_IDS["holds"], replace_existing=True
    )
