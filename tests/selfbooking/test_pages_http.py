"""The booking and manage pages over real HTTP (no browser): the whole flow, its guards and headers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.tables import AppointmentRow
from tests.scheduling.conftest import World
from tests.support.live import LiveServer, loopback_session


def team_link(rt: Runtime, world: World, **extra: object) -> str:
    draft = LinkDraft.model_validate({"team_id": world.consultants, "name": "Website", **extra})
    secret = links.issue(rt.uow(), system_actor(), draft, "http://x").secret
    assert secret is not None  # shown at issue (null only in an idempotent replay)
    return secret


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def hold_secret(html: str) -> str:
    found = re.search(r'name="hold" value="([^"]+)"', html)
    assert found
    return found.group(1)


def hold(s: requests.Session, base: str, page: str, start: str, zone: str, lang: str) -> dict[str, str]:
    """Hold ``start`` from the booking ``page`` (its HTML) of ``base``; the details form's hidden fields."""
    held = s.post(f"{base}/hold", data={"start": start, "tz": zone, "csrf_token": csrf(page)})
    assert held.status_code == 200, held.text
    return {"csrf_token": csrf(held.text), "hold": hold_secret(held.text), "start": start, "tz": zone, "lang": lang}


def first_slot(html: str, world: World) -> str:
    """The first slot offered on or after the world's Monday (the week the test asked to see)."""
    starts = [s for s in re.findall(r'name="start" value="([^"]+)"', html) if s >= world.monday.isoformat()]
    assert starts, "no slot offered"
    return starts[0]


def week_of(world: World) -> str:
    return world.monday.isoformat()


def test_book_manage_cancel_over_http(live: LiveServer, runtime: Runtime, world: World) -> None:
    secret = team_link(runtime, world)
    s = loopback_session()
    base = f"{live.base_url}/book/{secret}"
    page = s.get(base, params={"tz": "Europe/Berlin", "week": week_of(world), "lang": "en"})
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "Europe/Berlin" in page.text
    start = first_slot(page.text, world)
    # 09:00 New York is 15:00 Berlin: the first slot of the day, shown in the customer's zone
    assert datetime.fromisoformat(start).astimezone(UTC).hour in (14, 13)
    assert ">15:00<" in page.text or ">3:00\u202fPM<" in page.text

    no_csrf = s.post(f"{base}/hold", data={"start": start, "tz": "Europe/Berlin"})
    assert no_csrf.status_code == 400
    form = {
        **hold(s, base, page.text, start, "Europe/Berlin", "en"),
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "phone": "",
        "consent": "yes",
    }
    bad = s.post(f"{base}/confirm", data={**form, "email": "not-an-address"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text
    trapped = s.post(f"{base}/confirm", data={**form, "website": "http://spam"})
    assert trapped.status_code == 400
    done = s.post(f"{base}/confirm", data=form)
    assert done.status_code == 200, done.text
    assert "jane@example.org" not in done.url and "Jane" not in done.url
    manage_link = re.search(r'id="manage-link" href="([^"]+)"', done.text)
    assert manage_link, done.text
    manage_path = manage_link.group(1).replace("&amp;", "&")
    again = s.post(f"{base}/confirm", data=form)  # sent twice (a reload): the same booking, nothing booked twice
    assert again.status_code == 200 and 'id="booked"' in again.text and manage_path.split("?")[0] in again.text
    with runtime.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None
        appointment = uow.session.get(AppointmentRow, booking.appointment_id)
        assert appointment is not None
        assert booking.state == "booked" and appointment.status == "BOOKED"
        assert [g.first_name for g in appointment.guests] == ["Jane"]
        kinds = [m.kind for m in uow.session.scalars(select(CustomerMessageRow))]
        assert kinds == ["confirmation"]
    manage = s.get(live.base_url + manage_path, params={"tz": "Europe/Berlin"})
    assert manage.status_code == 200 and manage.headers["Cache-Control"] == "no-store"
    cancelled = s.post(
        live.base_url + manage_path.split("?")[0] + "/cancel", data={"csrf_token": csrf(manage.text), "reason": "ill"}
    )
    assert cancelled.status_code == 200, cancelled.text
    assert s.get(live.base_url + manage_path).status_code == 404
    with runtime.uow() as uow:
        kinds = sorted(m.kind for m in uow.session.scalars(select(CustomerMessageRow)))
        assert kinds == ["cancelled", "confirmation"]


def test_unknown_and_revoked_links_are_404(live: LiveServer, runtime: Runtime, world: World) -> None:
    assert requests.get(f"{live.base_url}/book/nope").status_code == 404
    assert requests.get(f"{live.base_url}/manage/nope").status_code == 404
    expired = team_link(runtime, world, expires_at=(datetime.now(UTC) + timedelta(seconds=1)).isoformat())
    assert requests.get(f"{live.base_url}/book/{expired}", params={"tz": "UTC"}).status_code == 200


def _held_form(live: LiveServer, runtime: Runtime, world: World, lang: str) -> tuple[requests.Session, str, dict]:
    secret = team_link(runtime, world)
    s = loopback_session()
    base = f"{live.base_url}/book/{secret}"
    page = s.get(base, params={"tz": "Europe/Berlin", "week": week_of(world), "lang": lang})
    start = first_slot(page.text, world)
    form = {
        **hold(s, base, page.text, start, "Europe/Berlin", lang),
        "first_name": "Jürgen",
        "last_name": "Müller-Lüdenscheidt",
        "email": "juergen@example.org",
        "phone": "",
    }
    return s, base, form


def _field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found, html[:3000]
    assert f'id="{field}" name="{field}"' in html and f'aria-describedby="{field}-error"' in html
    return found.group(1)


def test_control_characters_and_address_lists_are_refused(live: LiveServer, runtime: Runtime, world: World) -> None:
    """A name with a line break reached the email ("Hallo Jürgen / Bcc: evil@x.org / / INJECT,") and the appointment's
    name (CalDAV, feeds, Salesforce); an address with a comma sent mail to two. Both are now field errors, in the
    page's language, and nothing is booked."""
    s, base, form = _held_form(live, runtime, world, "de")
    injected = {
        "first_name": "Jürgen\r\nBcc: evil@x.org\r\n\r\nINJECT",
        "last_name": "Doe\x00",
        "phone": "+49 30\n1234567",
    }
    for field, value in injected.items():
        refused = s.post(f"{base}/confirm", data={**form, field: value})
        assert refused.status_code == 400, (field, refused.text[:500])
        assert "Steuerzeichen" in _field_error(refused.text, field) or field == "phone", field
    for name in ("Ann\u2028Bcc: x@y.org", "Tab\there", "Bidi\u202etxt"):
        assert s.post(f"{base}/confirm", data={**form, "first_name": name}).status_code == 400, repr(name)
    for address in (
        "x,victim@example.org",
        "juergen@example.org, victim@example.org",
        "Jürgen <juergen@example.org>",
        "juergen@example.org\r\nBcc: evil@x.org",
        "a..b@example.org",
        "juergen@example..org",
        "juergen@-example.org",
        "(comment)juergen@example.org",
    ):
        refused = s.post(f"{base}/confirm", data={**form, "email": address})
        assert refused.status_code == 400, address
        assert _field_error(refused.text, "email") == "Bitte geben Sie eine gültige E-Mail-Adresse ein.", address
    with runtime.uow() as uow:
        booking = uow.session.scalar(select(CustomerBookingRow))
        assert booking is not None and booking.state == "held" and booking.email is None
        appointment = uow.session.get(AppointmentRow, booking.appointment_id)
        assert appointment is not None and appointment.status == "RESERVED" and "INJECT" not in appointment.name
        assert uow.session.scalar(select(CustomerMessageRow)) is None
    accepted = s.post(f"{base}/confirm", data={**form, "email": "o'brien+termin@mail.example.co.uk"})
    assert accepted.status_code == 200, accepted.text  # an ordinary name and a plain addr-spec still book


def test_name_error_in_english(live: LiveServer, runtime: Runtime, world: World) -> None:
    s, base, form = _held_form(live, runtime, world, "en")
    refused = s.post(f"{base}/confirm", data={**form, "last_name": "Doe\r\nX-Header: 1"})
    assert refused.status_code == 400
    assert "control characters" in _field_error(refused.text, "last_name")
