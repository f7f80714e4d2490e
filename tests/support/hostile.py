"""Shared by the hostile-input suites (fixed corpus and generated): the store's fingerprint, a client for every
door, one request measured (its server CPU, whether the store changed), a corpus runner."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow, PersonRow
from caldav_bridge.webhooks.tables import WebhookSubscriptionRow
from tests.conftest import People
from tests.support.cpu import CPU_BUDGET, server_cpu
from tests.support.live import LiveServer

__all__ = ["CHANGED_BY_WRITES", "Door", "Request", "Tried", "failures", "fingerprint", "tried"]

CHANGED_BY_WRITES = (AppointmentRow, OutboxRow, DavItemRow, PersonRow, WebhookSubscriptionRow)


def fingerprint(runtime: Runtime) -> tuple[int, ...]:
    """Row counts and the sum of appointment versions: any write changes it (reads only add audit rows)."""
    with runtime.uow() as uow:
        counts = [int(uow.session.scalar(select(func.count()).select_from(t)) or 0) for t in CHANGED_BY_WRITES]
        counts.append(int(uow.session.scalar(select(func.coalesce(func.sum(AppointmentRow.version), 0))) or 0))
        return tuple(counts)


@dataclass
class Door:
    live: LiveServer
    people: People

    @property
    def dav_url(self) -> str:
        return f"{self.live.base_url}/dav/{self.people.fitter.username}/appointments/"

    def put(self, body: str | bytes, href: str | None = None, **headers: str) -> requests.Response:
        return requests.put(
            self.dav_url + (href or f"h-{uuid.uuid4().hex}.ics"),
            data=body,
            headers={"Content-Type": "text/calendar", **headers},
            auth=(self.people.fitter.username, self.people.fitter.password),
            timeout=60,
        )

    def api(self, method: str, path: str, token: str | None = None, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.people.fitter.token}"}
        headers.update(kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return requests.request(method, self.live.base_url + path, headers=headers, timeout=60, **kwargs)  # type: ignore[arg-type]

    def send(
        self,
        method: str,
        path: str,
        body: bytes,
        content_type: str = "application/json",
        token: str | None = None,
        params: dict[str, str] | None = None,
    ) -> requests.Response:
        """``body`` sent as it is (no JSON encoding by requests) to the REST path."""
        return self.api(method, path, token=token, data=body, headers={"Content-Type": content_type}, params=params)

    def dav(self, method: str, body: str, depth: str = "1") -> requests.Response:
        """An XML request (REPORT, PROPFIND) on the fitter's calendar, as the fitter."""
        return requests.request(
            method,
            self.dav_url,
            data=body.encode(),
            headers={"Content-Type": "application/xml", "Depth": depth},
            auth=(self.people.fitter.username, self.people.fitter.password),
            timeout=60,
        )

    def feed_secret(self, name: str) -> str:
        """A new full-privacy feed of the fitter's calendar: its secret (the token of its feed and page)."""
        issued = self.api(
            "POST", f"/api/v1/calendars/{self.people.fitter.calendar_id}/feeds", json={"name": name, "privacy": "full"}
        )
        assert issued.status_code == 201, issued.text
        return str(issued.json()["secret"])


Request = Callable[[Door], requests.Response]


@dataclass(frozen=True)
class Tried:
    """A request's answer, the server CPU it cost and whether it changed the store."""

    response: requests.Response
    cpu_seconds: float
    store_changed: bool

    @property
    def status(self) -> int:
        return self.response.status_code


def tried(live: LiveServer, request: Callable[[], requests.Response]) -> Tried:
    """Send ``request``, measuring the server's CPU and comparing the store's fingerprint before and after."""
    before = fingerprint(live.runtime)
    with server_cpu() as spent:
        response = request()
    return Tried(response, spent.seconds, fingerprint(live.runtime) != before)


def failures(live: LiveServer, door: Door, corpus: dict[str, tuple[Request, set[int]]]) -> list[str]:
    """Every case of ``corpus`` tried (one server for all: setting one up costs more than the cases)."""
    failures = []
    for case, (request, expected) in corpus.items():
        answer = tried(live, functools.partial(request, door))
        if answer.status not in expected:
            failures.append(f"{case}: status {answer.status} {answer.response.text[:200]!r}")
        if answer.cpu_seconds >= CPU_BUDGET:
            failures.append(f"{case}: {answer.cpu_seconds:.2f} s of CPU")
        if answer.store_changed:
            failures.append(f"{case}: the store changed")
    return failures
