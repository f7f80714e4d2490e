"""A per-key token bucket, in process memory (each instance limits on its own)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    #: Seconds until the next request would be allowed (0 when allowed).
    retry_after: float
    #: True for the first refusal after an allowed request (worth recording; repeats are not).
    first_refusal: bool = False


class RateLimiter:
    """``per_minute`` requests per key, in bursts of up to ``per_minute``; at most ``max_keys`` keys kept."""

    def __init__(self, per_minute: int, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (tokens, last refill time, refused since last allowed)
        self._buckets: OrderedDict[str, tuple[float, float, bool]] = OrderedDict()

    def check(self, key: str) -> RateDecision:
        now = self._clock()
        with self._lock:
            tokens, last, refused = self._buckets.pop(key, (self.capacity, now, False))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._store(key, (tokens - 1.0, now, False))
                return RateDecision(True, 0.0)
            self._store(key, (tokens, now, True))
            return RateDecision(False, (1.0 - tokens) / self.rate, first_refusal=not refused)

    def try_take(self, key: str) -> bool:
        """Take one request if ``key`` has one left; if not, change nothing (a later :meth:`check` refuses and
        reports the refusal as it would have)."""
        now = self._clock()
        with self._lock:
            tokens, last, _refused = self._buckets.get(key, (self.capacity, now, False))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                return False
            self._buckets.pop(key, None)
            self._store(key, (tokens - 1.0, now, False))
            return True

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` has a request left (0 when it has one now); changes nothing."""
        now = self._clock()
        with self._lock:
            tokens, last, _refused = self._buckets.get(key, (self.capacity, now, False))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _store(self, key: str, value: tuple[float, float, bool]) -> None:
        self._buckets[key] = value
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
