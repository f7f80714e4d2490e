"""The audit trail's upkeep: reads are staged one row per read (``store/read_audit.py``); this folds them into
``audit_log`` in bulk (the job ``audit-fold-reads``, ``caldav_bridge/jobs/catalog.py``)."""

from __future__ import annotations

from caldav_bridge.store.read_audit import Folded
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["FOLD_ROUNDS", "fold_staged_reads"]

#: One run's transactions at most; each is bounded (``read_audit.FOLD_BATCHES``, ``FOLD_READS``) and releases the
#: write lock before the next, so requests writing in between wait for one of them, never for the whole run.
#: 100 x 2,000 rows a run (every 5 s) keeps up with 40,000 audited appointments a second (the list of 50 under
#: wrk stages up to ~30,000 a second on two workers).
FOLD_ROUNDS = 100


def fold_staged_reads(uow: UnitOfWork, *, rounds: int = FOLD_ROUNDS) -> Folded:
    """Fold the staged reads into ``audit_log``, one bounded transaction after another, until none is left (or
    ``rounds`` transactions ran); what was moved. Safe on several processes at once: a batch is folded once."""
    batches = reads = 0
    for _ in range(rounds):
        with uow:
            folded = uow.audit.fold_staged_reads()
            uow.commit()
        batches += folded.batches
        reads += folded.reads
        if not folded.full():
            break
    return Folded(batches, reads)
