"""What the job scheduler's processes did: the ticks a job has in a time span, the ticks they logged running
(``job J: tick T ok by H``), the tick claims in ``job_ticks``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from caldav_bridge.jobs.ticks import Every
from caldav_bridge.store.engine import make_engine
from caldav_bridge.store.job_tables import JobTickRow

__all__ = ["claimed_ticks", "expected_ticks", "logged_runs"]


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
