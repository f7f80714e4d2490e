"""Feed test helpers: appointments through the real API, feed tokens, a feed fetched over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer

__all__ = ["FeedWorld", "feed_world", "now_hour"]


def now_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


class FeedWorld:
    """A fitter's calendar with appointments made through the API, and helpers to issue tokens."""

    def __init__(self, live: LiveServer, people: People) -> None:
        self.live = live
        self.people = people
        self.api = live.client(people.fitter.token)
        self.anon = live.client()
        assert people.fitter.calendar_id
        self.calendar_id = people.fitter.calendar_id
        self.now = now_hour()

    def add(self, start: datetime, minutes: int = 60, **overrides: Any) -> dict[str, Any]:
        r = self.api.post(
            "/api/v1/appointments", json=appointment_body(self.calendar_id, start=start, minutes=minutes, **overrides)
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def issue(
        self, name: str = "Google", privacy: str = "minimal", api: Api | None = None, **extra: Any
    ) -> dict[str, Any]:
        r = (api or self.api).post(
            f"/api/v1/calendars/{self.calendar_id}/feeds", json={"name": name, "privacy": privacy, **extra}
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def path(self, issued: dict[str, Any]) -> str:
        return f"/feeds/{issued['secret']}.ics"

    def get(self, issued: dict[str, Any], **headers: str) -> Any:
        return self.anon.get(self.path(issued), headers={"Accept-Encoding": "identity", **headers})


@pytest.fixture
def feed_world(live: LiveServer, people: People) -> Iterator[FeedWorld]:
    yield FeedWorld(live, people)
