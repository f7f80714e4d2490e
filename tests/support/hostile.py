"""Shared by the hostile-input suites (fixed corpus and generated): the store's fingerprint, a client for every
door, one request measured (its server CPU, whether the store changed), a corpus runner.

Every measured request can be reported: when the environment variable HOSTILE_COSTS names a file, ``tried`` (and
so ``failures``) and ``record`` append one JSON line per request to it (the test, the database, the case, the CPU
seconds, the status). bench/hostile_costs.py runs the suites that way and prints the cases sorted by CPU.
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import icalendar
import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.dav_tables import DavItemRow
from caldav_bridge.store.tables import AppointmentRow, OutboxRow, PersonRow
from caldav_bridge.webhooks.tables import WebhookSubscriptionRow
from tests.conftest import People
from tests.support.cpu import CPU_BUDGET, least_server_cpu
from tests.support.live import LiveServer, loopback

__all__ = [
    "CHANGED_BY_WRITES",
    "COSTS_FILE",
    "Door",
    "Request",
    "Tried",
    "count_parses",
    "failures",
    "fingerprint",
    "record",
    "tried",
]

#: The environment variable naming the file the measured requests are reported to (unset: no report).
COSTS_FILE = "HOSTILE_COSTS"

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
        return loopback(
            "PUT",
            self.dav_url + (href or f"h-{uuid.uuid4().hex}.ics"),
            data=body,
            headers={"Content-Type": "text/calendar", **headers},
            auth=(self.people.fitter.username, self.people.fitter.password),
            timeout=60,
        )

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.people.fitter.token}"}
        headers.update(kwargs.pop("headers", {}))
        return loopback(method, self.live.base_url + path, headers=headers, timeout=60, **kwargs)

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
        return loopback(
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


def record(database: str, case: str, seconds: float, status: int, kind: str) -> None:
    """Report one measured request to the file HOSTILE_COSTS names, if it is set. ``kind``: "case" (of a fixed
    corpus), "example" (one of a generated test's) or "cli" (a CLI import run in-process: its own CPU, no start-up)."""
    path = os.environ.get(COSTS_FILE)
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    line = {"test": test, "database": database, "case": case, "seconds": seconds, "status": status, "kind": kind}
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def _described(response: requests.Response) -> str:
    """A generated request in a line: its method, path and query (cut short) and the size of its body."""
    sent = response.request
    body = sent.body or b""
    return f"{sent.method} {(sent.path_url or '')[:100]} ({len(body)} bytes)"


def tried(
    live: LiveServer, request: Callable[[], requests.Response], case: str | None = None, kind: str = "example"
) -> Tried:
    """Send ``request``, measuring the server's CPU (over the budget: the lesser of two sends) and comparing the
    store's fingerprint before and after.
    ``case`` names it in the report (HOSTILE_COSTS; by default the request's method, path and size), ``kind``
    says what it is there (``record``)."""
    before = fingerprint(live.runtime)
    response, seconds = least_server_cpu(request)
    answer = Tried(response, seconds, fingerprint(live.runtime) != before)
    record(live.runtime.engine.dialect.name, case or _described(response), answer.cpu_seconds, answer.status, kind)
    return answer


def failures(live: LiveServer, door: Door, corpus: dict[str, tuple[Request, set[int]]]) -> list[str]:
    """Every case of ``corpus`` tried (one server for all: setting one up costs more than the cases)."""
    failures = []
    for case, (request, expected) in corpus.items():
        answer = tried(live, functools.partial(request, door), case, kind="case")
        if answer.status not in expected:
            failures.append(f"{case}: status {answer.status} {answer.response.text[:200]!r}")
        if answer.cpu_seconds >= CPU_BUDGET:
            failures.append(f"{case}: {answer.cpu_seconds:.2f} s of CPU")
        if answer.store_changed:
            failures.append(f"{case}: the store changed")
    return failures


def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on (the test's end) every icalendar parse of a whole text appends to the list returned: what a
    refusal "before any parse" must leave empty."""
    parses: list[int] = []
    parse = icalendar.Calendar.from_ical

    def counted(*args: Any, **kwargs: Any) -> Any:
        parses.append(1)
        return parse(*args, **kwargs)

    monkeypatch.setattr(icalendar.Calendar, "from_ical", staticmethod(counted))
    return parses
