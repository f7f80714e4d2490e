"""The calendar page in real headless Chromium (Debian's, driven by Playwright), on SQLite and PostgreSQL:
the appointments render, week navigation works (links and keyboard), the viewer's zone is used, it
reads without JavaScript, loads nothing from elsewhere; at 390, 768 and 1280 px the grid puts each
appointment at its time, marks conflicts, keeps all-day appointments on their calendar date in any
viewer's zone and passes axe-core; screenshots go to test-artifacts/, and with DOCS_SCREENSHOTS=1
(``make screenshots``) to docs/images/ (shown by docs/feeds.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.feeds.conftest import FeedWorld
from tests.support.browser import chromium
from tests.support.screenshots import keep


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (tests.support.browser)."""
    yield from chromium()


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
    keep(page, f"calendar_page-{request.node.callspec.id}", for_docs=False)

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
    assert far.status_code == 200 and 'id="next-week"' not in far.text
    # never silently another week: the page says so and offers the nearest week inside the window
    assert 'id="outside"' in far.text and "is outside the dates this page shows" in far.text
    assert 'class="grid"' not in far.text and "No appointments" not in far.text
    last_monday = feed_world.anon.get(base + ".json?week=2199-01-01").json()["outside"]["nearest"]
    assert f'id="nearest" href="?week={last_monday}"' in far.text
    assert date.fromisoformat(last_monday).weekday() == 0
    assert date.fromisoformat(last_monday) + timedelta(days=7) > date.today() + timedelta(days=179)


def test_weeks_and_days_at_the_ends_of_the_calendar(feed_world: FeedWorld) -> None:
    """A date outside the years appointments lie in (1900 to 2200) is a bad parameter (400 naming it); one at their
    edges is a week outside the window, said so. Failed before: ``?week=9999-12-31`` (and
    ``?view=day&day=9999-12-31``) was a 500, ``OverflowError`` from the week's end computed past the year 9999."""
    base = f"/calendar/{feed_world.issue()['secret']}"
    for when in ("0001-01-01", "0001-01-07", "1899-12-31", "9999-12-27", "9999-12-31", "2200-01-01"):
        for view in ("week", "day", "agenda"):
            for name in ("week", "day"):
                query = f"?{name}={when}&view={view}"
                for page in (feed_world.anon.get(base + query), feed_world.anon.get(base + ".json" + query)):
                    assert page.status_code == 400, (query, page.text[:300])
                    assert name in page.text and "1900" in page.text, (query, page.text[:300])
    for when in ("1900-01-01", "2199-12-31"):
        for view in ("week", "day", "agenda"):
            query = f"?week={when}&day={when}&view={view}"
            page = feed_world.anon.get(base + query)
            assert page.status_code == 200 and 'id="outside"' in page.text, (query, page.text[:300])
            data = feed_world.anon.get(base + ".json" + query)
            assert data.status_code == 200 and data.json()["outside"]["nearest"], (query, data.text[:300])


# --------------------------------------------------------------------------- the grid at three widths

WIDTHS = (390, 768, 1280)
AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
DENVER = ZoneInfo("America/Denver")
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _week_of_a_dispatcher(w: FeedWorld) -> dict[str, Any]:
    """This week in Denver (the fitter's zone) as the demo has it: two confirmed at the same 09:00, a reserved
    one over a rescheduled one, a cancelled one, an all-day one, and an empty weekend."""
    monday = _monday(datetime.now(DENVER))

    def add(day: int, hour: float, minutes: int, status: str, kind: str = "FOLLOW_UP", **meta: Any) -> dict[str, Any]:
        start = monday + timedelta(days=day, minutes=round(hour * 60))
        return w.add(start, minutes, status=status, meta={"type": kind, **meta})

    world: dict[str, Any] = {
        "monday": monday,
        "initial": add(0, 9, 60, "INITIAL", "INITIAL", location="Denver store"),
        "fitting": add(0, 11, 90, "BOOKED", location="Denver store"),
        "nine_a": add(1, 9, 60, "BOOKED", location="Denver store"),
        "nine_b": add(1, 9, 60, "BOOKED", location="Boulder, 1200 Pearl St"),
        "rescheduled": add(2, 13, 90, "RESCHEDULED"),
        "reserved": add(2, 13.5, 45, "RESERVED"),
        "tech": add(4, 10, 45, "BOOKED", "TECH_SETUP", location="Video call"),
        "cancelled": add(3, 15, 60, "BOOKED"),
    }
    thursday = (monday + timedelta(days=3)).date()
    midnight = datetime.combine(thursday, datetime.min.time(), DENVER)
    world["all_day"] = w.add(midnight, 24 * 60, meta={"type": "FOLLOW_UP", "all_day": True})
    r = w.api.post(f"/api/v1/appointments/{world['cancelled']['id']}/cancel", json={"reason": "moved away"})
    assert r.status_code == 200, r.text
    return world


def _box(page: Any, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return dict(box)


def _expect_at(page: Any, appointment: dict[str, Any], zone: ZoneInfo) -> dict[str, float]:
    """The appointment's block lies in its day's column at its start, as tall as it lasts (within 1.5 px)."""
    start = datetime.fromisoformat(appointment["date_start"]).astimezone(zone)
    end = datetime.fromisoformat(appointment["date_end"]).astimezone(zone)
    main = page.locator("#calendar")
    first, last = int(main.get_attribute("data-first-hour")), int(main.get_attribute("data-last-hour"))
    column = _box(page, f"section.col[data-day='{start.date().isoformat()}']")
    block = _box(page, f".blocks li[data-appointment='{appointment['id']}']")
    per_minute = column["height"] / ((last - first) * 60)
    top = column["y"] + (start.hour * 60 + start.minute - first * 60) * per_minute
    assert abs(block["y"] - top) <= 1.5, (block, top)
    assert abs(block["height"] - (end - start).total_seconds() / 60 * per_minute) <= 1.5, block
    assert column["x"] - 0.5 <= block["x"] and block["x"] + block["width"] <= column["x"] + column["width"] + 0.5
    hour_label = _box(page, f"#h{start.hour}")  # the hour's label is centred on the hour's line
    assert abs(hour_label["y"] + hour_label["height"] / 2 - (top - start.minute * per_minute)) <= 3
    return block


def _axe(browser: Any, url: str, width: int) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations (the page's CSP admits no injected script: bypassed here)."""
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{AXE} is required in CI (make test runs npm ci in tests/feeds/node)")
        pytest.skip("axe-core not installed: npm ci in tests/feeds/node")
    viewport = {"width": width, "height": 900}
    context = browser.new_context(bypass_csp=True, timezone_id="America/Denver", viewport=viewport)
    page = context.new_page()
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    context.close()
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["html"][:160] for n in v["nodes"][:3]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _day_and_zones(browser: Any, url: str, world: dict[str, Any]) -> None:
    """The day view (wide blocks, the same geometry) and the week seen from Berlin, the fitter's times alongside;
    screenshots of both for the docs."""
    tuesday = (world["monday"] + timedelta(days=1)).date().isoformat()
    context = browser.new_context(timezone_id="America/Denver", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}?view=day&day={tuesday}")
    assert page.locator("section.col").count() == 1
    a, b = _expect_at(page, world["nine_a"], DENVER), _expect_at(page, world["nine_b"], DENVER)
    assert a["width"] > 400 and b["width"] > 400  # side by side in one wide column
    assert "Boulder, 1200 Pearl St" in page.locator(".blocks").inner_text()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**day={(world['monday'] + timedelta(days=2)).date().isoformat()}*")
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**day={tuesday}*")
    keep(page, "calendar-page-day")
    context.close()
    berlin = ZoneInfo("Europe/Berlin")
    context = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{url}?week={tuesday}")
    page.wait_for_url("**tz=Europe%2FBerlin*")
    block = _expect_at(page, world["fitting"], berlin)  # 11:00 Denver is 19:00 Berlin
    assert block["height"] > 0
    fitter = page.locator(f".blocks li[data-appointment='{world['fitting']['id']}'] .fitter").inner_text()
    assert fitter.startswith("11:00") and "fitter" in fitter
    assert "America/Denver" in page.locator("header").inner_text()
    keep(page, "calendar-page-1280-berlin")
    context.close()


@sqlite_only
@pytest.mark.parametrize("width", WIDTHS)
def test_the_week_grid_at_each_width(feed_world: FeedWorld, browser: Any, width: int) -> None:
    w = feed_world
    world = _week_of_a_dispatcher(w)
    monday = world["monday"]
    url = f"{w.live.base_url}/calendar/{w.issue('Salesforce')['secret']}"
    viewport = {"width": width, "height": 900}
    context = browser.new_context(timezone_id="America/Denver", locale="en-US", viewport=viewport)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)

    # each appointment at its time and as tall as it lasts; the two at 09:00 side by side, both in conflict
    a = _expect_at(page, world["nine_a"], DENVER)
    b = _expect_at(page, world["nine_b"], DENVER)
    assert a["x"] + a["width"] <= b["x"] + 0.5 or b["x"] + b["width"] <= a["x"] + 0.5
    for key in ("nine_a", "nine_b", "rescheduled", "reserved"):
        item = page.locator(f".blocks li[data-appointment='{world[key]['id']}']")
        assert "conflict" in (item.get_attribute("class") or "").split(), key
        assert item.locator(".badge").inner_text() == "Conflict" and item.locator(".badge").is_visible()
    for key in ("initial", "fitting", "tech", "cancelled"):
        item = page.locator(f".blocks li[data-appointment='{world[key]['id']}']")
        assert "conflict" not in (item.get_attribute("class") or "").split(), key
    _expect_at(page, world["rescheduled"], DENVER)
    _expect_at(page, world["reserved"], DENVER)
    _expect_at(page, world["fitting"], DENVER)
    # the all-day one in the all-day row on Thursday, only there
    thursday = (monday + timedelta(days=3)).date().isoformat()
    all_day = world["all_day"]["id"]
    assert page.locator(f"ol.allday[data-day='{thursday}'] li[data-appointment='{all_day}']").count() == 1
    assert page.locator(f"[data-appointment='{all_day}']").count() == 1
    # working hours and free time are drawn; the empty weekend collapses to narrow columns
    assert page.locator("section.col .work").count() >= 5 and page.locator("section.col .free").count() >= 5
    weekend = [_box(page, f"section.col[data-day='{(monday + timedelta(days=d)).date().isoformat()}']") for d in (5, 6)]
    weekday = _box(page, f"section.col[data-day='{monday.date().isoformat()}']")
    assert all(day["width"] < weekday["width"] / 2 for day in weekend)
    # nothing sticks out sideways; the header is compact on a phone
    assert page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    header = _box(page, "header")
    assert header["height"] <= (100 if width < 600 else 130), header
    keep(page, f"calendar-page-{width}")

    # keyboard: → and ← change the week, and the header's links work from the keyboard (Tab, Enter)
    next_monday = (monday + timedelta(days=7)).date().isoformat()
    page.keyboard.press("ArrowRight")
    page.wait_for_url(f"**week={next_monday}*")
    assert page.locator("#calendar").get_attribute("data-week") == next_monday
    page.keyboard.press("ArrowLeft")
    page.wait_for_url(f"**week={monday.date().isoformat()}*")
    for _ in range(8):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == "next-week":
            break
    assert page.evaluate("() => document.activeElement.id") == "next-week"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**week={next_monday}*")
    assert not errors, errors
    context.close()
    if width == 1280:
        _day_and_zones(browser, url, world)

    assert _axe(browser, url, width) == []
    assert _axe(browser, url + f"?view=day&day={monday.date().isoformat()}", width) == []
    assert _axe(browser, url + "?view=agenda", width) == []


@sqlite_only
@pytest.mark.parametrize("width", WIDTHS)
def test_an_all_day_appointment_stays_on_its_date_in_every_viewer_zone(
    feed_world: FeedWorld, browser: Any, width: int
) -> None:
    """Midnight to midnight in Denver is 16:00 to 16:00 in Tokyo and 21:00 to 21:00 in Honolulu: still Thursday."""
    w = feed_world
    monday = _monday(datetime.now(DENVER))
    thursday = (monday + timedelta(days=3)).date()
    midnight = datetime.combine(thursday, datetime.min.time(), DENVER)
    all_day = w.add(midnight, 24 * 60, meta={"type": "FOLLOW_UP", "all_day": True})
    timed = w.add(midnight + timedelta(hours=9), 60)
    url = f"{w.live.base_url}/calendar/{w.issue('Salesforce')['secret']}?week={thursday.isoformat()}"
    for zone in ("Asia/Tokyo", "America/Denver", "Pacific/Honolulu"):
        context = browser.new_context(timezone_id=zone, viewport={"width": width, "height": 900})
        page = context.new_page()
        page.goto(url)
        if zone != "America/Denver":
            page.wait_for_url(f"**tz={zone.replace('/', '%2F')}*")
        assert page.locator("#calendar").get_attribute("data-timezone") == zone
        cells = page.locator(f"[data-appointment='{all_day['id']}']")
        assert cells.count() == 1, zone
        assert cells.first.evaluate("e => e.closest('ol.allday').dataset.day") == thursday.isoformat(), zone
        # a timed appointment moves with the viewer's zone (09:00 Denver is Friday 01:00 in Tokyo)
        start = datetime.fromisoformat(timed["date_start"]).astimezone(ZoneInfo(zone))
        block = page.locator(f".blocks li[data-appointment='{timed['id']}']")
        assert block.evaluate("e => e.closest('section.col').dataset.day") == start.date().isoformat(), zone
        assert block.locator("time").inner_text().startswith(f"{start:%H:%M}")
        if zone != "America/Denver":  # the fitter's own time alongside
            assert "09:00" in block.locator(".fitter").inner_text()
        else:
            assert block.locator(".fitter").count() == 0
        context.close()


@sqlite_only
def test_salesforce_hosts_may_frame_the_page_and_others_may_not(feed_world: FeedWorld, browser: Any) -> None:
    """The default frame-ancestors, enforced by Chromium: a Visualforce page (``<org>--c.vf.force.com``), a
    sandbox's Lightning page and an Experience Cloud site may embed the page; other sites may not. Playwright's
    router plays the outer pages and the service's public https host (nothing leaves the machine): the
    service's requests are fetched from the live server and answered with its real response and headers."""
    w = feed_world
    appointment = w.add(_monday(datetime.now(DENVER)) + timedelta(days=2, hours=9))
    public = "https://appointments.example.com"
    path = f"/calendar/{w.issue('Salesforce')['secret']}?tz=America/Denver"

    def answer(route: Any) -> None:
        url = route.request.url
        if url.startswith(public):
            route.fulfill(response=route.fetch(url=w.live.base_url + url[len(public) :]))
            return
        outer = f'<!doctype html><html lang="en"><title>Salesforce</title><iframe src="{public}{path}" title="x">'
        route.fulfill(status=200, content_type="text/html", body=outer + "</iframe></html>")

    context = browser.new_context()
    context.route("**/*", answer)
    for host, allowed in (
        ("acme--c.vf.force.com", True),
        ("acme--uat.sandbox.lightning.force.com", True),
        ("acme.my.site.com", True),
        ("evil.example.com", False),
        ("acme.force.com.evil.example", False),
    ):
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda m, refused=refused: refused.append(m.text) if "frame-ancestors" in m.text else None)
        page.goto(f"https://{host}/apex/FitterCalendar")
        frame = page.frame_locator("iframe")
        if allowed:
            item = frame.locator(f"li[data-appointment='{appointment['id']}']")
            item.wait_for(timeout=15_000)
            assert item.count() == 1 and not refused, host
        else:
            page.wait_for_timeout(1500)
            assert frame.locator("#calendar").count() == 0, host
            assert refused, host  # Chromium says why: the page's frame-ancestors refused this host
        page.close()
    context.close()


def test_the_window_edges_are_said_not_hidden(feed_world: FeedWorld) -> None:
    """Days outside the window are marked, with a note, in the grid and the agenda; an appointment there is
    not listed, and its day never reads as an empty one; a week before the window offers the first week."""
    w = feed_world
    secret = w.issue("Edges")["secret"]
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=180)  # the default window's end
    inside = w.add(end - timedelta(hours=2), 30)
    beyond = w.add(end + timedelta(hours=1), 30)
    day = datetime.fromisoformat(beyond["date_start"]).astimezone(DENVER).date()
    data = w.anon.get(f"/calendar/{secret}.json?week={day.isoformat()}").json()
    assert data["outside"] is None and data["next"] is None
    days = {d["date"]: d for d in data["days"]}
    assert days[day.isoformat()]["coverage"] in ("partial", "out")
    listed = {i["id"] for d in data["days"] for i in d["timed"] + d["all_day"]}
    assert beyond["id"] not in listed
    assert inside["id"] in listed or datetime.fromisoformat(inside["date_start"]).astimezone(DENVER).date() < min(
        date.fromisoformat(d) for d in days
    )
    for view in ("week", "agenda"):
        html = w.anon.get(f"/calendar/{secret}?week={day.isoformat()}&view={view}").text
        assert 'id="window-note"' in html and "not listed" in html, view
        assert beyond["id"] not in html and "No appointments" not in html, view
    grid = w.anon.get(f"/calendar/{secret}?week={day.isoformat()}").text
    head = grid[grid.index(f'id="day-{day.isoformat()}"') :]
    assert "outside the window" in head[: head.index("</h2>")]

    before = (datetime.now(DENVER) - timedelta(days=45)).date()
    data = w.anon.get(f"/calendar/{secret}.json?week={before.isoformat()}").json()
    first = (datetime.now(UTC) - timedelta(days=30)).astimezone(DENVER).date()
    assert data["days"] == [] and data["outside"]["nearest"] == (first - timedelta(days=first.weekday())).isoformat()
    day_view = w.anon.get(f"/calendar/{secret}.json?view=day&day={before.isoformat()}").json()
    assert day_view["outside"] == {"requested": before.isoformat(), "nearest": first.isoformat()}


@sqlite_only
def test_a_team_page_marks_conflicts_within_one_members_calendar_only(live: Any, people: Any) -> None:
    """Two members at the same 09:00 are a busy team, not a conflict; one member twice at 09:00 is."""
    admin = live.client(people.admin.token)
    team = admin.post("/api/v1/calendars", json={"name": "Tech setup", "kind": "team", "timezone": "America/Denver"})
    assert team.status_code == 201, team.text
    team_id = team.json()["id"]
    members = [
        admin.post(
            "/api/v1/calendars",
            json={
                "name": name,
                "kind": "tech_setup_member",
                "timezone": "America/Denver",
                "team_id": team_id,
            },
        ).json()["id"]
        for name in ("Anna", "Ben")
    ]
    monday = _monday(datetime.now(DENVER))

    def add(calendar_id: str, day: int) -> str:
        start = (monday + timedelta(days=day, hours=9)).astimezone(UTC)
        body = {
            "calendar": {"id": calendar_id},
            "date_start": start.isoformat(),
            "date_end": (start + timedelta(minutes=30)).isoformat(),
            "name": "Tech setup call",
            "meta": {"type": "TECH_SETUP"},
        }
        r = admin.post("/api/v1/appointments", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    apart = {add(members[0], 1), add(members[1], 1)}  # Tuesday: Anna and Ben
    clash = {add(members[0], 2), add(members[0], 2)}  # Wednesday: Anna twice
    issued = admin.post(f"/api/v1/calendars/{team_id}/feeds", json={"name": "Team board"}).json()
    data = live.client().get(f"/calendar/{issued['secret']}.json?week={monday.date().isoformat()}").json()
    conflict = {i["id"]: i["conflict"] for d in data["days"] for i in d["timed"]}
    assert {i: conflict[i] for i in apart} == dict.fromkeys(apart, False)
    assert {i: conflict[i] for i in clash} == dict.fromkeys(clash, True)


@sqlite_only
def test_an_appointment_shown_as_free_is_never_in_conflict(feed_world: FeedWorld, browser: Any) -> None:
    """A fitting overlapped by an appointment shown as free (``meta.show_as`` ``free``, a phone's
    ``TRANSP:TRANSPARENT``: "reachable by phone") is no conflict, as availability does not count the free one;
    the free one's time stays free time. Two opaque ones on another day still conflict. Failed before: the page
    counted every appointment that was not cancelled."""
    w = feed_world
    monday = _monday(datetime.now(DENVER))
    tuesday = monday + timedelta(days=1)
    fitting = w.add(tuesday + timedelta(hours=10), 60, status="BOOKED", meta={"type": "FOLLOW_UP"})
    by_phone = w.add(
        tuesday + timedelta(hours=10, minutes=30), 90, status="BOOKED", meta={"type": "FOLLOW_UP", "show_as": "free"}
    )
    clash = [w.add(monday + timedelta(days=2, hours=10), 60, status="BOOKED") for _ in range(2)]
    secret = w.issue("Salesforce")["secret"]

    data = w.anon.get(f"/calendar/{secret}.json?week={monday.date().isoformat()}").json()
    timed = {i["id"]: i for d in data["days"] for i in d["timed"]}
    assert [timed[a["id"]]["conflict"] for a in (fitting, by_phone, *clash)] == [False, False, True, True]
    assert timed[by_phone["id"]]["transparent"] and not timed[fitting["id"]]["transparent"]
    (day,) = [d for d in data["days"] if d["date"] == tuesday.date().isoformat()]
    free = [(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])) for b in day["free"]]
    after_fitting = (tuesday + timedelta(hours=11), tuesday + timedelta(hours=12))
    assert any(a <= after_fitting[0] and b >= after_fitting[1] for a, b in free), free  # the free one's time

    context = browser.new_context(timezone_id="America/Denver", locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{w.live.base_url}/calendar/{secret}?week={monday.date().isoformat()}")
    for appointment, conflict in ((fitting, False), (by_phone, False), (clash[0], True), (clash[1], True)):
        item = page.locator(f".blocks li[data-appointment='{appointment['id']}']")
        assert ("conflict" in (item.get_attribute("class") or "").split()) is conflict, appointment["id"]
        assert item.locator(".badge").count() == int(conflict)
    shown_free = page.locator(f".blocks li[data-appointment='{by_phone['id']}']")
    assert "transparent" in (shown_free.get_attribute("class") or "").split()
    assert "Shown as free" in shown_free.inner_text()
    assert "2 in conflict" in page.locator("#period").inner_text()
    context.close()
