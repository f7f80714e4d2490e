"""The write turn among the processes that write one SQLite database file: two lock files next to it.

``WriteQueue`` orders the writers of one process; writers of different processes (``serve --workers N``) met
only in SQLite's busy handler, which sleeps 1, 2, 5, ... 100 ms between tries: a waiter in one process lost
to the other process's steady stream of short writes (an API list's p99 1,160 ms under 8 clients on two
workers, against ~100 ms on one). Here the head of each process's queue takes an exclusive ``flock`` on
``<database>-writer.lock`` before ``BEGIN IMMEDIATE`` and releases it when its transaction ends.

One lock alone would not be fair: a waiter polls it, and the other process's next writer takes it again
microseconds after its last writer let go, long before the poller looks. So a writer first takes
``<database>-writer-next.lock`` (the place next in line), then the writer lock, then gives the place up: whoever
holds the place is the next writer, as every writer of every process passes through it. The place is held only
while its holder waits for the writer lock, so a poller finds it free almost at once, and then waits for at most
the transaction in progress. Polls nap from 0.2 ms, doubling to 2 ms, until the caller's deadline (after it the
writer goes on to SQLite's own wait, as before). A process that dies loses its locks with its files (kernel).

``flock`` belongs to an open file, which a forked child shares with its parent: each process opens the files
itself (a child reopens them on first use). Both files are created 0600, as the database's other files.
"""

from __future__ import annotations

import fcntl
import os
import time
import weakref
from collections.abc import Callable
from pathlib import Path

from caldav_bridge.store.private_files import open_private, private_file

__all__ = ["WriteLock"]

#: The first nap between two polls of a held lock (seconds), doubled after each up to the longest.
_FIRST_NAP = 0.0002
_LONGEST_NAP = 0.002


class WriteLock:
    """The turn to write ``database`` among processes; ``acquire`` it after the process's own turn, ``release``
    it when the transaction ends. The process's writers take turns before (one at a time holds it here)."""

    def __init__(self, database: Path) -> None:
        self.paths = (Path(f"{database}-writer.lock"), Path(f"{database}-writer-next.lock"))
        for path in self.paths:
            private_file(path)
        self._pid = 0
        self._writer = self._next = -1
        self._close: Callable[[], object] | None = None

    def acquire(self, deadline: float) -> bool:
        """Take the turn by ``deadline`` (``time.monotonic()``); True when taken (release it then)."""
        self._open()
        if not _take(self._next, deadline):
            return False
        try:
            return _take(self._writer, deadline)
        finally:
            fcntl.flock(self._next, fcntl.LOCK_UN)

    def release(self) -> None:
        """Give the turn up (the holder of the place next in line takes it)."""
        fcntl.flock(self._writer, fcntl.LOCK_UN)

    def _open(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        if self._close is not None:
            self._close()  # the parent's files (inherited by fork): closing this process's copies unlocks nothing
        self._writer, self._next = (open_private(path, os.O_RDWR | os.O_CREAT) for path in self.paths)
        self._close = weakref.finalize(self, _close_all, self._writer, self._next)
        self._pid = pid


def _take(fd: int, deadline: float) -> bool:
    """An exclusive ``flock`` on ``fd``, polled with growing naps until ``deadline``; True when taken."""
    nap = _FIRST_NAP
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            pass
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        time.sleep(min(nap, left))
        nap = min(nap * 2, _LONGEST_NAP)


def _close_all(*fds: int) -> None:
    for fd in fds:
        os.close(fd)
