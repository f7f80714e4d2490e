"""Shared by the hostile-input suites: the store's fingerprint, a client for every door, a corpus runner."""

from __future__ import annotations

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

__all__ = ["CHANGED_BY_WRITES", "Door", "Request", "failures", "fingerprint"]

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


Request = Callable[[Door], requests.Response]


def failures(live: LiveServer, door: Door, corpus: dict[str, tuple[Request, set[int]]]) -> list[str]:
    """Every case of ``corpus`` tried (one server for all: setting one up costs more than the cases)."""
    failures = []
    for case, (request, expected) in corpus.items():
        before = fingerprint(live.runtime)
        with server_cpu() as spent:
            response = request(door)
        if response.status_code not in expected:
            failures.append(f"{case}: status {response.status_code} {response.text[:200]!r}")
        if spent.seconds >= CPU_BUDGET:
            failures.append(f"{case}: {spent.seconds:.2f} s of CPU")
        if fingerprint(live.runtime) != before:
            failures.append(f"{case}: the store changed")
    return failures
