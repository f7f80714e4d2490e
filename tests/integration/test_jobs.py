"""The background scheduler on SQLite and PostgreSQL: ticks, claims, catch-up (docs/architecture.md, "Jobs")."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import ExceptionContext

from caldav_bridge.jobs.scheduler import SKIPPED, Job, JobScheduler
from caldav_bridge.jobs.ticks import RETENTION, Daily, Every, claim
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.job_tables import JobTickRow


def _ticks(rt: Runtime, job_id: str) -> list[JobTickRow]:
    with rt.uow() as uow:
        rows = list(
            uow.session.scalars(select(JobTickRow).where(JobTickRow.job_id == job_id).order_by(JobTickRow.tick_at))
        )
        uow.session.expunge_all()
    return rows


def test_interval_ticks_are_whole_multiples_since_the_epoch() -> None:
    every = Every(60)
    at = datetime(2026, 12, 2, 16, 40, 5, tzinfo=UTC)
    assert every.after(at) == datetime(2026, 12, 2, 16, 41, tzinfo=UTC)
    assert every.after(datetime(2026, 12, 2, 16, 41, tzinfo=UTC)) == datetime(2026, 12, 2, 16, 42, tzinfo=UTC)
    assert Every(7).after(datetime(1970, 1, 1, 0, 0, 6, 999999, tzinfo=UTC)) == datetime(
        1970, 1, 1, 0, 0, 7, tzinfo=UTC
    )


def test_daily_ticks_fall_at_their_hour_utc() -> None:
    daily = Daily(3, 17)
    assert daily.after(datetime(2026, 12, 2, 2, 0, tzinfo=UTC)) == datetime(2026, 12, 2, 3, 17, tzinfo=UTC)
    assert daily.after(datetime(2026, 12, 2, 3, 17, tzinfo=UTC)) == datetime(2026, 12, 3, 3, 17, tzinfo=UTC)


def test_a_tick_is_claimed_by_one_scheduler_only(runtime: Runtime) -> None:
    runs: list[str] = []
    tick = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    first = JobScheduler(runtime.uow, [Job("j", Every(60), lambda: runs.append("first"))], holder="a:1")
    second = JobScheduler(runtime.uow, [Job("j", Every(60), lambda: runs.append("second"))], holder="b:2")
    assert first.run_tick(first.jobs[0], tick) == "ok"
    assert second.run_tick(second.jobs[0], tick) is None
    assert second.run_tick(second.jobs[0], tick + timedelta(minutes=1)) == "ok"
    assert runs == ["first", "second"]
    assert [(r.holder, r.outcome) for r in _ticks(runtime, "j")] == [("a:1", "ok"), ("b:2", "ok")]


def test_a_lost_claim_is_no_error_on_the_database(runtime: Runtime) -> None:
    """Two workers claim every tick of every job; the loser's insert must not fail on the server (PostgreSQL logged
    a "duplicate key" ERROR for each, every few seconds) nor leave the tick to anyone but the winner."""
    errors: list[BaseException] = []

    def record(context: ExceptionContext) -> None:
        errors.append(context.original_exception)

    tick = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    event.listen(runtime.engine, "handle_error", record)
    try:
        assert claim(runtime.uow(), "j", tick, "a:1")
        assert not claim(runtime.uow(), "j", tick, "b:2")
        assert not claim(runtime.uow(), "j", tick, "b:2", outcome="missed")
    finally:
        event.remove(runtime.engine, "handle_error", record)
    assert errors == []
    assert [(r.holder, r.outcome) for r in _ticks(runtime, "j")] == [("a:1", "running")]


def test_outcomes_are_recorded_and_old_ticks_forgotten(runtime: Runtime) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    scheduler = JobScheduler(
        runtime.uow,
        [Job("ok", Every(60), lambda: 1), Job("skip", Every(60), lambda: SKIPPED), Job("boom", Every(60), boom)],
        holder="a:1",
    )
    tick = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    assert [scheduler.run_tick(job, tick) for job in scheduler.jobs] == ["ok", "skipped", "failed"]
    later = tick + RETENTION + timedelta(minutes=1)
    assert scheduler.run_tick(scheduler.jobs[0], later) == "ok"
    assert [r.tick_at for r in _ticks(runtime, "ok")] == [later]  # the tick older than the retention is gone
    assert [r.tick_at for r in _ticks(runtime, "boom")] == [tick]  # another job's rows are its own
    with pytest.raises(ValueError, match="unique"):
        JobScheduler(runtime.uow, [Job("x", Every(1), lambda: 1), Job("x", Every(2), lambda: 1)])


def test_schedulers_in_parallel_run_every_tick_exactly_once(runtime: Runtime) -> None:
    """Three schedulers (as three processes would) share one job: each tick runs once, none is lost."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def make(holder: str) -> JobScheduler:
        def run() -> None:
            with lock:
                counts[holder] += 1

        return JobScheduler(runtime.uow, [Job("shared", Every(1), run)], holder=holder)

    schedulers = [make(f"p{i}:{i}") for i in range(3)]
    started = datetime.now(UTC)
    for scheduler in schedulers:
        scheduler.start()
    time.sleep(6.5)
    for scheduler in schedulers:
        scheduler.shutdown()
    rows = _ticks(runtime, "shared")
    ticks = [r.tick_at for r in rows]
    assert len(ticks) >= 4, ticks
    assert ticks[0] <= started + timedelta(seconds=2)
    assert ticks == [ticks[0] + timedelta(seconds=i) for i in range(len(ticks))]  # consecutive: no tick lost
    assert {r.outcome for r in rows} == {"ok"}
    assert sum(counts.values()) == len(ticks)  # each claimed tick ran once, and only claimed ticks ran
    assert Counter(r.holder for r in rows) == counts


def test_a_late_process_catches_up_in_order_and_records_what_it_missed(runtime: Runtime) -> None:
    seen: list[datetime] = []
    now = [datetime(2026, 12, 2, 16, 0, 0, 500000, tzinfo=UTC)]
    gate = threading.Event()

    def run() -> None:
        seen.append(now[0])
        gate.set()

    scheduler = JobScheduler(runtime.uow, [Job("late", Every(1), run)], holder="a:1", catch_up=2, clock=lambda: now[0])
    scheduler.start()
    now[0] += timedelta(seconds=5)  # asleep through five ticks: the two newest run, three are recorded missed
    assert gate.wait(10)
    deadline = time.monotonic() + 10
    while len(_ticks(runtime, "late")) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    scheduler.shutdown()
    rows = _ticks(runtime, "late")
    base = datetime(2026, 12, 2, 16, 0, 1, tzinfo=UTC)
    assert [(r.tick_at, r.outcome) for r in rows] == [
        (base, "missed"),
        (base + timedelta(seconds=1), "missed"),
        (base + timedelta(seconds=2), "missed"),
        (base + timedelta(seconds=3), "ok"),
        (base + timedelta(seconds=4), "ok"),
    ]
    assert len(seen) == 2
