"""The self-booking pages in real headless Chromium (Debian's, driven by Playwright), on SQLite and
PostgreSQL: a customer in Tokyo books a New York team's consultation from a team link, the confirmation
reaches a real SMTP server on loopback with an invitation that icalendar and ical.js read at the right
time, the manage link moves it (same UID, higher SEQUENCE; Salesforce holds one Event at the new time),
the reminder job sends exactly one reminder, cancelling sends METHOD:CANCEL. Also: two customers racing
for one slot, keyboard only, axe-core, German, phone width."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_time
from sqlalchemy import func, select

from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules
from caldav_bridge.selfbooking import jobs
from caldav_bridge.selfbooking.delivery import SmtpTransport
from caldav_bridge.selfbooking.tables import CustomerBookingRow
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AppointmentRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.feeds.validators import icaljs_instants
from tests.salesforce.conftest import make_context
from tests.scheduling.conftest import World
from tests.selfbooking.browser_support import (
    invite,
    invite_bytes,
    manage_url,
    screenshot,
    serious_violations,
    text_of,
)
from tests.selfbooking.helpers import team_link
from tests.support.live import LiveServer
from tests.support.smtp import smtp_sink

TOKYO = ZoneInfo("Asia/Tokyo")
EXT = "Appointment_Service_Id__c"


def slot_buttons(page: Any, *, open_only: bool = True) -> list[tuple[str, str]]:
    """(UTC start, label) of the slots offered in the week shown open (or in every week)."""
    selector = "details[open] ul.slots button" if open_only else "ul.slots button"
    return page.locator(selector).evaluate_all("els => els.map(e => [e.value, e.textContent.trim()])")


def test_book_move_remind_cancel_end_to_end(
    live: LiveServer, runtime: Runtime, world: World, browser: Any, request: pytest.FixtureRequest
) -> None:
    rt = runtime
    backend = request.node.callspec.id
    settings = rt.settings.replace(
        public_url=live.base_url, booking_company_name="Hörwelt", booking_company_phone="+1 212 555 0100"
    )
    secret = team_link(rt, world)
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(live.base_url) else None)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    page.goto(f"{live.base_url}/book/{secret}?week={world.monday.isoformat()}")
    page.wait_for_url("**tz=Asia%2FTokyo*")  # the script detected the customer's zone
    assert "Asia/Tokyo" in page.locator("#zone-shown").inner_text()
    start_iso, label = slot_buttons(page)[0]
    start = datetime.fromisoformat(start_iso)
    assert start.astimezone(ZoneInfo("America/New_York")).hour == 9  # the team's first hour...
    assert label == format_time(start.astimezone(TOKYO).timetz(), "short", locale="en_US")  # ...in Tokyo
    screenshot(page, "self-booking-slots", backend)
    page.locator(f"button[value='{start_iso}']").click()
    page.wait_for_selector("#first_name")
    page.fill("#first_name", "Aiko")
    page.fill("#last_name", "Tanaka")
    page.fill("#email", "aiko@example.jp")
    page.check("#consent")
    screenshot(page, "self-booking-details", backend)
    page.click("#book")
    page.wait_for_selector("#booked")
    assert "aiko" not in page.url.lower() and "Tanaka" not in page.url
    assert page.locator("#consultant").inner_text() == "Consultant"  # first name only
    screenshot(page, "self-booking-booked", backend)
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None and booking.timezone == "Asia/Tokyo"
        initial_id = booking.appointment_id
        initial = uow.session.get(AppointmentRow, initial_id)
        assert initial is not None and initial.status == "BOOKED" and initial.date_start == start
        tech = uow.session.scalars(
            select(AppointmentRow).where(AppointmentRow.type == "TECH_SETUP", AppointmentRow.status == "BOOKED")
        ).all()
        assert len(tech) == 1 and tech[0].date_start < start  # the tech-setup call, by the existing policy

    with smtp_sink() as sink, running_emulator(SalesforceEmulator()) as emulator:
        transport = SmtpTransport(sink.host, sink.port, "none", timeout=10.0)
        assert jobs.deliver_messages(settings, rt.uow, transport=transport).sent == 1
        (confirmation,) = sink.wait_for(1)
        assert confirmation.recipients == ["aiko@example.jp"]
        cal = invite(confirmation)
        (event,) = cal.walk("VEVENT")
        uid = str(event["UID"])
        assert cal["METHOD"] == "REQUEST" and event.decoded("DTSTART") == start and event["SEQUENCE"] == 0
        assert icaljs_instants({"confirmation": invite_bytes(confirmation)})["confirmation"][uid][0] == start
        assert "Aiko" in text_of(confirmation) and "Consultant" not in text_of(confirmation)

        page.goto(manage_url(confirmation))
        page.wait_for_url("**tz=Asia%2FTokyo*")
        screenshot(page, "self-booking-manage", backend)
        later = [s for s, _ in slot_buttons(page) if datetime.fromisoformat(s) >= start + timedelta(days=1)]
        assert later, "no slot to move to"
        moved = datetime.fromisoformat(later[0])
        page.locator(f"button[value='{later[0]}']").click()
        page.wait_for_selector("#notice")
        assert "moved" in page.locator("#notice").inner_text()
        assert jobs.deliver_messages(settings, rt.uow, transport=transport).sent == 1
        update = sink.wait_for(2)[1]
        cal = invite(update)
        (event,) = cal.walk("VEVENT")
        assert cal["METHOD"] == "REQUEST" and str(event["UID"]) == uid and event["SEQUENCE"] == 1
        assert event.decoded("DTSTART") == moved
        assert icaljs_instants({"update": invite_bytes(update)})["update"][uid][0] == moved

        run_job(make_context(rt, emulator), "push")
        records = [e for e in emulator.live("Event") if e.get(EXT) == initial_id]
        assert len(records) == 1, records
        assert records[0]["StartDateTime"].startswith(moved.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"))

        frozen = moved - timedelta(hours=23)  # the clock, frozen a day before the new time
        assert jobs.remind(settings, rt.uow, now=frozen) == 1
        assert jobs.remind(settings, rt.uow, now=frozen + timedelta(hours=1)) == 0
        assert jobs.deliver_messages(settings, rt.uow, transport=transport, now=lambda: frozen).sent == 1
        assert jobs.deliver_messages(settings, rt.uow, transport=transport, now=lambda: frozen).attempted == 0
        reminders = [r for r in sink.wait_for(3) if str(r.message["Subject"]).startswith("Reminder")]
        assert len(reminders) == 1

        page.fill("#reason", "Travelling")
        page.click("#cancel")
        page.wait_for_selector("#message-title")
        assert jobs.deliver_messages(settings, rt.uow, transport=transport).sent == 1
        cancelled = sink.wait_for(4)[3]
        cal = invite(cancelled)
        (event,) = cal.walk("VEVENT")
        assert cal["METHOD"] == "CANCEL" and str(event["UID"]) == uid and event["SEQUENCE"] == 2
    assert not foreign, foreign
    assert not errors, errors
    gone = page.goto(manage_url(confirmation))
    assert gone is not None and gone.status == 404  # the manage link stops working once cancelled
    context.close()


def _solo_team(rt: Runtime) -> str:
    """A team of one consultant: one start time is one slot."""
    actor = system_actor()
    team = calendars.create(rt.uow(), actor, CalendarDraft(name="Solo", kind="team", timezone="Europe/Berlin")).id
    calendars.create(
        rt.uow(), actor, CalendarDraft(name="Mara Solo", kind="consultant", timezone="Europe/Berlin", team_id=team)
    )
    rules = AvailabilityRules.model_validate(
        {
            "weekly_hours": {d: [{"start": "09:00", "end": "12:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
            "durations": {"INITIAL": 60},
            "slot_step_minutes": 60,
            "horizon_days": 120,
        }
    )
    calendar_rules.set_rules(rt.uow(), actor, team, rules)
    return team


def test_two_customers_race_for_one_slot(
    live: LiveServer, runtime: Runtime, world: World, browser: Any, request: pytest.FixtureRequest
) -> None:
    rt = runtime
    secret = team_link(rt, world, team_id=_solo_team(rt))
    url = f"{live.base_url}/book/{secret}?week={world.monday.isoformat()}&tz=Europe%2FBerlin"
    contexts = [browser.new_context(timezone_id="Europe/Berlin") for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    for page in pages:
        page.goto(url)
    start_iso = slot_buttons(pages[0])[0][0]
    assert slot_buttons(pages[1])[0][0] == start_iso
    # both submit the same slot at the same moment
    for page in pages:
        page.evaluate(
            "v => { const b = document.querySelector(`button[value='${v}']`); b.form.requestSubmit(b); }", start_iso
        )
    for page in pages:
        page.wait_for_load_state("load")
        page.wait_for_selector("#first_name, #notice")
    winners = [p for p in pages if p.locator("#first_name").count() == 1]
    losers = [p for p in pages if p.locator("#notice").count() == 1]
    assert len(winners) == 1 and len(losers) == 1
    loser = losers[0]
    assert "just taken" in loser.locator("#notice").inner_text()
    assert start_iso not in [s for s, _ in slot_buttons(loser, open_only=False)]  # fresh slots, not the taken one
    assert slot_buttons(loser), "the loser is offered other times in that week"
    screenshot(loser, "self-booking-just-taken", request.node.callspec.id)
    winner = winners[0]
    winner.fill("#first_name", "Ada")
    winner.fill("#last_name", "Winner")
    winner.fill("#email", "ada@example.org")
    winner.click("#book")
    winner.wait_for_selector("#booked")
    with rt.uow() as uow:
        count = uow.session.scalar(
            select(func.count())
            .select_from(AppointmentRow)
            .where(AppointmentRow.type == "INITIAL", AppointmentRow.status != "CANCELLED")
        )
        assert count == 1
    for c in contexts:
        c.close()


def test_keyboard_only_accessible_and_german(
    live: LiveServer, runtime: Runtime, world: World, browser: Any, request: pytest.FixtureRequest
) -> None:
    rt = runtime
    backend = request.node.callspec.id
    secret = team_link(rt, world)
    url = f"{live.base_url}/book/{secret}?week={world.monday.isoformat()}&tz=Europe%2FBerlin"
    context = browser.new_context(
        timezone_id="Europe/Berlin", locale="de-DE", viewport={"width": 390, "height": 844}, bypass_csp=True
    )
    page = context.new_page()
    page.goto(url)
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.locator("h1").inner_text() == "Termin buchen"
    day = page.locator("details[open] section.day h2").first.inner_text()
    assert day.startswith(("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag")), day
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    assert serious_violations(page) == []
    screenshot(page, "self-booking-phone-de", backend)

    def tab_to(selector: str, limit: int = 40) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("details[open] ul.slots button")
    page.keyboard.press("Enter")
    page.wait_for_selector("#first_name")
    assert serious_violations(page) == []
    tab_to("#first_name")
    page.keyboard.type("Lena")
    tab_to("#last_name")
    page.keyboard.type("Schmidt")
    tab_to("#email")
    page.keyboard.type("lena@example.de")
    tab_to("#consent")
    page.keyboard.press("Space")
    tab_to("#book")
    page.keyboard.press("Enter")
    page.wait_for_selector("#booked")
    assert page.locator("#booked").inner_text() == "Ihr Termin ist gebucht"
    assert serious_violations(page) == []
    page.click("#manage-link")
    page.wait_for_selector("#cancel")
    assert serious_violations(page) == []
    screenshot(page, "self-booking-manage-phone-de", backend)
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None and booking.locale == "de" and booking.consent_reminders is True
    context.close()


def test_desktop_english_is_accessible(live: LiveServer, runtime: Runtime, world: World, browser: Any) -> None:
    secret = team_link(runtime, world)
    context = browser.new_context(
        timezone_id="America/Chicago", viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    page = context.new_page()
    page.goto(f"{live.base_url}/book/{secret}?week={world.monday.isoformat()}&tz=America%2FChicago&lang=en")
    assert page.locator("h1").inner_text() == "Book an appointment"
    assert serious_violations(page) == []
    missing = page.goto(f"{live.base_url}/book/not-a-link")
    assert missing is not None and missing.status == 404 and serious_violations(page) == []
    context.close()
