"""The audit trail's upkeep: reads are staged one row per read (``store/read_audit.py``); this folds them into
``audit_log`` in bulk (the job ``audit-fold-reads``, ``caldav_bridge/jobs/catalog.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable

from caldav_bridge.store.read_audit import Folded
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["FOLD_DUTY", "FOLD_ROUNDS", "FOLD_SECONDS", "fold_staged_reads"]

#: One run's transactions at most; each is bounded (``read_audit.FOLD_BATCHES``, ``FOLD_READS``) and releases the
#: write lock before the next, so requests writing in between wait for one of them, never for the whole run ...
FOLD_ROUNDS = 1000
#: ... and its time: a run ends before the job's next tick (``AUDIT_FOLD_INTERVAL_SECONDS``, 5 s), so runs do not
#: overlap. Within it the fold keeps up with what is staged as fast as the database folds: 100 rounds a run (40,000
#: audited appointments a second) fell behind the list of 50 under load (1,100-1,500 lists a second on two
#: workers), and the reads after the load paid for the catch-up (bench/README.md, sixteenth session).
FOLD_SECONDS = 4.0
#: ... and the share of that time it folds: after each round it rests (at 0.5, as long as the round took), so a
#: burst of reads is not followed by seconds of back-to-back 2,000-row rounds on the cores serving the next
#: requests; the way PostgreSQL's autovacuum paces itself with its cost delay. The work moves after the burst
#: (staged reads are durable, and readers see them: ``read_audit.staged``); at half speed a run still folds about
#: 35,000 reads a second on a slow two-core machine (a round of 2,000 alone: 26-29 ms). bench/README.md has the A/B.
FOLD_DUTY = 0.5


def fold_staged_reads(
    uow: UnitOfWork,
    *,
    rounds: int = FOLD_ROUNDS,
    seconds: float = FOLD_SECONDS,
    duty: float = FOLD_DUTY,
    clock: Callable[[], float] = time.monotonic,
    rest: Callable[[float], None] = time.sleep,
) -> Folded:
    """Fold the staged reads into ``audit_log``, one bounded transaction after another, resting between them
    (``duty``: the share of the time spent folding), until none is left, or ``rounds`` transactions ran, or the
    next would start after ``seconds``; what was moved. Safe on several processes at once: a batch is folded
    once."""
    if not 0 < duty <= 1:
        raise ValueError(f"duty must be in (0, 1], not {duty}")
    deadline = clock() + seconds
    batches = reads = 0
    for _ in range(rounds):
        began = clock()
        with uow:
            folded = uow.audit.fold_staged_reads()
            uow.commit()
        batches += folded.batches
        reads += folded.reads
        ended = clock()
        pause = (ended - began) * (1 - duty) / duty
        if not folded.full() or ended + pause >= deadline:
            break
        if pause > 0:
            rest(pause)
    return Folded(batches, reads)
