"""Webhooks end to end: subscribe over the API, change appointments, deliver to a real loopback
receiver; signatures, retries with backoff, giving up, the delivery log, and the CLI job."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time as clock
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import booking
from caldav_bridge.scheduling.requests import InitialBookingRequest
from caldav_bridge.scheduling.rules import Purpose, SchedulingOptions
from caldav_bridge.services.actor import system_actor
from caldav_bridge.webhooks.delivery import WebhookOptions, backoff, deliver_due
from caldav_bridge.webhooks.signing import signature_header, verify
from tests.conftest import People
from tests.scheduling.conftest import World
from tests.support.cli import CLI, in_process
from tests.support.factories import iso
from tests.support.live import Api, LiveServer

NY = ZoneInfo("America/New_York")
OPTIONS = WebhookOptions(
    max_attempts=3,
    backoff=timedelta(seconds=30),
    backoff_max=timedelta(minutes=5),
    timeout=5,
    insecure_hosts=frozenset({"127.0.0.1"}),  # the loopback receiver
)


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answers to give, in order; then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(({k: v for k, v in self.headers.items()}, body))
            status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_signature_round_trip_and_rejections() -> None:
    body = b'{"a":1}'
    header = signature_header("s3cret-s3cret-s3cret", 1_700_000_000, body)
    assert verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_100)
    assert not verify("s3cret-s3cret-s3cret", header, body + b" ", now=1_700_000_100)
    assert not verify("another-secret-value", header, body, now=1_700_000_100)
    assert not verify("s3cret-s3cret-s3cret", header, body, now=1_700_000_000 + 301)
    assert not verify("s3cret-s3cret-s3cret", "garbage", body, now=1_700_000_000)
    assert backoff(1, OPTIONS) == timedelta(seconds=30) and backoff(2, OPTIONS) == timedelta(seconds=60)
    assert backoff(10, OPTIONS) == timedelta(minutes=5)


def _subscribe(api: Api, url: str, **extra: Any) -> dict[str, Any]:
    created = api.post("/api/v1/webhooks", json={"url": url, **extra})
    assert created.status_code == 201, created.text
    return dict(created.json())


def _book(api: Api, world: World, hour: int) -> dict[str, Any]:
    start = datetime.combine(world.day(3), time(hour), tzinfo=NY)
    body = {"calendar_id": world.c1, "date_start": iso(start), "name": "Hooked", "meta": {}}
    created = api.post("/api/v1/bookings/initial", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_events_are_signed_retried_and_logged(
    live: LiveServer, people: People, world: World, runtime: Runtime, receiver: Receiver
) -> None:
    api = live.client(people.admin.token)
    sub = _subscribe(api, receiver.url, description="cockpit")
    assert sub["secret"].startswith("whsec_") and "secret" not in api.get(f"/api/v1/webhooks/{sub['id']}").json()
    booked = _book(api, world, 10)  # the INITIAL and its TECH_SETUP call: two created events
    receiver.statuses = [500]  # the first POST fails
    first = deliver_due(runtime.uow, OPTIONS)
    assert (first.attempted, first.delivered, first.retrying) == (2, 1, 1)
    assert deliver_due(runtime.uow, OPTIONS).attempted == 0  # the retry waits for its backoff
    later = deliver_due(runtime.uow, OPTIONS, now=lambda: utcnow() + timedelta(seconds=31))
    assert (later.attempted, later.delivered) == (1, 1)
    assert len(receiver.received) == 3
    types = set()
    for headers, body in receiver.received:
        assert verify(sub["secret"], headers["Webhook-Signature"], body, now=int(clock.time()))
        assert headers["Webhook-Timestamp"] in headers["Webhook-Signature"]
        event = json.loads(body)
        assert event["id"] == headers["Webhook-Id"] and event["type"] == headers["Webhook-Event"]
        types.add((event["type"], event["data"]["appointment"]["meta"]["type"]))
    assert types == {("appointment.created", "INITIAL"), ("appointment.created", "TECH_SETUP")}
    log = api.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert sorted(d["state"] for d in log) == ["delivered", "delivered"]
    retried = next(d for d in log if d["attempts"] == 2)
    assert [a["status"] for a in retried["log"]] == [500, 200] and retried["last_error"] is None
    # Reschedule and cancel arrive as their own events.
    initial_id = booked["appointment"]["id"]
    moved = api.post(
        f"/api/v1/bookings/{initial_id}/reschedule",
        json={"date_start": iso(datetime.combine(world.day(3), time(11), tzinfo=NY))},
    )
    assert moved.status_code == 200, moved.text
    assert api.post(f"/api/v1/bookings/{initial_id}/cancel", json={"reason": "no"}).status_code == 200
    deliver_due(runtime.uow, OPTIONS)
    kinds = [json.loads(b)["type"] for _, b in receiver.received[3:]]
    assert kinds.count("appointment.rescheduled") == 1 and kinds.count("appointment.cancelled") == 2


def test_a_failing_subscriber_is_given_up_after_max_attempts(
    live: LiveServer, people: People, world: World, runtime: Runtime, receiver: Receiver
) -> None:
    api = live.client(people.admin.token)
    sub = _subscribe(api, receiver.url, events=["appointment.created"])
    start = datetime.combine(world.day(2), time(10), tzinfo=NY)
    plain = {"calendar": {"id": world.f1}, "date_start": iso(start), "date_end": iso(start + timedelta(hours=1))}
    assert (
        api.post("/api/v1/appointments", json={**plain, "name": "x", "meta": {"type": "FOLLOW_UP"}}).status_code == 201
    )
    receiver.statuses = [503, 503, 503, 503]
    moment = utcnow()
    for n in range(OPTIONS.max_attempts):

        def later(n: int = n) -> datetime:
            return moment + timedelta(minutes=10 * n)

        report = deliver_due(runtime.uow, OPTIONS, now=later)
        assert report.attempted == 1
    assert report.failed == 1
    assert deliver_due(runtime.uow, OPTIONS, now=lambda: moment + timedelta(days=1)).attempted == 0
    (delivery,) = api.get(f"/api/v1/webhooks/{sub['id']}/deliveries").json()["items"]
    assert delivery["state"] == "failed" and delivery["attempts"] == 3 and delivery["last_status"] == 503
    assert api.delete(f"/api/v1/webhooks/{sub['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{sub['id']}").status_code == 404


def test_webhooks_need_the_admin_scope_and_a_valid_url(live: LiveServer, people: People) -> None:
    assert live.client(people.dispatcher.token).get("/api/v1/webhooks").status_code == 403
    api = live.client(people.admin.token)
    for url in ("ftp://example.com/x", "http://", "https://exa mple.com/"):
        assert api.post("/api/v1/webhooks", json={"url": url}).status_code == 422
    assert api.post("/api/v1/webhooks", json={"url": "https://example.com/h", "events": ["nope"]}).status_code == 422


def test_cli_delivers_once(
    live: LiveServer, people: People, world: World, runtime: Runtime, receiver: Receiver
) -> None:
    api = live.client(people.admin.token)
    _subscribe(api, receiver.url)
    _book(api, world, 14)
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": runtime.settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": runtime.settings.data_dir,
        "APPOINTMENTS_WEBHOOK_INSECURE_HOSTS": runtime.settings.webhook_insecure_hosts,
    }
    result = subprocess.run(
        [*CLI, "webhooks", "deliver", "--once", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["delivered"] == 2 and len(receiver.received) == 2


def test_scheduler_jobs_deliver_and_expire(
    live: LiveServer, people: People, world: World, runtime: Runtime, receiver: Receiver
) -> None:
    from caldav_bridge.jobs.catalog import build_scheduler

    scheduler = build_scheduler(runtime)  # built, not started: run its jobs by hand
    deliver, expire = scheduler.get_job("webhooks-deliver"), scheduler.get_job("scheduling-expire-holds")
    assert deliver is not None and expire is not None
    api = live.client(people.admin.token)
    _subscribe(api, receiver.url)
    _book(api, world, 15)
    assert deliver.run() == 2
    assert expire.run() == 0
    assert len(receiver.received) == 2


def test_cli_expires_holds_in_process(runtime: Runtime, world: World) -> None:
    start = datetime.combine(world.day(2), time(10), tzinfo=NY)
    request = InitialBookingRequest(calendar_id=world.c1, date_start=start, name="Held", hold=True)
    options = SchedulingOptions(hold=timedelta(minutes=1))
    booking.book(runtime.uow(), system_actor(), Purpose.INITIAL, request, options, now=utcnow() - timedelta(minutes=5))
    env = {
        "APPOINTMENTS_DATABASE_URL": runtime.settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": runtime.settings.data_dir,
    }
    expired = in_process(["scheduling", "expire-holds", "--json"], env)
    assert expired.returncode == 0, expired.stderr
    assert json.loads(expired.stdout) == {"expired": 1}
