"""A team's feed and page name the member each appointment belongs to, as far as the privacy level allows:
the name at ``full``, the first name (with an initial where two members share it) at ``minimal``, nobody at
``busy``. The feed is read by a parser (icalendar); the page in real headless Chromium (a label and a colour
per member, never colour alone; axe-core clean). Real HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from tests.conftest import People
from tests.support.browser import chromium
from tests.support.live import LiveServer
from tests.support.screenshots import keep

DENVER = ZoneInfo("America/Denver")
AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium()


def _team(live: LiveServer, people: People) -> dict[str, Any]:
    """A team of three (two Annas), a customer appointment each for Anna Fischer and Ben, a busy block for Anna Berg."""
    admin = live.client(people.admin.token)
    team = admin.post("/api/v1/calendars", json={"name": "Fitters North", "kind": "team", "timezone": "America/Denver"})
    assert team.status_code == 201, team.text
    members = {}
    for name in ("Anna Fischer", "Ben Okafor", "Anna Berg"):
        created = admin.post(
            "/api/v1/calendars",
            json={"name": name, "kind": "fitter", "timezone": "America/Denver", "team_id": team.json()["id"]},
        )
        assert created.status_code == 201, created.text
        members[name] = created.json()["id"]
    today = datetime.now(DENVER).replace(hour=0, minute=0, second=0, microsecond=0)
    tuesday = today - timedelta(days=today.weekday()) + timedelta(days=8)

    def add(member: str, hour: int, name: str, **extra: Any) -> str:
        start = (tuesday + timedelta(hours=hour)).astimezone(UTC)
        body = {
            "calendar": {"id": members[member]},
            "date_start": start.isoformat(),
            "date_end": (start + timedelta(hours=1)).isoformat(),
            "name": name,
            "meta": {"type": "FOLLOW_UP"},
            **extra,
        }
        response = admin.post("/api/v1/appointments", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    guest = [{"id": "cust-jd", "first_name": "Jane", "last_name": "Doe"}]
    ids = {
        "Anna Fischer": add("Anna Fischer", 9, "Fitting w/Jane Doe", guests=guest),
        "Ben Okafor": add("Ben Okafor", 9, "Tech setup call", meta={"type": "TECH_SETUP"}),
        "Anna Berg": add("Anna Berg", 11, "Dentist", meta={"type": "FOLLOW_UP", "kind": "busy"}),
    }
    secrets = {}
    for privacy in ("busy", "minimal", "full"):
        issued = admin.post(
            f"/api/v1/calendars/{team.json()['id']}/feeds", json={"name": f"Board {privacy}", "privacy": privacy}
        )
        assert issued.status_code == 201, issued.text
        secrets[privacy] = issued.json()["secret"]
    return {"ids": ids, "secrets": secrets, "week": (tuesday - timedelta(days=1)).date().isoformat()}


def _summaries(live: LiveServer, secret: str) -> tuple[dict[str, str], str]:
    response = live.client().get(f"/feeds/{secret}.ics")
    assert response.status_code == 200, response.text
    calendar = icalendar.Calendar.from_ical(response.content)
    return {str(e["UID"]): str(e["SUMMARY"]) for e in calendar.walk("VEVENT")}, response.text


def test_a_team_feed_names_each_member_as_far_as_its_privacy_allows(live: LiveServer, people: People) -> None:
    team = _team(live, people)
    ids, secrets = team["ids"], team["secrets"]

    summaries, text = _summaries(live, secrets["busy"])
    assert summaries == dict.fromkeys(ids.values(), "Busy")
    for name in ("Anna", "Ben", "Berg", "Fischer", "Okafor"):
        assert name not in text, name

    summaries, text = _summaries(live, secrets["minimal"])
    assert summaries == {
        ids["Anna Fischer"]: "Anna F.: Follow-up · J. D.",
        ids["Ben Okafor"]: "Ben: Tech setup call",
        ids["Anna Berg"]: "Anna B.: Busy",  # her own time: who is away, not why
    }
    for hidden in ("Fischer", "Okafor", "Dentist", "Jane"):
        assert hidden not in text, hidden

    summaries, _ = _summaries(live, secrets["full"])
    assert summaries == {
        ids["Anna Fischer"]: "Anna Fischer: Fitting w/Jane Doe",
        ids["Ben Okafor"]: "Ben Okafor: Tech setup call",
        ids["Anna Berg"]: "Anna Berg: Dentist",
    }
    # the page's JSON says the same
    page = live.client().get(f"/calendar/{secrets['minimal']}.json", params={"week": team["week"]}).json()
    assert sorted(page["members"]) == ["Anna B.", "Anna F.", "Ben"]
    shown = {e["id"]: (e["member"], e["title"]) for d in page["days"] for e in d["timed"]}
    assert shown[ids["Ben Okafor"]] == ("Ben", "Ben: Tech setup call")
    busy_page = live.client().get(f"/calendar/{secrets['busy']}.json", params={"week": team["week"]}).json()
    assert busy_page["members"] == []
    assert {e["member"] for d in busy_page["days"] for e in d["timed"]} == {None}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_team_page_labels_and_colours_its_members(live: LiveServer, people: People, browser: Any) -> None:
    team = _team(live, people)
    ids = team["ids"]
    url = f"{live.base_url}/calendar/{team['secrets']['minimal']}?week={team['week']}"
    context = browser.new_context(timezone_id="America/Denver", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    legend = page.locator("header ul.members li")
    assert sorted(legend.all_inner_texts()) == ["Anna B.", "Anna F.", "Ben"]
    colours = {}
    for member, appointment_id in ids.items():
        block = page.locator(f".blocks li[data-appointment='{appointment_id}']")
        label = {"Anna Fischer": "Anna F.", "Ben Okafor": "Ben", "Anna Berg": "Anna B."}[member]
        assert block.locator(".title").inner_text().startswith(f"{label}: "), member  # named in text
        colours[member] = block.evaluate("e => getComputedStyle(e).borderLeftColor")
        swatch = legend.filter(has_text=label).evaluate("e => getComputedStyle(e).borderLeftColor")
        assert swatch == colours[member], member  # the legend's colour is the member's
    assert len(set(colours.values())) == 3  # and each member has their own
    keep(page, "calendar-page-team")
    context.close()

    busy = browser.new_context(timezone_id="America/Denver", viewport={"width": 1280, "height": 900})
    page = busy.new_page()
    page.goto(f"{live.base_url}/calendar/{team['secrets']['busy']}?week={team['week']}")
    assert page.locator("header ul.members").count() == 0
    assert page.locator(".blocks li.member").count() == 0
    assert "Anna" not in page.content() and "Ben" not in page.content()
    busy.close()

    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is required in CI (make test runs npm ci in tests/feeds/node)")
        pytest.skip("axe-core not installed: npm ci in tests/feeds/node")
    checked = browser.new_context(
        bypass_csp=True, timezone_id="America/Denver", viewport={"width": 1280, "height": 900}
    )
    page = checked.new_page()
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    checked.close()
    serious = [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == []
