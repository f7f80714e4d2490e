"""Which calendars' feeds may have changed, shared by every process of a deployment on one host.

A fixed array of 64-bit slots in a memory-mapped file (``data_dir``/``feed-changes-<database>``);
a calendar id hashes (CRC-32, the same in every process) to one slot. The write path's domain events
(after their commit, :func:`caldav_bridge.events.wiring.register_feed_changes`) write a value never
written before into the slots of the calendars they touched; a reader keeps the slots' values with
what it cached and trusts the cache while they are unchanged. Reading a slot is a memory access: no
system call, no lock, no database. Two calendars sharing a slot only cost a spurious re-check.

Processes that do not share the file (another host, another ``data_dir``) and writes that raise no
event (``store/bulk_insert``, SQL by hand) are covered by the readers' time bound instead
(``services/feed_serving.WRITES_TTL``).
"""

from __future__ import annotations

import itertools
import mmap
import os
import secrets
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

from caldav_bridge.store.private_files import open_private, private_dir

__all__ = ["SLOTS", "FeedChanges"]

#: Slots in the file (8 bytes each: 32 KiB).
SLOTS = 4096


class FeedChanges:
    """The slots: in the file at ``path`` (shared with other processes), or private to this process (``None``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._view: memoryview | None = None
        # values this process writes: a random prefix (per process) and a counter, so never written before
        self._prefix = secrets.randbits(31) << 32
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def _slots(self) -> memoryview:
        """The slots, mapped on first use (a runtime that never serves or writes a feed makes no file)."""
        view = self._view
        if view is None:
            with self._lock:
                if self._view is None:
                    self._map = self._open()
                    self._view = memoryview(self._map).cast("Q")
                view = self._view
        return view

    def _open(self) -> mmap.mmap:
        size = SLOTS * 8
        if self.path is None:
            return mmap.mmap(-1, size)
        private_dir(self.path.parent)
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            return mmap.mmap(fd, size)
        finally:
            os.close(fd)

    @staticmethod
    def slot(calendar_id: str) -> int:
        return zlib.crc32(calendar_id.encode()) % SLOTS

    def stamp(self, calendar_ids: Iterable[str]) -> tuple[int, ...]:
        """The current values of the calendars' slots (compare with a stamp taken before to see a change)."""
        slots = self._slots
        return tuple(slots[zlib.crc32(c.encode()) % SLOTS] for c in calendar_ids)

    def changed(self, calendar_ids: Iterable[str]) -> None:
        """Mark the calendars' feeds as changed (in every process that maps the file)."""
        slots = self._slots
        for calendar_id in calendar_ids:
            slots[self.slot(calendar_id)] = self._prefix | (next(self._counter) & 0xFFFFFFFF)
