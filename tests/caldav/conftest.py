"""Fixtures for CalDAV tests: a python-caldav client for the fitter against the live server."""

from __future__ import annotations

import inspect
from typing import Any

import caldav
import pytest

from tests.conftest import People
from tests.support.live import LiveServer


def client_for(live: LiveServer, username: str, password: str) -> caldav.DAVClient:
    # caldav 1.x (the pinned test extra) has no ``require_tls``; 2.x+ refuses plain http without it.
    extra: dict[str, Any] = (
        {"require_tls": False} if "require_tls" in inspect.signature(caldav.DAVClient).parameters else {}
    )
    client = caldav.DAVClient(url=live.base_url + "/dav/", username=username, password=password, timeout=30, **extra)
    client.session.trust_env = False  # loopback: nothing from the environment (tests/support/live.loopback_session)
    return client


@pytest.fixture
def fitter_dav(live: LiveServer, people: People) -> caldav.DAVClient:
    return client_for(live, people.fitter.username, people.fitter.password)


@pytest.fixture
def fitter_calendar(fitter_dav: caldav.DAVClient) -> caldav.Calendar:
    calendars = fitter_dav.principal().calendars()
    assert len(calendars) == 1
    return calendars[0]
