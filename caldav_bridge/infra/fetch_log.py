"""The record of feed and calendar-page fetches, written off the request path.

Every fetch still becomes a ``feed_fetches`` row (and, for patient data shown, ``audit_log`` read
rows), but not in the request's transaction: :meth:`FetchLog.add` appends to a bounded in-process
buffer that a background thread writes in one transaction every ``interval`` seconds (1 s), together
with each token's ``last_used_at``. That takes an INSERT and a COMMIT (the larger part of a 304's
cost) off every request.

What is guaranteed:

* nothing is dropped: when the buffer is full (``capacity`` fetches), the request that finds it
  full writes the buffer itself, synchronously (back-pressure instead of loss);
* a normal stop loses nothing: :meth:`FetchLog.close` (called by ``serve`` on exit, and by
  :meth:`caldav_bridge.runtime.Runtime.close` for every log in the runtime's :class:`FetchLogs`) writes what
  is left; a failed write is retried at the next tick, its rows kept;
* reads of the record through the API see every fetch this process made before them: the endpoints that
  list fetches and tokens flush the runtime's :class:`FetchLogs` first;
* a crash (SIGKILL, power loss, the process dying in C code) loses what was buffered since the last
  write: at most ``interval`` seconds of fetches (and at most ``capacity`` rows). Another instance's
  buffered fetches appear in reads up to ``interval`` seconds late.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from caldav_bridge.store.uow import UnitOfWork

__all__ = ["Fetch", "FetchLog", "FetchLogs"]

log = logging.getLogger("appointments.feeds")


@dataclass(frozen=True)
class Fetch:
    """One fetch as recorded: the ``feed_fetches`` row and the appointments shown with patient data."""

    at: datetime
    token_id: str
    calendar_id: str
    user_agent: str | None
    client_addr: str | None
    status: int
    audit: tuple[dict[str, object], ...] = field(default=())


class FetchLog:
    """A bounded buffer of fetches, written by a background thread every ``interval`` seconds."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], *, interval: float = 1.0, capacity: int = 5000) -> None:
        self._uow_factory = uow_factory
        self.interval = interval
        self.capacity = capacity
        self._pending: list[Fetch] = []
        self._lock = threading.Lock()  # guards _pending
        self._write_lock = threading.Lock()  # one writer at a time, so rows are written in order
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None  # started with the first fetch

    def add(self, fetch: Fetch) -> None:
        with self._lock:
            self._pending.append(fetch)
            full = len(self._pending) >= self.capacity
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="feed-fetch-log", daemon=True)
                self._thread.start()
        if full or self._closed:
            self.flush()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def flush(self) -> None:
        """Write everything buffered now (in the caller's thread); rows stay buffered if the write fails."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                self._write(batch)
            except Exception:
                with self._lock:
                    self._pending[:0] = batch  # kept, in order, for the next attempt
                raise

    def close(self) -> None:
        """Stop the thread and write what is left (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and threading.current_thread() is not thread:
            thread.join(10)
        self.flush()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval)
            try:
                self.flush()
            except Exception:  # logged and retried at the next tick; the rows stay buffered
                log.exception("writing the feed fetch log failed; retrying")

    def _write(self, batch: list[Fetch]) -> None:
        fetches = [
            {
                "at": f.at,
                "token_id": f.token_id,
                "calendar_id": f.calendar_id,
                "user_agent": f.user_agent,
                "client_addr": f.client_addr,
                "status": f.status,
            }
            for f in batch
        ]
        audit = [row for f in batch for row in f.audit]
        last_used: dict[str, datetime] = {}
        for f in batch:
            last_used[f.token_id] = max(f.at, last_used.get(f.token_id, f.at))
        uow = self._uow_factory()
        with uow:
            uow.feeds.insert_fetches(fetches)
            uow.audit.insert_many(audit)
            uow.feeds.mark_used(last_used)
            uow.commit()


class FetchLogs:
    """The fetch logs of one runtime (one per app built on it): flushed before reads, closed with the runtime."""

    def __init__(self) -> None:
        self._logs: list[FetchLog] = []
        self._lock = threading.Lock()

    def add(self, fetch_log: FetchLog) -> FetchLog:
        with self._lock:
            self._logs.append(fetch_log)
        return fetch_log

    def flush(self) -> None:
        """Write the fetches every log still buffers (before reading the record)."""
        with self._lock:
            logs = list(self._logs)
        for fetch_log in logs:
            fetch_log.flush()

    def close(self) -> None:
        """Stop every log's thread and write what it still holds (a failure is logged, the others still close)."""
        with self._lock:
            logs, self._logs = self._logs, []
        for fetch_log in logs:
            try:
                fetch_log.close()
            except Exception:
                log.exception("could not write %d buffered feed fetches", fetch_log.pending())
