"""The calendar page in real headless Chromium (Debian's, driven by Playwright), on SQLite and PostgreSQL:
the appointments render, week navigation works (links and keyboard), the viewer's zone is used, it
reads without JavaScript, loads nothing from elsewhere, and a screenshot is kept in test-artifacts/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.feeds.conftest import FeedWorld

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is required in CI (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} not installed (make test installs it as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS, timeout=60_000)
        yield browser
        browser.close()


def _monday(day: datetime) -> datetime:
    return (day - timedelta(days=day.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def test_the_week_renders_navigates_and_is_kept_as_a_screenshot(
    feed_world: FeedWorld, browser: Any, request: pytest.FixtureRequest
) -> None:
    w = feed_world
    denver = ZoneInfo("America/Denver")
    monday = _monday(datetime.now(denver))
    this_week = [
        w.add(monday + timedelta(days=1, hours=9)),
        w.add(monday + timedelta(days=3, hours=14), minutes=30, meta={"type": "TECH_SETUP", "location": "Video call"}),
        w.add(monday + timedelta(days=2), minutes=24 * 60, meta={"type": "FOLLOW_UP", "all_day": True}),
    ]
    cancelled = w.add(monday + timedelta(days=4, hours=11))
    w.api.post(f"/api/v1/appointments/{cancelled['id']}/cancel", json={"reason": "moved away"})
    next_week = w.add(monday + timedelta(days=9, hours=10), guests=[{"first_name": "Ødön", "last_name": "Ühl"}])
    issued = w.issue("Salesforce")
    url = f"{w.live.base_url}/calendar/{issued['secret']}"

    context = browser.new_context(timezone_id="America/Denver", locale="en-US", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(w.live.base_url) else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    response = page.goto(url)
    assert response is not None and response.status == 200
    headers = response.headers
    assert (
        "frame-ancestors" in headers["content-security-policy"]
        and "lightning.force.com" in headers["content-security-policy"]
    )
    assert headers["referrer-policy"] == "no-referrer"
    assert page.locator("#calendar").get_attribute("data-timezone") == "America/Denver"
    shown = set(page.locator("li.event").evaluate_all("els => els.map(e => e.dataset.appointment)"))
    assert shown == {a["id"] for a in this_week} | {cancelled["id"]}
    tuesday = page.locator(f"section[data-day='{(monday + timedelta(days=1)).date().isoformat()}']")
    assert "09:00" in tuesday.inner_text() and "Initial appointment · J. D." in tuesday.inner_text()
    assert "All day" in page.locator(f"li[data-appointment='{this_week[2]['id']}']").inner_text()
    assert page.locator(f"li[data-appointment='{cancelled['id']}'] del").count() == 1
    assert "Jane" not in page.content() and "Bring the audiogram" not in page.content()  # minimal privacy
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"calendar_page-{request.node.callspec.id}.png"), full_page=True)

    page.click("#next-week")
    page.wait_for_url(f"**week={(monday + timedelta(days=7)).date().isoformat()}*")
    shown = set(page.locator("li.event").evaluate_all("els => els.map(e => e.dataset.appointment)"))
    assert shown == {next_week["id"]}
    assert "Ø. Ü." in page.locator("li.event").inner_text()
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**week={monday.date().isoformat()}*")
    assert page.locator("li.event").count() == 4
    page.click("text=Agenda")
    page.wait_for_url("**view=agenda*")
    assert page.locator(".agenda li.event").count() == 4
    assert not foreign, foreign
    assert not errors, errors
    context.close()


def test_the_viewer_zone_and_no_javascript(feed_world: FeedWorld, browser: Any) -> None:
    w = feed_world
    denver = ZoneInfo("America/Denver")
    monday = _monday(datetime.now(denver))
    appointment = w.add(monday + timedelta(days=2, hours=9))  # 09:00 in Denver = 17:00 in Berlin (16:00 in some weeks)
    issued = w.issue("Page")
    url = f"{w.live.base_url}/calendar/{issued['secret']}"
    berlin = browser.new_context(timezone_id="Europe/Berlin")
    page = berlin.new_page()
    page.goto(url)
    page.wait_for_url("**tz=Europe%2FBerlin*")
    item = page.locator(f"li[data-appointment='{appointment['id']}']")
    start = datetime.fromisoformat(appointment["date_start"].replace("Z", "+00:00")).astimezone(
        ZoneInfo("Europe/Berlin")
    )
    assert item.locator("time").inner_text().startswith(f"{start:%H:%M}")
    assert "Europe/Berlin" in page.locator("header").inner_text()
    berlin.close()

    no_js = browser.new_context(java_script_enabled=False, timezone_id="Asia/Tokyo")
    page = no_js.new_page()
    page.goto(url)
    assert page.url == url  # no redirect without JavaScript: the calendar's own zone
    assert page.locator(f"li[data-appointment='{appointment['id']}'] time").inner_text().startswith("09:00")
    page.click("#next-week")
    assert "week=" in page.url and page.locator("li.event").count() == 0
    no_js.close()


def test_bad_parameters_and_unknown_tokens(feed_world: FeedWorld) -> None:
    issued = feed_world.issue()
    base = f"/calendar/{issued['secret']}"
    for query in ("?week=not-a-date", "?tz=Mars/Olympus", "?view=month"):
        r = feed_world.anon.get(base + query)
        assert r.status_code == 400 and r.headers["Content-Type"].startswith("text/plain"), query
    r = feed_world.anon.get("/calendar/" + "Q" * 32)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain")
    far = feed_world.anon.get(base + "?week=2199-01-01")
    assert far.status_code == 200 and 'id="next-week"' not in far.text  # clamped to the feed window
