"""A customer's booking and move keep the tech-setup call before the INITIAL it prepares (over HTTP, through the
pages): the call moves along (with its person, else another of the tech-setup team); where no tech-setup slot fits
before the new date, the stale call is cancelled (history reason) and the INITIAL records ``meta.tech_setup``
``unscheduled``, which staff see on it; a booking too soon for any call records the same."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.claims import SlotClaims
from caldav_bridge.scheduling.rules import ExceptionDraft
from caldav_bridge.scheduling.tables import AppointmentLinkRow
from caldav_bridge.selfbooking.tables import CustomerBookingRow
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AppointmentRow, StatusHistoryRow
from tests.conftest import People
from tests.scheduling.conftest import World
from tests.selfbooking.test_pages_http import csrf, hold, team_link
from tests.support.live import LiveServer, loopback_session

NY = ZoneInfo("America/New_York")


def _at(day: date, hhmm: str) -> str:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).isoformat()


def _book(live: LiveServer, secret: str, start: str) -> tuple[requests.Session, str]:
    """Book ``start`` through the pages; the session and the manage path."""
    s = loopback_session()
    base = f"{live.base_url}/book/{secret}"
    page = s.get(base, params={"tz": "America/New_York", "lang": "en"})
    form = {
        **hold(s, base, page.text, start, "America/New_York", "en"),
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "consent": "yes",
    }
    done = s.post(f"{base}/confirm", data=form)
    assert done.status_code == 200, done.text
    with_manage = s.get(live.base_url + _manage_path(done.text))
    assert with_manage.status_code == 200
    return s, _manage_path(done.text)


def _manage_path(html: str) -> str:
    found = re.search(r'id="manage-link" href="([^"?]+)', html)
    assert found, html[:2000]
    return found.group(1)


def _move(live: LiveServer, s: requests.Session, manage: str, start: str) -> None:
    page = s.get(live.base_url + manage, params={"tz": "America/New_York"})
    moved = s.post(
        f"{live.base_url}{manage}/reschedule",
        data={"start": start, "tz": "America/New_York", "csrf_token": csrf(page.text)},
        allow_redirects=False,
    )
    assert moved.status_code == 303, moved.text


def _days_off(rt: Runtime, calendar_id: str, days: list[date]) -> None:
    for day in days:
        calendar_rules.put_exception(
            rt.uow(), system_actor(), calendar_id, ExceptionDraft(date=day, hours=[], reason="off")
        )


def _chain(rt: Runtime) -> tuple[AppointmentRow, list[AppointmentRow]]:
    """The one self-booked INITIAL and its tech-setup calls (every one, cancelled too), oldest first."""
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None
        initial = uow.session.get(AppointmentRow, booking.appointment_id)
        assert initial is not None
        links = uow.session.scalars(select(AppointmentLinkRow).where(AppointmentLinkRow.source_id == initial.id))
        calls = [uow.session.get(AppointmentRow, link.target_id) for link in links if link.kind == "tech_setup"]
        uow.session.expunge_all()
        return initial, sorted((c for c in calls if c is not None), key=lambda c: c.created_at)


def _reasons(rt: Runtime, appointment_id: str) -> list[str | None]:
    with rt.uow() as uow:
        rows = uow.session.scalars(select(StatusHistoryRow).where(StatusHistoryRow.appointment_id == appointment_id))
        return [r.reason for r in rows]


def test_a_move_too_soon_for_any_call_cancels_the_stale_one_and_says_so(
    live: LiveServer, runtime: Runtime, world: World, people: People
) -> None:
    """The exploratory test's case: INITIAL moved to a day whose tech-setup window has no slot (here the tech-setup
    team is off on every day the rule may take): the call used to stay BOOKED after the INITIAL, nobody told."""
    secret = team_link(runtime, world)
    s, manage = _book(live, secret, _at(world.day(9), "10:00"))
    _, calls = _chain(runtime)
    assert [c.status for c in calls] == ["BOOKED"] and calls[0].date_start.date() == world.day(7)
    _days_off(runtime, world.tech, [world.day(n) for n in range(-4, 2)])
    _move(live, s, manage, _at(world.day(3), "10:00"))
    initial, calls = _chain(runtime)
    assert initial.date_start.astimezone(NY).date() == world.day(3)
    (stale,) = calls
    assert stale.status == "CANCELLED"  # not left BOOKED a week after the appointment it prepares
    reason = _reasons(runtime, stale.id)[-1]
    assert reason is not None and "no tech-setup slot" in reason
    with runtime.uow() as uow:
        assert uow.repo(SlotClaims).of(stale.id) is None  # its slot is released
    record = (initial.meta_extra or {}).get("tech_setup")
    assert isinstance(record, dict) and record["status"] == "unscheduled", initial.meta_extra
    assert record["cancelled_appointment_id"] == stale.id and "no tech-setup slot" in record["detail"]
    shown = live.client(people.admin.token).get(f"/api/v1/appointments/{initial.id}").json()  # what staff see
    assert shown["meta"]["tech_setup"]["status"] == "unscheduled", shown["meta"]


def test_a_move_takes_the_call_along_with_another_member_when_its_person_is_away(
    live: LiveServer, runtime: Runtime, world: World
) -> None:
    secret = team_link(runtime, world)
    s, manage = _book(live, secret, _at(world.day(9), "10:00"))
    _, (first,) = _chain(runtime)
    _days_off(runtime, first.calendar_id, [world.day(n) for n in range(-4, 2)])
    _move(live, s, manage, _at(world.day(3), "10:00"))
    initial, calls = _chain(runtime)
    assert [c.status for c in calls] == ["CANCELLED", "BOOKED"]
    new = calls[1]
    assert new.calendar_id in {world.t1, world.t2} - {first.calendar_id}
    assert new.date_start < initial.date_start and new.date_start.astimezone(NY).date() == world.day(1)
    assert "tech_setup" not in (initial.meta_extra or {})


def test_a_move_takes_the_call_along_with_its_person(live: LiveServer, runtime: Runtime, world: World) -> None:
    secret = team_link(runtime, world)
    s, manage = _book(live, secret, _at(world.day(9), "10:00"))
    _, (first,) = _chain(runtime)
    _move(live, s, manage, _at(world.day(3), "10:00"))
    initial, (call,) = _chain(runtime)
    assert call.id == first.id and call.status == "RESCHEDULED" and call.calendar_id == first.calendar_id
    assert call.date_start < initial.date_start and call.date_start.astimezone(NY).date() == world.day(1)


def test_a_booking_too_soon_for_a_call_records_it_unscheduled(live: LiveServer, runtime: Runtime, world: World) -> None:
    """Booked with no tech-setup slot before it: no call, and (it used to be dropped) the INITIAL says why."""
    _days_off(runtime, world.tech, [world.day(n) for n in range(-4, 2)])
    secret = team_link(runtime, world)
    _book(live, secret, _at(world.day(3), "10:00"))
    initial, calls = _chain(runtime)
    assert calls == []
    record = (initial.meta_extra or {}).get("tech_setup")
    assert isinstance(record, dict) and record["status"] == "unscheduled", initial.meta_extra
    assert "no tech-setup slot" in record["detail"]
