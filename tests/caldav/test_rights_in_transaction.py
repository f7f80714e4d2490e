"""A rights check that misses its cache in the middle of a request must not wait for the request's own lock.

Regression: Radicale checks rights while it iterates a PROPFIND's items, inside the storage lock. When the
rights cache had expired (a PROPFIND of a large calendar takes longer than its TTL), the lookup opened a
second SQLite transaction, which waited for the write lock its own thread held until the busy timeout, and
the PROPFIND answered 500 (seen in bench/caldav_bench.py at 10k and 100k events).
"""

from __future__ import annotations

import caldav
import pytest
import requests

import storage_plugin.rights
from tests.caldav.support import event_ics
from tests.conftest import People
from tests.support.live import LiveServer

PROPFIND = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'


def test_propfind_with_an_expired_rights_cache_answers(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(3):
        fitter_calendar.save_event(
            event_ics(f"rights-{n}", start=f"2026120{n + 1}T090000", end=f"2026120{n + 1}T100000")
        )
    monkeypatch.setattr(storage_plugin.rights, "_TTL", -1.0)  # every check misses the cache
    url = str(fitter_calendar.url)
    response = requests.request(
        "PROPFIND",
        url,
        data=PROPFIND,
        headers={"Depth": "1"},
        auth=(people.fitter.username, people.fitter.password),
        timeout=15,  # the bug waited for SQLite's 30 s busy timeout, then answered 500
    )
    assert response.status_code == 207, response.text[:300]
    assert response.text.count("getetag>") >= 2 * 3
