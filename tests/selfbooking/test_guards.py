"""A personal link holds at most one live booking; form posts are rate-limited per address and per link;
a hold cannot be confirmed through another link; nothing personal reaches a URL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.errors import NotFound
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling.booking import expire_holds
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.rules import SchedulingOptions
from caldav_bridge.selfbooking import customer
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.store.tables import AppointmentRow
from tests.scheduling.conftest import World
from tests.selfbooking.helpers import book, first_slot, team_link
from tests.support.live import LiveServer, loopback_session, serve


def _personal(rt: Runtime, world: World) -> str:
    return team_link(rt, world, kind="personal", salesforce={"opportunity_gid": "006000000000042AAA"})


def test_a_personal_link_holds_one_live_booking(runtime: Runtime, world: World) -> None:
    rt = runtime
    secret = _personal(rt, world)
    start = first_slot(rt, secret, world)
    view = book(rt, secret, start)
    options = SchedulingOptions.from_settings(rt.settings)
    with pytest.raises(customer.AlreadyBooked):
        customer.hold(rt.uow, secret, start.replace(hour=start.hour + 1), "Europe/Berlin", "en", options)
    with rt.uow() as uow:
        booking = uow.session.get(CustomerBookingRow, view.booking_id)
        assert booking is not None
        appointment = uow.session.get(AppointmentRow, booking.appointment_id)
        assert appointment is not None and appointment.sf_opportunity_gid == "006000000000042AAA"
    customer.cancel(rt.uow, view.manage_secret, None)
    again = book(rt, secret, start)  # cancelled: the link may book again
    assert again.booking_id != view.booking_id


def test_a_hold_belongs_to_its_link(runtime: Runtime, world: World) -> None:
    rt = runtime
    one, other = team_link(rt, world), team_link(rt, world)
    options = SchedulingOptions.from_settings(rt.settings)
    held = customer.hold(rt.uow, one, first_slot(rt, one, world), "UTC", "en", options)
    details = customer.CustomerDetails("Eve", "X", "eve@example.org", None, False, "UTC", "en")
    with pytest.raises(NotFound):
        customer.confirm(rt.uow, other, held.secret, details, options, service_key(rt.settings))


def test_form_posts_are_rate_limited_per_link(runtime: Runtime, world: World) -> None:
    rt = runtime.__class__.from_settings(runtime.settings.replace(booking_link_rate_limit_per_minute=3), runtime.engine)
    secret = team_link(rt, world)
    with serve(rt) as live:
        s = loopback_session()
        page = s.get(f"{live.base_url}/book/{secret}", params={"tz": "UTC"})
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        codes = [s.post(f"{live.base_url}/book/{secret}/hold", data={"csrf_token": csrf}).status_code for _ in range(4)]
        assert codes == [400, 400, 400, 429]  # no slot chosen: 400 each, until the link's budget is spent
        refused = s.post(f"{live.base_url}/book/{secret}/hold", data={"csrf_token": csrf})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["Cache-Control"] == "no-store"


def test_form_posts_are_rate_limited_per_address(runtime: Runtime, world: World, live: LiveServer) -> None:
    secret = team_link(runtime, world)
    limit = runtime.settings.booking_rate_limit_per_minute
    codes = [requests.post(f"{live.base_url}/book/{secret}/hold", data={}).status_code for _ in range(limit + 1)]
    assert codes[:limit] == [400] * limit and codes[-1] == 429  # CSRF refused each; then the address is limited


def test_an_expired_hold_frees_the_slot_and_the_personal_link(runtime: Runtime, world: World) -> None:
    """A customer who never confirms: the hold expires (the booking flows' expiry), the customer booking with it
    (through the event handler), and a personal link may book again; the late confirmation is refused."""
    rt = runtime
    secret = _personal(rt, world)
    start = first_slot(rt, secret, world)
    options = SchedulingOptions.from_settings(rt.settings)
    held = customer.hold(rt.uow, secret, start, "Europe/Berlin", "en", options)
    details = customer.CustomerDetails("Late", "Comer", "late@example.org", None, True, "Europe/Berlin", "en")
    assert expire_holds(rt.uow(), now=held.expires_at + timedelta(seconds=1)) == 1
    with rt.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None and booking.state == "expired" and booking.active_link_id is None
        assert uow.session.scalar(select(CustomerMessageRow)) is None  # never booked: nothing to tell
    with pytest.raises(NotFound):
        customer.confirm(rt.uow, secret, held.secret, details, options, service_key(rt.settings))
    book(rt, secret, start)  # the slot and the link are free again


def _reserved(rt: Runtime) -> list[AppointmentRow]:
    with rt.uow() as uow:
        rows = list(uow.session.scalars(select(AppointmentRow).where(AppointmentRow.status == "RESERVED")))
        uow.session.expunge_all()
        return rows


def test_a_visitor_holds_one_slot_and_a_repeat_is_the_same_hold(
    live: LiveServer, runtime: Runtime, world: World
) -> None:
    """A double click or back-and-resubmit used to hold a second consultant and then answer 409 "just taken"
    (its own hold); one session could hold the team's whole week. Now: the same hold again; a new slot releases
    the visitor's previous hold."""
    secret = team_link(runtime, world)
    s = loopback_session()
    base = f"{live.base_url}/book/{secret}"
    page = s.get(base, params={"tz": "UTC", "week": world.monday.isoformat(), "lang": "en"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    starts = [v for v in re.findall(r'name="start" value="([^"]+)"', page.text) if v >= world.monday.isoformat()]
    first, second = starts[0], starts[1]
    answers = [s.post(f"{base}/hold", data={"start": first, "tz": "UTC", "csrf_token": token}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200], answers[-1].text
    holds = {re.search(r'name="hold" value="([^"]+)"', a.text).group(1) for a in answers}  # type: ignore[union-attr]
    assert len(holds) == 1  # the same hold each time
    (held,) = _reserved(runtime)  # one consultant tied up, not two
    other = s.post(f"{base}/hold", data={"start": second, "tz": "UTC", "csrf_token": token})
    assert other.status_code == 200, other.text
    (now_held,) = _reserved(runtime)  # the previous hold was released for the new one
    assert now_held.id != held.id and now_held.date_start == datetime.fromisoformat(second)
    with runtime.uow() as uow:
        released = uow.session.get(AppointmentRow, held.id)
        assert released is not None and released.status == "CANCELLED"
        booking = uow.session.scalar(select(CustomerBookingRow).where(CustomerBookingRow.appointment_id == held.id))
        assert booking is not None and booking.state == "expired"
    form = {"csrf_token": token, "hold": holds.pop(), "start": first, "tz": "UTC", "lang": "en"}
    form.update(first_name="Jane", last_name="Doe", email="jane@example.org")
    late = s.post(f"{base}/confirm", data=form)  # the released hold books nothing
    assert late.status_code == 409 and len(_reserved(runtime)) == 1
    stranger = loopback_session()  # another visitor may hold the released slot
    theirs = stranger.get(base, params={"tz": "UTC", "week": world.monday.isoformat()})
    token2 = re.search(r'name="csrf_token" value="([^"]+)"', theirs.text).group(1)  # type: ignore[union-attr]
    assert stranger.post(f"{base}/hold", data={"start": first, "tz": "UTC", "csrf_token": token2}).status_code == 200
    assert len(_reserved(runtime)) == 2


def test_a_start_the_page_does_not_offer_is_refused_and_holds_nothing(runtime: Runtime, world: World) -> None:
    """Failed before: a crafted start off the hourly grid (14:30) was held, blocking the 14:00 and 15:00 slots the
    page offers; so were starts outside the hours. A move off the grid likewise."""
    secret = team_link(runtime, world)
    options = SchedulingOptions.from_settings(runtime.settings)
    slot = first_slot(runtime, secret, world)
    for start in (slot + timedelta(minutes=30), slot.replace(hour=3), slot - timedelta(days=60)):
        with pytest.raises(SlotUnavailable, match="not one the booking page offers"):
            customer.hold(runtime.uow, secret, start, "Europe/Berlin", "en", options)
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AppointmentRow)) == 0
    view = book(runtime, secret, slot)
    with pytest.raises(SlotUnavailable, match="not one the booking page offers"):
        customer.reschedule(
            runtime.uow,
            view.manage_secret,
            slot + timedelta(days=1, minutes=30),
            options,
            service_key(runtime.settings),
        )
    held = customer.hold(
        runtime.uow, team_link(runtime, world), slot + timedelta(hours=1), "Europe/Berlin", "en", options
    )
    assert held.start == slot + timedelta(hours=1)  # on the grid: held as before
