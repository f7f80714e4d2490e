"""When a job's ticks fall, and the database claim that gives each tick to exactly one process.

Ticks are wall-clock instants every process computes alike (an interval job ticks at whole multiples
of its interval since the Unix epoch; a daily job at its hour and minute, UTC), so the schedulers of
several ``serve`` processes and workers agree on them. Before running a tick a process inserts its
``job_ticks`` row; the primary key ``(job_id, tick_at)`` lets one insert win, and only the winner runs
the tick. The row then records the outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update

from caldav_bridge.clock import utcnow
from caldav_bridge.store.job_tables import JobTickRow
from caldav_bridge.store.repositories import insert_if_missing
from caldav_bridge.store.uow import SessionRepository, UnitOfWork

__all__ = ["RETENTION", "Daily", "Every", "JobTicks", "Trigger", "claim", "finish", "missed"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Tick rows older than this (counted back from the tick just finished) are deleted.
RETENTION = timedelta(days=2)


@dataclass(frozen=True)
class Every:
    """Every ``seconds`` seconds, at whole multiples since the epoch."""

    seconds: int

    def after(self, moment: datetime) -> datetime:
        """The first tick strictly after ``moment``."""
        elapsed = (moment - EPOCH) // timedelta(seconds=self.seconds)
        return EPOCH + timedelta(seconds=self.seconds * (elapsed + 1))

    def describe(self) -> str:
        return f"every {self.seconds}s"


@dataclass(frozen=True)
class Daily:
    """Once a day at ``hour``:``minute`` UTC."""

    hour: int
    minute: int = 0

    def after(self, moment: datetime) -> datetime:
        tick = moment.astimezone(UTC).replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        return tick if tick > moment else tick + timedelta(days=1)

    def describe(self) -> str:
        return f"daily at {self.hour:02d}:{self.minute:02d} UTC"


Trigger = Every | Daily


class JobTicks(SessionRepository):
    """``uow.repo(JobTicks)``: the ``job_ticks`` rows."""

    def insert(self, job_id: str, tick: datetime, holder: str, outcome: str) -> bool:
        """Insert the tick's row now; False when a row of it exists (another process claimed it). A lost claim is
        no error on the database: with several workers one was logged by PostgreSQL every tick of every job."""
        values = {"job_id": job_id, "tick_at": tick, "holder": holder, "claimed_at": utcnow(), "outcome": outcome}
        return insert_if_missing(self.session, JobTickRow, values)

    def finish(self, job_id: str, tick: datetime, outcome: str, finished_at: datetime) -> None:
        self.session.execute(
            update(JobTickRow)
            .where(JobTickRow.job_id == job_id, JobTickRow.tick_at == tick)
            .values(outcome=outcome, finished_at=finished_at)
        )

    def forget_before(self, job_id: str, cutoff: datetime) -> None:
        self.session.execute(delete(JobTickRow).where(JobTickRow.job_id == job_id, JobTickRow.tick_at < cutoff))


def claim(uow: UnitOfWork, job_id: str, tick: datetime, holder: str, outcome: str = "running") -> bool:
    """Insert the tick's row for ``holder``; False when another process claimed the tick first."""
    with uow:
        if not uow.repo(JobTicks).insert(job_id, tick, holder[:64], outcome):
            return False
        uow.commit()
    return True


def finish(uow: UnitOfWork, job_id: str, tick: datetime, outcome: str) -> None:
    """Record the tick's outcome and forget the job's ticks older than :data:`RETENTION`."""
    with uow:
        ticks = uow.repo(JobTicks)
        ticks.finish(job_id, tick, outcome, utcnow())
        ticks.forget_before(job_id, tick - RETENTION)
        uow.commit()


def missed(uow_factory: Callable[[], UnitOfWork], job_id: str, ticks: list[datetime], holder: str) -> int:
    """Record ``ticks`` as missed unless another process claimed them; how many were recorded."""
    return sum(claim(uow_factory(), job_id, tick, holder, outcome="missed") for tick in ticks)
