"""A first-come, first-served queue for the write transactions of one process on one SQLite database.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps in steps of up to 100 ms
and tries again. A writer that writes again at once (a client sending PUT after PUT) finds the lock free before
a sleeping writer wakes, so the sleeper can wait for seconds: a reader's short audit write behind another
user's stream of CalDAV PUTs waited 1.4-2.3 s (bench/hostile_bench.py). Queued here instead, each writer is
handed the turn by the one before it, in order, as soon as that one is done.
"""

from __future__ import annotations

import threading
from collections import deque

__all__ = ["WriteQueue"]


class WriteQueue:
    """A lock whose waiters get it in the order they asked, handed over directly on release."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    @property
    def waiting(self) -> int:
        """How many wait for the turn now."""
        return len(self._waiters)

    def acquire(self, timeout: float) -> bool:
        """Wait for the turn at most ``timeout`` seconds; True when it is this caller's (release it then)."""
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True
        with self._mutex:
            if turn in self._waiters:
                self._waiters.remove(turn)
                return False
        return True  # handed over just as the wait ran out: the turn is ours

    def release(self) -> None:
        """Hand the turn to the longest waiter, or free the queue."""
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False
