"""The audit trail's upkeep: an SQLite file database stages reads one line per read in spool files
(``store/read_spool.py``); this folds them into ``audit_log`` in bulk (the job ``audit-fold-reads``,
``caldav_bridge/jobs/catalog.py``). Elsewhere a read's row is its record (``store/read_audit.py``): nothing to fold."""

from __future__ import annotations

import time

from caldav_bridge.store.read_audit import Folded
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["FOLD_ROUNDS", "FOLD_SECONDS", "fold_staged_reads"]

#: One run's transactions at most; each is bounded (``read_audit.FOLD_BATCHES``, ``FOLD_READS``) and releases the
#: write lock before the next, so requests writing in between wait for one of them, never for the whole run ...
FOLD_ROUNDS = 1000
#: ... and its time: a run ends before the job's next tick (``AUDIT_FOLD_INTERVAL_SECONDS``, 5 s), so runs do not
#: overlap. Within it the fold keeps up with what is staged as fast as the database folds: 100 rounds a run (40,000
#: audited appointments a second) fell behind the list of 50 under load (1,100-1,500 lists a second on two
#: workers), and the reads after the load paid for the catch-up (bench/README.md, sixteenth session).
FOLD_SECONDS = 4.0


def fold_staged_reads(uow: UnitOfWork, *, rounds: int = FOLD_ROUNDS, seconds: float = FOLD_SECONDS) -> Folded:
    """Fold the staged reads into ``audit_log``, one bounded transaction after another, until none is left, or
    ``rounds`` transactions ran, or ``seconds`` passed; what was moved. Safe on several processes at once: a batch
    is folded once."""
    deadline = time.monotonic() + seconds
    moved = Folded(0, 0)
    for _ in range(rounds):
        with uow:
            folded = uow.audit.fold_staged_reads()
            uow.commit()
        moved = moved.plus(folded)
        if not folded.full() or time.monotonic() >= deadline:
            break
    return moved
