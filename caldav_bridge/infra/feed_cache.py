"""Bounded in-process caches of rendered feeds and VEVENTs.

Keys are derived from the data (appointment id and version, rendering options, the feed's ETag),
so a cached value can never be stale: a change makes a new key, and old keys age out (LRU).
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["FeedBody", "FeedCache", "LruCache"]

K = TypeVar("K")
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """A thread-safe LRU map holding at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass(frozen=True)
class FeedBody:
    """A rendered feed and its gzip encoding (compressed once, served many times)."""

    identity: bytes
    gzip: bytes

    @classmethod
    def of(cls, body: bytes) -> FeedBody:
        return cls(body, gzip.compress(body, compresslevel=6, mtime=0))


class FeedCache:
    """Whole feeds by ETag, single VEVENTs by (appointment id, version, rendering options), and the
    (id, version) lists of feed windows by (calendars, last write, number of rows, window minute)."""

    def __init__(self, feeds: int = 256, events: int = 100_000, windows: int = 1024, tokens: int = 4096) -> None:
        self.feeds: LruCache[str, FeedBody] = LruCache(feeds)
        #: (appointment id, version, rendering options, member label on a team calendar) → VEVENT bytes.
        self.events: LruCache[tuple[str, int, str, str | None], bytes] = LruCache(events)
        self.windows: LruCache[tuple[object, ...], list[Any]] = LruCache(windows)
        #: token digest -> (expiry on the monotonic clock, revocation generation, Resolved, calendar ids)
        self.tokens: LruCache[str, tuple[Any, ...]] = LruCache(tokens)
        #: calendar ids -> (expiry on the monotonic clock, write generation, (row count, version sum))
        self.writes: LruCache[tuple[str, ...], tuple[Any, ...]] = LruCache(tokens)
