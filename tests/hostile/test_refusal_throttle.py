"""A credential whose requests keep being refused gets 429 with Retry-After (feeds/refusal_throttle.py), SQLite and
PostgreSQL: on REST (problem+json) and CalDAV, without touching the store; other users, other credentials and
requests without credentials are not affected. (When a request is back, the Retry-After arithmetic:
tests/unit/test_rate_limit_try_take.py.)
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from config import Settings, load_settings
from tests.caldav.support import event_ics
from tests.conftest import People
from tests.support.cpu import server_cpu
from tests.support.hostile import Door, fingerprint
from tests.support.live import LiveServer

LIMIT = 3  # refusals a minute: one back every 20 s, so the test's timing cannot refill the budget


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        environ={}, database_url=database_url, data_dir=str(tmp_path / "data"), refusal_limit_per_minute=LIMIT
    )


def _malformed(d: Door, token: str | None = None) -> requests.Response:
    return d.api("POST", "/api/v1/appointments", token=token, data=b"{", headers={"Content-Type": "application/json"})


def _week(d: Door, token: str | None = None, calendar_id: str | None = None) -> requests.Response:
    params = {
        "calendar_id": calendar_id or d.people.fitter.calendar_id,
        "from": "2026-12-07T00:00:00Z",
        "to": "2026-12-14T00:00:00Z",
    }
    return d.api("GET", "/api/v1/appointments", token=token, params=params)


def test_refused_requests_in_a_loop_get_429_until_retry_after(live: LiveServer, people: People, door: Door) -> None:
    statuses = [_malformed(door).status_code for _ in range(LIMIT)]
    assert statuses == [400] * LIMIT  # the whole budget: each refusal answered for itself
    before = fingerprint(live.runtime)
    with server_cpu() as spent:
        throttled = [_malformed(door), _week(door)]  # even an ordinary request of that credential waits
    for response in throttled:
        assert response.status_code == 429, response.text[:300]
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith("/problems/too-many-requests") and problem["status"] == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60 // LIMIT
    assert spent.seconds < 0.2, spent.seconds  # answered before routing, authentication or the store
    assert fingerprint(live.runtime) == before

    # other credentials are not throttled: another user, the same fitter's read token, no credentials at all
    assert _week(door, people.other_fitter.token, people.other_fitter.calendar_id).status_code == 200
    assert _week(door, people.fitter.read_token).status_code == 200
    assert requests.get(live.base_url + "/api/v1/appointments", timeout=30).status_code == 401


def test_a_client_ignoring_retry_after_is_slowed_without_holding_the_server(
    live: LiveServer, people: People, door: Door
) -> None:
    """One 429 of a credential at a time is held back (up to a second, costing no CPU); the others at once, so a
    client asking again and again is slowed to one request a second and cannot occupy the server's threads."""
    assert [_malformed(door).status_code for _ in range(LIMIT)] == [400] * LIMIT

    def timed() -> tuple[int, float]:
        began = time.monotonic()
        status = _malformed(door).status_code
        return status, time.monotonic() - began

    one_at_a_time = [timed() for _ in range(2)]
    assert all(status == 429 and took >= 0.8 for status, took in one_at_a_time), one_at_a_time
    with server_cpu() as spent, ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda _: timed(), range(4)))
    assert [status for status, _ in together] == [429] * 4
    assert sum(took < 0.5 for _, took in together) >= 2, together  # not held: one of this credential's already is
    assert spent.seconds < 0.2, spent.seconds
    began = time.monotonic()
    assert _week(door, people.other_fitter.token, people.other_fitter.calendar_id).status_code == 200
    assert time.monotonic() - began < 0.8  # another user waits for nothing meanwhile


def test_caldav_put_refused_in_a_loop_gets_429(live: LiveServer, people: People, door: Door) -> None:
    never = event_ics("never@throttle", extra="RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n")
    assert {door.put(never).status_code for _ in range(LIMIT)} == {403}
    before = fingerprint(live.runtime)
    response = door.put(event_ics("fine@throttle"))  # a good item from the same credential waits too
    assert response.status_code == 429, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/plain")
    assert int(response.headers["Retry-After"]) >= 1
    assert fingerprint(live.runtime) == before
    assert _week(door).status_code == 200  # the fitter's API token is another credential


def test_wrong_credentials_and_not_found_are_not_counted(live: LiveServer, people: People, door: Door) -> None:
    for _ in range(LIMIT + 5):
        assert _week(door, token="not-a-token").status_code == 401  # no principal: never 429
    for _ in range(LIMIT + 5):
        assert door.api("GET", "/api/v1/appointments/does-not-exist").status_code == 404  # an ordinary miss
    assert _week(door).status_code == 200
