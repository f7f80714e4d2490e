"""Feeds that cost nothing to poll: a token's last answer held in memory, dropped by the write path's events.

The answers' time bound (``WRITES_TTL``) is raised to an hour here, and the clock the feeds read is pinned
to one instant (a held answer also gives way when the window's minute moves, which a slow run would cross
now and then), so only the events (in this process, or another one through the shared slots) can make a
held answer give way: a 304 after a write would fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, feed_serving
from caldav_bridge.services.actor import MIRROR_CHANNEL, Actor
from tests.caldav.support import dav_session, event_ics, fmt
from tests.feeds.conftest import FeedWorld

pytestmark = pytest.mark.usefixtures("long_ttl")


class PinnedClock:
    """The feeds' clock (``feed_serving.utcnow``), standing still until moved."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> PinnedClock:
    pinned = PinnedClock()
    monkeypatch.setattr(feed_serving, "utcnow", pinned)
    return pinned


@pytest.fixture
def long_ttl(monkeypatch: pytest.MonkeyPatch, clock: PinnedClock) -> None:
    monkeypatch.setattr(feed_serving, "WRITES_TTL", 3600.0)
    monkeypatch.setattr(feed_serving, "TOKEN_TTL", 3600.0)


@pytest.fixture
def selects(runtime: Runtime) -> Iterator[list[str]]:
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(runtime.engine, "before_cursor_execute", on_execute)


def _poll(world: FeedWorld, issued: dict[str, Any], etag: str) -> Any:
    return world.get(issued, **{"If-None-Match": etag})


def test_a_warm_conditional_request_is_answered_without_the_database_or_rendering(
    feed_world: FeedWorld, selects: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed_world.add(feed_world.now + timedelta(days=1))
    issued = feed_world.issue(privacy="full")
    first = feed_world.get(issued)
    assert first.status_code == 200
    etag = first.headers["ETag"]

    def no_rendering(*_args: Any, **_kwargs: Any) -> bytes:
        raise AssertionError("rendered")

    monkeypatch.setattr(feed_serving, "render_feed", no_rendering)
    selects.clear()
    for _ in range(5):
        again = _poll(feed_world, issued, etag)
        assert again.status_code == 304 and again.headers["ETag"] == etag
        whole = feed_world.get(issued)  # unconditional: the held bytes
        assert whole.status_code == 200 and whole.content == first.content
    assert [s for s in selects if "feed_fetches" not in s and "audit_log" not in s] == []

    # the 304 answered before Flask carries what the route's own 304 carries
    slow = feed_world.get(issued, **{"If-Modified-Since": first.headers["Last-Modified"]})  # through Flask
    fast = _poll(feed_world, issued, etag)
    assert slow.status_code == fast.status_code == 304
    same = (
        "ETag",
        "Last-Modified",
        "Cache-Control",
        "Vary",
        "Referrer-Policy",
        "X-Robots-Tag",
        "X-Content-Type-Options",
    )
    assert {h: fast.headers.get(h) for h in same} == {h: slow.headers.get(h) for h in same}
    assert fast.headers["X-Request-ID"] and fast.content == b""


def test_a_held_answer_gives_way_when_the_windows_minute_moves(
    feed_world: FeedWorld, selects: list[str], clock: PinnedClock
) -> None:
    """The window moves once a minute (an appointment may leave or enter it): the held answer is not trusted
    across that, the window is read again; unchanged, it is still a 304 with the same ETag."""
    feed_world.add(feed_world.now + timedelta(days=1))
    issued = feed_world.issue(privacy="full")
    etag, _body = _warm(feed_world, issued)
    selects.clear()
    assert _poll(feed_world, issued, etag).status_code == 304
    assert [s for s in selects if "feed_fetches" not in s and "audit_log" not in s] == []  # the same minute
    clock.now += timedelta(minutes=1)
    again = _poll(feed_world, issued, etag)
    assert again.status_code == 304 and again.headers["ETag"] == etag
    assert [s for s in selects if "appointments" in s], "the window was not read again in the next minute"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "gzip;q=0, identity"])
def test_a_held_200_is_the_routes_200(feed_world: FeedWorld, encoding: str) -> None:
    """The first 200 comes from the Flask route; the next from the held bytes, before Flask: the same answer."""
    feed_world.add(feed_world.now + timedelta(days=1))
    issued = feed_world.issue(privacy="full")
    first, second = (feed_world.get(issued, **{"Accept-Encoding": encoding}) for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second.raw.headers.get("Content-Encoding") == first.raw.headers.get(
        "Content-Encoding"
    )
    skip = {"date", "x-request-id", "server", "connection"}
    assert {k.lower(): v for k, v in first.headers.items() if k.lower() not in skip} == {
        k.lower(): v for k, v in second.headers.items() if k.lower() not in skip
    }


def _changed_after(world: FeedWorld, issued: dict[str, Any], etag: str, before: bytes) -> bytes:
    answer = _poll(world, issued, etag)
    assert answer.status_code == 200, "a held 304 survived a write"
    assert answer.headers["ETag"] != etag and answer.content != before
    return bytes(answer.content)


def _warm(world: FeedWorld, issued: dict[str, Any]) -> tuple[str, bytes]:
    first = world.get(issued)
    etag = first.headers["ETag"]
    assert _poll(world, issued, etag).status_code == 304  # held now
    return etag, bytes(first.content)


def test_a_write_on_any_channel_ends_the_held_304(feed_world: FeedWorld, runtime: Runtime) -> None:
    made = feed_world.add(feed_world.now + timedelta(days=1))
    issued = feed_world.issue(privacy="full")

    etag, body = _warm(feed_world, issued)  # REST
    patched = feed_world.api.patch(f"/api/v1/appointments/{made['id']}", json={"name": "Renamed over REST"})
    assert patched.status_code == 200, patched.text
    assert b"Renamed over REST" in _changed_after(feed_world, issued, etag, body)

    etag, body = _warm(feed_world, issued)  # CalDAV
    people = feed_world.people
    dav = dav_session(people.fitter.username, people.fitter.password)
    start = feed_world.now + timedelta(days=2)
    end = start + timedelta(hours=1)
    ics = event_ics("held@test", summary="Booked over CalDAV", start=fmt(start)[:-1], end=fmt(end)[:-1], tzid=None)
    url = f"{feed_world.live.base_url}/dav/{people.fitter.username}/appointments/held.ics"
    assert dav.put(url, data=ics, timeout=10).status_code == 201
    assert b"Booked over CalDAV" in _changed_after(feed_world, issued, etag, body)

    etag, body = _warm(feed_world, issued)  # the Salesforce mirror's write API
    mirror = Actor(None, "salesforce", "service", frozenset({"write"}), MIRROR_CHANNEL)
    with runtime.uow() as uow:
        now = uow.appointments.get(made["id"])
        assert now is not None
        values = appointments.ExternalValues(
            "Renamed by the mirror", now.description, now.date_start, now.date_end, now.status
        )
        change = appointments.ExternalChange(values=values)
        assert appointments.apply_external_change(uow, mirror, made["id"], change) is not None
        uow.commit()
    assert b"Renamed by the mirror" in _changed_after(feed_world, issued, etag, body)


WRITER = textwrap.dedent(
    """
    import sys
    from caldav_bridge.runtime import Runtime
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor
    from caldav_bridge.model.requests import AppointmentPatch
    from config import load_settings

    settings = load_settings(environ={}, database_url=sys.argv[1], data_dir=sys.argv[2])
    rt = Runtime.from_settings(settings)
    appointments.update(rt.uow(), system_actor(), sys.argv[3], AppointmentPatch(name="Renamed elsewhere"))
    rt.close()
    """
)


def test_a_write_in_another_process_ends_the_held_304(feed_world: FeedWorld, runtime: Runtime) -> None:
    made = feed_world.add(feed_world.now + timedelta(days=1))
    issued = feed_world.issue(privacy="full")
    etag, body = _warm(feed_world, issued)
    settings = runtime.settings
    subprocess.run(
        [sys.executable, "-c", WRITER, settings.resolved_database_url(), settings.data_dir, made["id"]],
        check=True,
        timeout=60,
    )
    assert b"Renamed elsewhere" in _changed_after(feed_world, issued, etag, body)
    assert _poll(feed_world, issued, etag).status_code == 200
