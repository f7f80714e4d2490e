"""What the job scheduler's processes did: the ticks a job has in a time span, the ticks they logged running
(``job J: tick T ok by H``), the tick claims in ``job_ticks``."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from caldav_bridge.jobs.ticks import Every
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.job_tables import JobTickRow

__all__ = ["claimed_ticks", "expected_ticks", "logged_runs", "wait_ticks_ended"]


def expected_ticks(interval_seconds: int, start: datetime, end: datetime) -> list[datetime]:
    """The ticks of a job run every ``interval_seconds`` in ``(start, end]``."""
    trigger, ticks = Every(interval_seconds), []
    tick = trigger.after(start)
    while tick <= end:
        ticks.append(tick)
        tick = trigger.after(tick)
    return ticks


def logged_runs(lines: Iterable[str]) -> Counter[tuple[str, str]]:
    """(job, tick) → how many of ``lines`` log running it (``job J: tick T ok by H``)."""
    runs: Counter[tuple[str, str]] = Counter()
    for line in lines:
        if "job " in line and ": tick " in line and " by " in line:
            words = line[line.index("job ") :].split()
            runs[(words[1].rstrip(":"), words[3])] += 1
    return runs


def claimed_ticks(database_url: str) -> dict[tuple[str, datetime], tuple[str, str]]:
    """Every claimed tick in the database: (job, tick) → (holder, outcome)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            t = JobTickRow
            rows = connection.execute(select(t.job_id, t.tick_at, t.holder, t.outcome))
            return {(job, tick): (holder, outcome) for job, tick, holder, outcome in rows}
    finally:
        engine.dispose()


def wait_ticks_ended(database_url: str, until: datetime, timeout: float = 20) -> None:
    """Until no tick at or before ``until`` is still claimed as running (a job of a loaded machine may take a while
    to finish its tick), so that killing a process afterwards cannot cut one short. ``AssertionError`` after
    ``timeout`` seconds names the ticks still running."""
    deadline = time.monotonic() + timeout
    while True:
        claims = claimed_ticks(database_url).items()
        running = sorted(key for key, (_holder, outcome) in claims if outcome == "running" and key[1] <= until)
        if not running:
            return
        assert time.monotonic() < deadline, f"ticks still running after {timeout:.0f} s: {running}"
        time.sleep(0.1)
