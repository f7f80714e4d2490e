"""The OLS inbox calendar: created once, and only for valid requests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from caldav_bridge.store.tables import CalendarRow
from tests.conftest import People
from tests.support.live import LiveServer

VALID = {"date_v2": "2026-12-01T10:00:00.000Z", "type": "HEARING AID EVALUATION", "opportunity_gid": "006X"}


def _inboxes(live: LiveServer) -> int:
    with live.runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).where(CalendarRow.name == "OLS inbox")) or 0)


def test_an_invalid_post_creates_no_inbox(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    response = api.post("/ols/appointments", json={**VALID, "date_end": "2026-12-01T09:00:00.000Z"})
    assert response.status_code == 422
    assert _inboxes(live) == 0


def test_concurrent_first_posts_share_one_inbox(live: LiveServer, people: People) -> None:
    def post(_: int) -> tuple[int, str]:
        response = live.client(people.dispatcher.token).post("/ols/appointments", json=VALID)
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=5) as pool:
        results = list(pool.map(post, range(5)))
    assert [status for status, _ in results] == [201] * 5, results
    assert _inboxes(live) == 1
