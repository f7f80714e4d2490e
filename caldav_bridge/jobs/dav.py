"""The CalDAV change-log prune on the APScheduler of :mod:`caldav_bridge.jobs.scheduler`.

CalDAV writes prune their own collection's log (bounded, per write); this job prunes the others
(collections only REST, OLS or the Salesforce mirror change) once an hour. Radicale's
``[storage] max_sync_token_age`` is left at its default in ``feeds.dav``, so the job uses the same
age. Safe on several instances at once (each run takes the storage lock).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.dav.collections import DEFAULT_MAX_TOKEN_AGE, prune_all

__all__ = ["JOB_ID", "add_jobs", "run"]

log = logging.getLogger(__name__)
JOB_ID = "caldav-prune-change-log"
INTERVAL_SECONDS = 3600
_runtime: Any = None


def run(max_age: int = DEFAULT_MAX_TOKEN_AGE) -> int:
    """Prune change logs older than ``max_age`` seconds; returns how many collections were pruned."""
    if _runtime is None:
        log.warning("caldav prune: no runtime in this process; skipped")
        return 0
    with _runtime.uow() as uow:
        count = prune_all(uow.session, utcnow() - timedelta(seconds=max_age))
        uow.commit()
    if count:
        log.info("caldav: change log of %d collection(s) pruned", count)
    return count


def add_jobs(scheduler: Any, rt: Any) -> None:
    global _runtime
    _runtime = rt
    scheduler.add_job(
        "caldav_bridge.jobs.dav:run", "interval", seconds=INTERVAL_SECONDS, id=JOB_ID, replace_existing=True
    )
