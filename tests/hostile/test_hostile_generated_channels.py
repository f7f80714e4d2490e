"""Hypothesis-generated input on the channels beyond CalDAV, SQLite and PostgreSQL (the fixed corpus of the same
channels: tests/hostile/test_hostile_channels.py).

REST JSON bodies and query parameters, OLS, bookings and the self-booking pages and forms, feed and calendar
page parameters, webhook registration URLs, interchange imports and ``PATCH /api/v1/calendars/{id}``. Bodies
mix the endpoint's own field names with unknown ones, and values from a list of known-bad strings (year zero,
impossible dates, zones that are paths, huge numbers, NULs, SSRF hosts), generated text and nested JSON.

Every request must be answered 2xx or 4xx, never 5xx; REST and OLS refusals as problem+json; within
CPU_BUDGET of the server's CPU; a refused request leaves the store as it was. Example counts are small and
generation is derandomized (the same examples on every run, as CI needs), so the module stays within
about a minute per database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from caldav_bridge.converters import converter_names
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import CalendarRow
from config import Settings, load_settings
from tests.caldav.support import event_ics
from tests.scheduling.conftest import World, build_world
from tests.selfbooking.helpers import team_link
from tests.support.cpu import CPU_BUDGET
from tests.support.hostile import Door, tried
from tests.support.live import LiveServer

GENERATED = settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

BAD_STRINGS = [
    "",
    " ",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-02-30T09:00:00Z",
    "2026-12-01T09:00:00+25:00",
    "2026-12-01",
    "20261201T090000",
    "-1",
    "1e309",
    "NaN",
    "99999999999999999999999",
    "\x00",
    "a\x00b",
    "../../etc/passwd",
    "Mars/Base",
    "%" * 200,
    "x" * 5000,
    "\u202e" * 40,
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "FOLLOW_UP",
    "INITIAL",
    "CANCELLED",
    "full",
    "busy",
    "https://169.254.169.254/latest/meta-data/",
    "ast_" + "A" * 43,
]
STRINGS = st.one_of(st.sampled_from(BAD_STRINGS), st.text(max_size=30))
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    STRINGS,
)
JSON = st.recursive(
    LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(STRINGS, inner, max_size=4), max_leaves=12
)


def bodies(fields: list[str]) -> st.SearchStrategy[Any]:
    """Mostly an object of the endpoint's fields (and an unknown one now and then), sometimes any JSON at all."""
    names = st.one_of(st.sampled_from(fields), st.text(min_size=1, max_size=12))
    return st.one_of(st.dictionaries(names, JSON, max_size=len(fields) + 1), JSON)


def queries(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.one_of(st.sampled_from(names), st.text(min_size=1, max_size=12)), STRINGS, max_size=6)


def ids(known: list[str]) -> st.SearchStrategy[str]:
    printable = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#")
    generated = st.text(printable, min_size=1, max_size=40)
    return st.one_of(st.sampled_from(known), generated, st.sampled_from(["%2e%2e", "0", "-1", "x" * 300]))


def sent(
    live: LiveServer, request: Callable[[], requests.Response], problem_json: bool = True, page: bool = False
) -> requests.Response:
    """Send ``request``: 2xx or 4xx (or a redirect, for a ``page``) within the budget; a refusal is problem+json
    (``problem_json``) and changes nothing."""
    answer = tried(live, request)
    response, status = answer.response, answer.status
    assert 200 <= status < 500 and (page or not 300 <= status < 400), (status, response.text[:300])
    assert answer.cpu_seconds < CPU_BUDGET, answer.cpu_seconds
    if status >= 400:
        if problem_json:
            assert response.headers.get("Content-Type", "").startswith("application/problem+json"), response.headers
            assert response.json()["status"] == status
        assert not answer.store_changed, (status, response.text[:300])
    return response


def _json(door: Door, method: str, path: str, body: Any, token: str | None = None) -> requests.Response:
    return door.send(method, path, json.dumps(body, allow_nan=False).encode(), token=token)


@pytest.fixture(name="settings")  # named like the shared fixture it replaces (hypothesis' settings is imported)
def shipped_settings(database_url: str, tmp_path: Path) -> Settings:
    """The shipped defaults (no webhook host allowed over http, unlike the shared test settings), the refusal
    limit lifted so that each request gets its own answer."""
    return load_settings(
        environ={}, database_url=database_url, data_dir=str(tmp_path / "data"), refusal_limit_per_minute=1_000_000
    )


@pytest.fixture
def appointment_id(door: Door) -> str:
    body = {
        "calendar": {"id": door.people.fitter.calendar_id},
        "date_start": "2026-12-01T16:00:00Z",
        "date_end": "2026-12-01T17:00:00Z",
        "name": "Fitting",
        "meta": {"type": "FOLLOW_UP"},
        "guests": [{"id": "hostile-guest", "first_name": "Jane", "last_name": "Doe"}],
    }
    response = door.api("POST", "/api/v1/appointments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


# --------------------------------------------------------------------------- REST bodies and query parameters

APPOINTMENT = ["calendar", "date_start", "date_end", "name", "description", "guests", "meta", "status"]
REST_BODIES = [
    ("POST", "/api/v1/appointments", APPOINTMENT),
    ("PATCH", "/api/v1/appointments/{appointment}", APPOINTMENT),
    ("POST", "/api/v1/appointments/{appointment}/reschedule", ["date_start", "date_end", "reason"]),
    ("POST", "/api/v1/appointments/{appointment}/cancel", ["reason"]),
    (
        "POST",
        "/api/v1/appointments/{appointment}/follow-ups",
        ["date_start", "date_end", "calendar", "name", "description", "allow_overlap"],
    ),
    ("POST", "/api/v1/calendars/{calendar}/availability-exceptions", ["date", "hours", "reason"]),
    (
        "PUT",
        "/api/v1/calendars/{calendar}/availability-rules",
        ["weekly_hours", "breaks", "durations", "buffer_before_minutes", "min_notice_minutes", "slot_step_minutes"],
    ),
    ("POST", "/api/v1/calendars/{calendar}/feeds", ["name", "privacy", "alarm_minutes"]),
]


@GENERATED
@given(data=st.data())
def test_generated_rest_bodies(live: LiveServer, door: Door, appointment_id: str, data: st.DataObject) -> None:
    method, template, fields = data.draw(st.sampled_from(REST_BODIES))
    path = template.format(appointment=appointment_id, calendar=door.people.fitter.calendar_id)
    body = data.draw(bodies(fields))
    sent(live, lambda: _json(door, method, path, body))


LIST = ["calendar_id", "guest_id", "opportunity_gid", "type", "status", "kind", "from", "to", "updated_since"]
REST_QUERIES = [
    ("/api/v1/appointments", [*LIST, "limit", "cursor", "expand"]),
    ("/api/v1/availability", ["calendar_id", "team_id", "type", "from", "to", "timezone"]),
    ("/api/v1/export/ols", [*LIST, "limit", "cursor"]),
    ("/api/v1/calendars/{calendar}/appointments.ics", ["from", "to"]),
    ("/api/v1/calendars/{calendar}/feeds/fetches", ["limit"]),
    ("/api/v1/appointments/{appointment}", ["format"]),
    ("/api/v1/appointments/{appointment}/history", ["limit", "cursor"]),
]


@GENERATED
@given(data=st.data())
def test_generated_rest_query_parameters(
    live: LiveServer, door: Door, appointment_id: str, data: st.DataObject
) -> None:
    template, names = data.draw(st.sampled_from(REST_QUERIES))
    path = template.format(appointment=appointment_id, calendar=door.people.fitter.calendar_id)
    params = data.draw(queries(names))
    sent(live, lambda: door.api("GET", path, params=params))


CALENDAR_PATCH = st.one_of(
    st.fixed_dictionaries({"name": st.one_of(STRINGS, JSON)}), bodies(["name", "kind", "timezone", "owner_username"])
)


def _calendar_names(rt: Runtime) -> dict[str, str]:
    with rt.uow() as uow:
        return {row.id: row.name for row in uow.session.scalars(select(CalendarRow))}


@GENERATED
@given(data=st.data())
def test_generated_calendar_renames(live: LiveServer, door: Door, data: st.DataObject) -> None:
    people = door.people
    calendar = data.draw(ids([str(people.fitter.calendar_id), str(people.other_fitter.calendar_id)]))
    body = data.draw(CALENDAR_PATCH)
    names = _calendar_names(live.runtime)
    response = sent(live, lambda: _json(door, "PATCH", f"/api/v1/calendars/{calendar}", body))
    if response.status_code >= 400:
        assert _calendar_names(live.runtime) == names  # the fingerprint does not cover calendars' names
    if calendar == people.other_fitter.calendar_id:
        assert response.status_code >= 400, response.text[:300]  # never another fitter's calendar


# --------------------------------------------------------------------------- OLS

OLS_FIELDS = ["appointment_gid", "customer_gid", "opportunity_gid", "date_v2", "date", "type", "status"]
OLS_FIELDS += ["calendar_id", "name", "date_end"]
OLS_QUERY = ["opportunity_gid", "customer_gid", "appointment_gid", "status", "type", "updated_since", "limit", "cursor"]


@GENERATED
@given(data=st.data())
def test_generated_ols(live: LiveServer, door: Door, appointment_id: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["create", "replace", "patch", "list", "opportunity"]))
    if kind in ("list", "opportunity"):
        params = data.draw(queries(OLS_QUERY))
        path = "/ols/appointments" if kind == "list" else f"/ols/opportunities/{data.draw(ids(['006A']))}/appointments"
        sent(live, lambda: door.api("GET", path, params=params))
        return
    body = data.draw(bodies(OLS_FIELDS))
    if kind == "create":
        sent(live, lambda: _json(door, "POST", "/ols/appointments", body))
        return
    target = data.draw(ids([appointment_id]))
    sent(live, lambda: _json(door, "PUT" if kind == "replace" else "PATCH", f"/ols/appointments/{target}", body))


# --------------------------------------------------------------------------- bookings and self-booking


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


BOOKING = ["date_start", "date_end", "calendar_id", "team_id", "name", "description", "guests", "meta", "hold"]


@GENERATED
@given(data=st.data())
def test_generated_bookings(
    live: LiveServer, door: Door, world: World, appointment_id: str, data: st.DataObject
) -> None:
    token = door.people.dispatcher.token
    kind = data.draw(st.sampled_from(["initial", "fitting", "follow-up", "tech-setup", "reschedule", "cancel", "link"]))
    known = {"team_id": world.consultants, "calendar_id": world.f1, "appointment_id": appointment_id}
    fields = [*BOOKING, "tech_setup_team_id", "appointment_id", "mode", "move_tech_setup", "reason", "purpose"]
    body = data.draw(bodies(fields))
    if isinstance(body, dict) and data.draw(st.booleans()):  # real ids now and then, so validation goes deeper
        body.update({k: v for k, v in known.items() if k in body})
    if kind in ("initial", "fitting", "follow-up"):
        path = f"/api/v1/bookings/{kind}"
    elif kind == "link":
        path = "/api/v1/booking-links"
    else:
        path = f"/api/v1/bookings/{data.draw(ids([appointment_id]))}/{kind}"
    sent(live, lambda: _json(door, "POST", path, body, token=token))


PAGES = ["/book/{}", "/book/{}/hold", "/book/{}/confirm", "/manage/{}", "/manage/{}/cancel"]
FORM_FIELDS = ["start", "tz", "lang", "week", "first_name", "last_name", "email", "phone", "consent", "hold"]


@pytest.fixture
def link(runtime: Runtime, world: World) -> str:
    return team_link(runtime, world)


@GENERATED
@given(data=st.data())
def test_generated_self_booking_pages_and_forms(live: LiveServer, link: str, data: st.DataObject) -> None:
    secret = data.draw(st.sampled_from([link, "nope", "%00", "t" * 300]))
    page = data.draw(st.sampled_from(PAGES))
    url = live.base_url + page.format(secret)
    fields = data.draw(queries(FORM_FIELDS))
    if page.endswith("}"):
        sent(live, lambda: requests.get(url, params=fields, timeout=60), problem_json=False, page=True)
    else:
        send = lambda: requests.post(url, data=fields, timeout=60, allow_redirects=False)  # noqa: E731
        sent(live, send, problem_json=False, page=True)


# --------------------------------------------------------------------------- feeds and the calendar page

FEED_PARAMS = ["from", "to", "past_days", "week", "date", "view", "tz", "lang", "privacy", "alarm"]


@pytest.fixture
def feed(door: Door) -> str:
    secret = door.feed_secret("Gen")
    assert door.put(event_ics("secondly@feed", extra="RRULE:FREQ=SECONDLY\r\n")).status_code == 201
    return secret


@GENERATED
@given(data=st.data())
def test_generated_feed_and_page_parameters(live: LiveServer, feed: str, data: st.DataObject) -> None:
    secret = data.draw(st.sampled_from([feed, "nope", "%00%ff", "f" * 300]))
    page = data.draw(st.sampled_from(["/feeds/{}.ics", "/calendar/{}", "/calendar/{}.json"]))
    params = data.draw(queries(FEED_PARAMS))
    url = live.base_url + page.format(secret)
    sent(live, lambda: requests.get(url, params=params, timeout=60), problem_json=False, page=True)


# --------------------------------------------------------------------------- webhook registration URLs

HOSTS = [
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.01",
    "127.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[fe80::1]",
    "169.254.169.254",
    "metadata.google.internal",
    "localhost",
    "10.0.0.1",
    "192.168.0.1",
    "0.0.0.0",
    "example.org",
    "example.org.",
    "xn--e1afmkfd.example",
]


@st.composite
def webhook_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["https", "http", "ftp", "file", "gopher", "javascript", "HTTPS", ""]))
    user = draw(st.sampled_from(["", "u:p@", "user@", "@", "a%40b:c@"]))
    host = draw(st.one_of(st.sampled_from(HOSTS), st.text(min_size=1, max_size=20)))
    port = draw(st.sampled_from(["", ":443", ":0", ":65536", ":99999", ":-1", ":x"]))
    path = draw(st.one_of(st.just("/hook"), st.text(max_size=20)))
    return f"{scheme}://{user}{host}{port}{path}" if scheme else f"{user}{host}{port}{path}"


@GENERATED
@given(url=webhook_urls(), extra=bodies(["events", "description", "secret", "privacy"]))
def test_generated_webhook_registrations(live: LiveServer, door: Door, url: str, extra: Any) -> None:
    body = {**extra, "url": url} if isinstance(extra, dict) else {"url": url}
    response = sent(live, lambda: _json(door, "POST", "/api/v1/webhooks", body, token=door.people.admin.token))
    if response.status_code < 300:
        assert url.lower().startswith("https://") and not any(h in url for h in HOSTS[:14]), url


# --------------------------------------------------------------------------- interchange imports

ICAL_LINES = st.sampled_from(
    [
        "DTSTART:00000101",
        "DTSTART;TZID=../../etc/passwd:20261201T090000",
        "DTEND:19000101T000000Z",
        "RRULE:FREQ=SECONDLY",
        "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "DURATION:P9999W",
        "ATTENDEE;X-GUEST-ID=someone-else:urn:x-guest:someone-else",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "X-APPOINTMENT-TYPE:" + "A" * 300,
    ]
)


RECORD_FIELDS = ["id", "start", "end", "start_time", "end_time", "name", "status", "type"]


@st.composite
def import_bodies(draw: st.DrawFn, fmt: str) -> tuple[bytes, str]:
    if fmt in ("ical", "ics"):
        lines = draw(st.lists(ICAL_LINES, max_size=6))
        text = event_ics(f"{uuid.uuid4()}@import", extra="".join(line + "\r\n" for line in lines))
        return text.encode(), "text/calendar"
    records = draw(st.lists(bodies(RECORD_FIELDS), max_size=5))
    return json.dumps(records if draw(st.booleans()) else records[:1] or {}).encode(), "application/json"


@GENERATED
@given(data=st.data())
def test_generated_imports(live: LiveServer, door: Door, data: st.DataObject) -> None:
    fmt = data.draw(st.one_of(st.sampled_from(converter_names()), st.sampled_from(["x", "%2e%2e", "ols" * 20])))
    body, content_type = data.draw(import_bodies(fmt))
    params = {"atomic": "true", **data.draw(queries(["dry_run", "calendar_id", "from", "to"]))}
    sent(live, lambda: door.send("POST", f"/api/v1/import/{fmt}", body, content_type, params=params))
