"""Errors of the REST API over real HTTP: the status each case deserves, one title per kind, and a
``type`` URL that resolves to a page explaining the problem."""

from __future__ import annotations

import importlib
import json
import pkgutil
from types import ModuleType
from typing import TypeVar

import requests
from markupsafe import escape

import caldav_bridge
from caldav_bridge.errors import DomainError
from feeds.problem_types import GENERIC_BY_STATUS, PROBLEM_TYPES, slug_for
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer

JSON = {"Content-Type": "application/json"}


def _problem(response: requests.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict = response.json()
    assert body["status"] == status
    return body


def test_malformed_json_is_400_naming_the_body(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    cal = people.fitter.calendar_id or ""
    for raw in (b'{"name": ', b"NaN", b"\xff\xfe", b"[" * 2000 + b"]" * 2000):
        body = _problem(api.post("/api/v1/appointments", data=raw, headers=JSON), 400)
        assert body["title"] == "Malformed request body", raw[:10]
        assert body["type"].endswith("/problems/malformed-request-body")
        assert [e["field"] for e in body["errors"]] == ["(body)"]
    # A number past a float's range would be kept as infinity, which is not JSON (stored, it broke every later
    # list of the calendar on SQLite): refused like NaN, and nothing is stored.
    huge = json.dumps(appointment_body(cal, meta={"type": "INITIAL", "loudness": 1})).replace(
        '"loudness": 1', '"loudness": 1e400'
    )
    body = _problem(api.post("/api/v1/appointments", data=huge.encode(), headers=JSON), 400)
    assert "out of range" in body["errors"][0]["message"]
    assert api.get("/api/v1/appointments").json()["items"] == []
    # A well-formed body with a wrong value is still a 422.
    bad = appointment_body(cal, name=42)
    assert _problem(api.post("/api/v1/appointments", json=bad), 422)["title"] == "Invalid request"
    # The other JSON-reading routes too (the OLS channel, imports).
    assert _problem(api.post("/api/v1/import/canonical", data=b"{", headers=JSON), 400)
    ols = live.client(people.fitter.token)
    assert _problem(ols.post("/ols/appointments", data=b"{", headers=JSON), 400)


def test_an_unknown_calendar_id_filter_is_422_naming_it_not_an_empty_list(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    for path in ("/api/v1/appointments", "/api/v1/export/canonical"):
        body = _problem(api.get(path, params={"calendar_id": "no-such-calendar"}), 422)
        assert [e["field"] for e in body["errors"]] == ["calendar_id"], path
        assert "no-such-calendar" in body["errors"][0]["message"]
        # A calendar that exists but this token does not reach answers the same (nothing leaks).
        other = _problem(api.get(path, params={"calendar_id": people.other_fitter.calendar_id}), 422)
        assert [e["field"] for e in other["errors"]] == ["calendar_id"]
        assert api.get(path, params={"calendar_id": people.fitter.calendar_id}).status_code == 200
    admin = live.client(people.admin.token)
    assert admin.get("/api/v1/appointments", params={"calendar_id": people.other_fitter.calendar_id}).ok


def test_one_title_per_kind_whether_the_router_or_the_service_found_it(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    routed = _problem(api.get("/api/v1/no-such-route"), 404)
    missing = _problem(api.get("/api/v1/appointments/00000000-0000-4000-8000-000000000000"), 404)
    assert routed["title"] == missing["title"] == "Not found"
    assert routed["type"] == missing["type"]
    assert _problem(api.delete("/api/v1/appointments"), 405)["title"] == "Method not allowed"
    assert _problem(live.client().get("/api/v1/appointments"), 401)["title"] == "Authentication required"


E = TypeVar("E")


def _subclasses(cls: type[E]) -> list[type[E]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


def _import_all(package: ModuleType) -> None:
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)


def test_every_error_the_service_raises_has_a_catalogued_type_of_the_same_title() -> None:
    _import_all(caldav_bridge)  # every DomainError subclass is defined by now
    for cls in _subclasses(DomainError):
        slug = slug_for(400, cls.title)
        assert PROBLEM_TYPES[slug].title == cls.title, (cls, slug)
    for status, slug in GENERIC_BY_STATUS.items():
        assert PROBLEM_TYPES[slug].status == status


def _fetch_page(url: str) -> str:
    response = requests.get(url, timeout=30)
    assert response.status_code == 200, url
    assert response.headers["Content-Type"].startswith("text/html"), url
    return response.text


def test_every_problem_type_is_a_served_page_explaining_it(live: LiveServer, people: People) -> None:
    index = _fetch_page(live.base_url + "/problems/")
    for slug, problem_type in PROBLEM_TYPES.items():
        page = _fetch_page(f"{live.base_url}/problems/{slug}")
        assert f"<h1>{problem_type.title}</h1>" in page
        assert escape(problem_type.remedy) in page and escape(problem_type.explanation) in page
        assert f'href="/problems/{slug}"' in index
    assert requests.get(live.base_url + "/problems/no-such-problem", timeout=30).status_code == 404


def test_the_type_of_every_problem_received_resolves_on_the_host_asked(live: LiveServer, people: People) -> None:
    api: Api = live.client(people.fitter.token)
    received = [
        _problem(api.post("/api/v1/appointments", data=b"{", headers=JSON), 400),
        _problem(live.client().get("/api/v1/appointments"), 401),
        _problem(api.get("/api/v1/nothing"), 404),
        _problem(api.get("/api/v1/export/nope"), 404),
        _problem(api.put("/api/v1/appointments"), 405),
        _problem(api.post("/api/v1/appointments", json={}), 422),
    ]
    for body in received:
        assert body["type"].startswith(live.base_url + "/problems/"), body
        page = _fetch_page(body["type"])
        assert f"<h1>{body['title']}</h1>" in page
        assert f"HTTP status <strong>{body['status']}</strong>" in page
    # Asked under another name for the same host, the type URL follows the request's host.
    other = live.base_url.replace("127.0.0.1", "localhost")
    body = _problem(requests.get(other + "/api/v1/nothing", timeout=30), 404)
    assert body["type"] == other + "/problems/not-found"
