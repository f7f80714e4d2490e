"""The reads answered before Flask (``feeds/direct.py``, ``feeds/api/direct_reads.py``) are their views' answers.

Each request goes once through the whole app and once straight to the Flask app below the direct layer, with the
same ``X-Request-ID``: status, headers and bytes must be the same, and a counter at Flask's door says which answers
the direct layer gave. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import AuditRow
from feeds.app import create_app
from feeds.direct import Direct
from tests.conftest import People
from tests.support.audit import audit_trail, refuse_audit_writes
from tests.support.factories import appointment_body

T0 = datetime(2031, 5, 5, 8, 0, tzinfo=UTC)
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass
class Split:
    """The whole app, the Flask app below its direct layer, and the paths that reached Flask."""

    app: Flask
    whole: Client
    view: Client
    entered_flask: list[str]

    def both(self, path: str, token: str | None, method: str = "GET", **headers: str) -> tuple[TestResponse, bool]:
        """The whole app's answer (and whether Flask gave it), checked equal to the view's own answer."""
        sent = {"X-Request-ID": "direct-test-1", **headers}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        before = len(self.entered_flask)
        whole = self.whole.open(path, method=method, headers=sent)
        by_flask = len(self.entered_flask) > before
        view = self.view.open(path, method=method, headers=sent)
        assert (whole.status, whole.data) == (view.status, view.data), path
        assert sorted(whole.headers.items()) == sorted(view.headers.items()), path
        return whole, by_flask


@pytest.fixture
def split(runtime: Runtime) -> Split:
    app = create_app(rt=runtime)
    layer: Any = app.wsgi_app
    while not isinstance(layer, Direct):
        layer = layer.app
    inner: WsgiApp = layer.app
    entered: list[str] = []

    def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        entered.append(environ["PATH_INFO"])
        return inner(environ, start_response)

    layer.app = counting
    return Split(app, Client(app.wsgi_app), Client(inner), entered)


def _create(split: Split, token: str, calendar_id: str, n: int) -> list[dict[str, Any]]:
    made = []
    for i in range(n):
        body = appointment_body(calendar_id, start=T0 + timedelta(hours=3 * i), name=f"Fitting {i}")
        answer = split.whole.post("/api/v1/appointments", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, answer.text
        made.append(_json(answer))
    return made


def _json(answer: TestResponse) -> Any:
    return json.loads(answer.data)


def test_a_direct_read_is_the_views_answer_byte_for_byte(split: Split, people: People) -> None:
    fitter = people.fitter
    assert fitter.calendar_id
    made = _create(split, fitter.token, fitter.calendar_id, 5)
    split.entered_flask.clear()
    one = f"/api/v1/appointments/{made[0]['id']}"
    first, by_flask = split.both(one, fitter.token)
    assert first.status_code == 200 and _json(first) == made[0] and not by_flask
    etag = first.headers["ETag"]
    for condition in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        answer, by_flask = split.both(one, fitter.token, **{"If-None-Match": condition})
        assert answer.status_code == 304 and answer.data == b"" and not by_flask, condition
    changed, by_flask = split.both(one, fitter.token, **{"If-None-Match": '"other"'})
    assert changed.status_code == 200 and not by_flask

    page, by_flask = split.both("/api/v1/appointments?limit=2", people.dispatcher.token)
    assert page.status_code == 200 and not by_flask
    assert [a["id"] for a in _json(page)["items"]] == [a["id"] for a in made[:2]]
    cursor = _json(page)["next_cursor"]
    rest, by_flask = split.both(f"/api/v1/appointments?limit=50&cursor={cursor}", fitter.token)
    assert [a["id"] for a in _json(rest)["items"]] == [a["id"] for a in made[2:]] and not by_flask
    assert _json(rest)["next_cursor"] is None
    window = f"from={(T0 + timedelta(hours=5)).isoformat()}&calendar_id={fitter.calendar_id}&limit=200"
    filtered, by_flask = split.both(f"/api/v1/appointments?{window}".replace("+", "%2B"), fitter.token)
    assert filtered.status_code == 200 and not by_flask
    assert [a["id"] for a in _json(filtered)["items"]] == [a["id"] for a in made[2:]]
    assert split.entered_flask == []


def test_every_other_read_is_the_views_own(split: Split, people: People) -> None:
    """A query on the single read, ``expand``, HEAD, and every error: Flask answers, as it always did."""
    fitter, other = people.fitter, people.other_fitter
    assert fitter.calendar_id and other.calendar_id
    mine = _create(split, fitter.token, fitter.calendar_id, 1)[0]["id"]
    theirs = _create(split, other.token, other.calendar_id, 1)[0]["id"]
    expand = f"from={T0.date()}T00:00:00Z&to={T0.date()}T23:00:00Z&expand=true"
    cases = [
        (f"/api/v1/appointments/{mine}", "not-a-token", "GET", 401),
        (f"/api/v1/appointments/{mine}", None, "GET", 401),
        ("/api/v1/appointments?limit=5", "not-a-token", "GET", 401),
        (f"/api/v1/appointments/{theirs}", fitter.token, "GET", 404),
        ("/api/v1/appointments/no-such-appointment", fitter.token, "GET", 404),
        ("/api/v1/appointments/" + "x" * 65, fitter.token, "GET", 422),
        ("/api/v1/appointments/h%C3%B6rger%C3%A4t", fitter.token, "GET", 404),
        ("/api/v1/appointments/", fitter.token, "GET", 404),
        ("/api/v1/appointments?limit=0", fitter.token, "GET", 422),
        ("/api/v1/appointments?limit=many", fitter.token, "GET", 422),
        (f"/api/v1/appointments/{mine}?format=ical", fitter.token, "GET", 200),
        (f"/api/v1/appointments?{expand}", fitter.token, "GET", 200),
        (f"/api/v1/appointments/{mine}", fitter.token, "HEAD", 200),
        (f"/api/v1/appointments/{mine}/history", fitter.token, "GET", 200),
    ]
    for path, token, method, status in cases:
        answer, by_flask = split.both(path, token, method)
        assert (answer.status_code, by_flask) == (status, True), (path, answer.data[:200])
        if status >= 400:
            assert answer.content_type == "application/problem+json", path


def test_a_read_whose_audit_fails_is_the_views_error(split: Split, people: People, runtime: Runtime) -> None:
    """The direct read cannot stage its audit: nothing of the appointment goes out; Flask answers the 503."""
    fitter = people.fitter
    assert fitter.calendar_id
    made = _create(split, fitter.token, fitter.calendar_id, 1)[0]
    refuse_audit_writes(runtime.engine)
    answer, by_flask = split.both(f"/api/v1/appointments/{made['id']}", fitter.token)
    assert answer.status_code == 503 and by_flask and made["name"].encode() not in answer.data
    page, by_flask = split.both("/api/v1/appointments", fitter.token)
    assert page.status_code == 503 and by_flask and made["name"].encode() not in page.data


def test_a_direct_read_is_audited_counted_and_logged_as_the_views_are(
    split: Split, people: People, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    fitter = people.fitter
    assert fitter.calendar_id
    made = _create(split, fitter.token, fitter.calendar_id, 3)
    metrics = split.app.extensions["metrics"]
    caplog.set_level(logging.INFO, logger="appointments.access")
    caplog.clear()
    paths = (f"/api/v1/appointments/{made[0]['id']}", "/api/v1/appointments?limit=50")
    for path in paths:
        split.both(path, fitter.token)
    lines = [r for r in caplog.records if r.name == "appointments.access"]
    fields = ("request_id", "method", "path", "status", "user")
    direct_lines, view_lines = lines[0::2], lines[1::2]
    assert len(lines) == 4
    for direct, view in zip(direct_lines, view_lines, strict=True):
        assert direct.getMessage() == view.getMessage()
        assert [getattr(direct, f) for f in fields] == [getattr(view, f) for f in fields]
    assert direct_lines[1].getMessage() == "GET /api/v1/appointments?limit=50 200"
    assert [getattr(direct_lines[0], f) for f in ("user", "request_id")] == ["fitter.denver", "direct-test-1"]

    exposition = metrics.exposition().decode()
    for route, count in (("/api/v1/appointments/<id>", 2), ("/api/v1/appointments", 2)):
        line = f'appointments_http_requests_total{{method="GET",route="{route}",status="200"}} {count}.0'
        assert line in exposition, route

    reads = audit_trail(runtime, AuditRow.action == "read", AuditRow.request_id == "direct-test-1")
    # each request twice (direct, then the view): the single read 2 rows, the list 2 x 3
    assert sorted(str(r.appointment_id) for r in reads) == sorted([made[0]["id"]] * 2 + [m["id"] for m in made] * 2)
    assert {r.channel for r in reads} == {"api"} and {r.actor for r in reads} == {"fitter.denver"}
