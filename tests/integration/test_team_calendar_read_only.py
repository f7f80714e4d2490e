"""A team calendar is its members' to read and its dispatchers' and admins' to change, on every channel.

CalDAV always refused a member's PUT there (``/dav/_calendars/<team>`` is read-only for members); REST, OLS and the
interchange import let a tech-setup member create, change, cancel and delete the team's appointments, and issue or
revoke its feeds (docs/security.md, "Roles and reach"). Now each answers 403: the member sees the calendar, so its
existence is no secret, and nothing is written. The member's own calendar stays theirs to change.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from caldav_bridge.demo import TEAM
from tests.support.live import Api, LiveServer

pytestmark = pytest.mark.usefixtures("demo")


def _body(calendar_id: str, day: str) -> dict[str, Any]:
    return {
        "calendar": {"id": calendar_id},
        "name": "Planted",
        "date_start": f"{day}T16:00:00Z",
        "date_end": f"{day}T17:00:00Z",
        "meta": {"type": "TECH_SETUP"},
    }


def _refused(response: requests.Response) -> None:
    assert response.status_code == 403, (response.request.method, response.url, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert "read-only" in response.json()["detail"]


def test_a_member_reads_the_team_calendar_and_changes_nothing_in_it(live: LiveServer, demo: dict[str, Any]) -> None:
    users = {u["username"]: u for u in demo["users"]}
    team = next(c["id"] for t in demo["teams"] for c in t["calendars"] if c["name"] == TEAM)
    member: Api = live.client(users["tech.anna"]["token"])
    dispatcher: Api = live.client(users["dispatcher"]["token"])
    made = dispatcher.post("/api/v1/appointments", json=_body(team, "2027-03-02"))
    assert made.status_code == 201, made.text
    appointment = made.json()
    seen = member.get("/api/v1/appointments", params={"calendar_id": team, "limit": 500})
    assert seen.status_code == 200 and appointment["id"] in {a["id"] for a in seen.json()["items"]}
    assert member.get(f"/api/v1/appointments/{appointment['id']}").status_code == 200

    path = f"/api/v1/appointments/{appointment['id']}"
    _refused(member.post("/api/v1/appointments", json=_body(team, "2027-03-03")))
    _refused(member.patch(path, json={"name": "Renamed by a member"}))
    _refused(
        member.post(
            f"{path}/reschedule", json={"date_start": "2027-03-04T16:00:00Z", "date_end": "2027-03-04T17:00:00Z"}
        )
    )
    _refused(member.post(f"{path}/cancel", json={"reason": "member"}))
    _refused(member.delete(path))
    _refused(member.patch(f"/ols/appointments/{appointment['id']}", json={"name": "Renamed over OLS"}))
    _refused(member.delete(f"/ols/appointments/{appointment['id']}"))
    _refused(member.post(f"/api/v1/calendars/{team}/feeds", json={"name": "mine"}))
    imported = member.post(
        "/api/v1/import/canonical", json={"items": [{**_body(team, "2027-03-05"), "id": "member-import-1"}]}
    )
    assert imported.status_code in (200, 403), imported.text
    if imported.status_code == 200:  # per item: refused
        assert [r["status"] for r in imported.json()["results"]] == ["error"], imported.text

    after = dispatcher.get(path).json()
    assert (after["name"], after["status"], after["date_start"]) == (
        appointment["name"],
        appointment["status"],
        appointment["date_start"],
    )
    listed = dispatcher.get("/api/v1/appointments", params={"calendar_id": team, "limit": 500}).json()["items"]
    assert [a["name"] for a in listed].count("Planted") == 1  # the dispatcher's; none of the member's

    own = next(c["id"] for c in users["tech.anna"]["calendars"])
    mine = member.post("/api/v1/appointments", json=_body(own, "2027-03-02"))
    assert mine.status_code == 201, mine.text
    assert member.patch(f"/api/v1/appointments/{mine.json()['id']}", json={"name": "Mine"}).status_code == 200
