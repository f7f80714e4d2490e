"""The background scheduler: every job of this process, each tick run by exactly one process.

Each job runs in its own thread: it sleeps until the job's next tick (:mod:`caldav_bridge.jobs.ticks`),
claims the tick in the database and runs it only if the claim won. Several processes (``serve`` on
each host, ``appointment-service worker``) may run the same jobs at once; each tick still runs exactly
once, by whichever process claims it first. Nothing is shared through a job store: every process builds
its jobs itself (:func:`caldav_bridge.jobs.catalog.build_scheduler`), with the runtime it owns.

A process that wakes late (a long run, a paused machine) runs the ticks it slept through in order, up
to ``catch_up`` of them; older ones are recorded as ``missed`` (unless another process ran them).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from caldav_bridge.clock import utcnow
from caldav_bridge.jobs import ticks
from caldav_bridge.jobs.ticks import Trigger
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["SKIPPED", "Job", "JobScheduler", "default_holder"]

log = logging.getLogger(__name__)

#: What a job's function returns when it declined to run this tick (recorded as ``skipped``).
SKIPPED = object()


@dataclass(frozen=True)
class Job:
    """A job: its id (the ``job_ticks`` key), when it ticks, and what one tick does.

    ``run`` returns :data:`SKIPPED` when it declined the tick, ``False`` when the tick failed in a way
    it already recorded, anything else when it ran; an exception is logged and recorded as ``failed``.
    """

    id: str
    trigger: Trigger
    run: Callable[[], object]


def default_holder() -> str:
    """This process, as named in tick claims and leases: ``host:pid``."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class JobScheduler:
    """Runs ``jobs`` in background threads (:meth:`start`) or in the foreground (:meth:`run_forever`)."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        jobs: Sequence[Job],
        *,
        holder: str | None = None,
        catch_up: int = 5,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        ids = [job.id for job in jobs]
        if len(set(ids)) != len(ids):
            raise ValueError(f"job ids must be unique: {ids}")
        self.uow_factory = uow_factory
        self.jobs = tuple(jobs)
        self.holder = holder or default_holder()
        self.catch_up = catch_up
        self.clock = clock
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def get_job(self, job_id: str) -> Job | None:
        return next((job for job in self.jobs if job.id == job_id), None)

    def start(self) -> None:
        """Start one daemon thread per job; ticks from now on are claimed and run."""
        started = self.clock()
        for job in self.jobs:
            thread = threading.Thread(target=self._loop, args=(job, started), name=f"job:{job.id}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def run_forever(self) -> None:
        """:meth:`start`, then block until :meth:`shutdown` (or ``KeyboardInterrupt``)."""
        self.start()
        try:
            while not self._stop.wait(3600):
                pass
        finally:
            self.shutdown()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop taking ticks; wait up to ``timeout`` seconds for the ticks running now to end."""
        self._stop.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        self._threads.clear()

    def run_tick(self, job: Job, tick: datetime) -> str | None:
        """Claim ``tick`` of ``job`` and run it; its outcome, or None when another process has it."""
        if not ticks.claim(self.uow_factory(), job.id, tick, self.holder):
            return None
        try:
            result = job.run()
        except Exception:  # a failed tick is recorded; the job's next tick runs as usual
            log.exception("job %s: tick %s failed", job.id, tick.isoformat())
            outcome = "failed"
        else:
            outcome = "skipped" if result is SKIPPED else "failed" if result is False else "ok"
        ticks.finish(self.uow_factory(), job.id, tick, outcome)
        log.info("job %s: tick %s %s by %s", job.id, tick.isoformat(), outcome, self.holder)
        return outcome

    def _loop(self, job: Job, started: datetime) -> None:
        last = started
        while True:
            delay = (job.trigger.after(last) - self.clock()).total_seconds()
            if self._stop.wait(max(delay, 0.0)):
                return
            due = self._due(job, last)
            for tick in due:
                if self._stop.is_set():
                    return
                self._run_safely(job, tick)
            if due:
                last = due[-1]

    def _due(self, job: Job, last: datetime) -> list[datetime]:
        """The ticks after ``last`` up to now; all but the newest ``catch_up`` are recorded as missed."""
        now = self.clock()
        due: list[datetime] = []
        tick = job.trigger.after(last)
        while tick <= now:
            due.append(tick)
            tick = job.trigger.after(tick)
        late, due = due[: -self.catch_up], due[-self.catch_up :]
        if late:
            recorded = ticks.missed(self.uow_factory, job.id, late, self.holder)
            log.warning("job %s: %d tick(s) missed while this process was late", job.id, recorded)
        return due

    def _run_safely(self, job: Job, tick: datetime) -> None:
        try:
            self.run_tick(job, tick)
        except Exception:  # the database is away: this tick is lost here, the thread carries on
            log.exception("job %s: tick %s could not be claimed or recorded", job.id, tick.isoformat())
