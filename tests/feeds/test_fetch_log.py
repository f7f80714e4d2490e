"""Every fetch is written to the audit log, also now that it is written off the request path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from caldav_bridge.infra.fetch_log import FetchLog
from caldav_bridge.model.feeds import Privacy
from caldav_bridge.runtime import Runtime
from caldav_bridge.services.feed_serving import Client, fetch_of
from caldav_bridge.services.feed_tokens import Resolved
from caldav_bridge.store.tables import FeedFetchRow
from tests.feeds.conftest import FeedWorld


def _count(rt: Runtime, token_id: str) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).where(FeedFetchRow.token_id == token_id)) or 0)


def test_every_fetch_200_and_304_is_recorded(feed_world: FeedWorld) -> None:
    w = feed_world
    w.add(w.now + timedelta(days=1))
    issued = w.issue()
    etag = w.get(issued).headers["ETag"]
    statuses = [w.get(issued, **{"If-None-Match": etag}).status_code for _ in range(25)]
    assert statuses == [304] * 25
    # the API's list flushes what this process still buffers first: every fetch is in it at once
    listed = w.api.get(f"/api/v1/calendars/{w.calendar_id}/feeds/fetches", params={"limit": 30}).json()["items"]
    assert [f["status"] for f in listed].count(304) == 25
    assert _count(w.live.runtime, issued["token"]["id"]) == 26


def test_the_log_writes_within_its_interval_when_full_and_at_close(runtime: Runtime, feed_world: FeedWorld) -> None:
    issued = feed_world.issue()
    token_id = issued["token"]["id"]
    resolved = Resolved(
        token_id, "Google", Privacy.MINIMAL, None, feed_world.calendar_id, "c", "fitter", "UTC", datetime.now(UTC)
    )
    fetch = fetch_of(resolved, Client("ua", "127.0.0.1"), 304, datetime.now(UTC))
    log = FetchLog(runtime.uow, interval=0.2, capacity=3)
    log.add(fetch)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while _count(runtime, token_id) < 1 and datetime.now(UTC) < deadline:
        pass
    assert _count(runtime, token_id) == 1  # by the background thread
    log.interval = 3600  # from now on only a full buffer or close() writes
    log._wake.set()
    for _ in range(3):
        log.add(fetch)
    assert _count(runtime, token_id) == 4  # full: written by the request that filled it
    log.add(fetch)
    log.close()
    assert _count(runtime, token_id) == 5 and log.pending() == 0


def test_a_failed_write_keeps_the_rows(runtime: Runtime) -> None:
    calls = []

    def broken() -> object:
        calls.append(1)
        raise RuntimeError("database down")

    log = FetchLog(broken, interval=3600)  # type: ignore[arg-type]
    resolved = Resolved("t", "n", Privacy.BUSY, None, "c", "c", "fitter", "UTC", datetime.now(UTC))
    log.add(fetch_of(resolved, Client(), 200, datetime.now(UTC)))
    with pytest.raises(RuntimeError):
        log.flush()
    assert log.pending() == 1 and calls
    log._uow_factory = runtime.uow
    log._closed = True  # nothing else to write; the row would go to an unknown token, so drop it here
    log._pending.clear()
