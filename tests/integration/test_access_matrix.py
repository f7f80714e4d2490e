"""Access matrix: fitter A's credentials against fitter B's data, on every channel, SQLite and PostgreSQL.

Fitter B (Berlin) holds an appointment with a patient (names, notes, an opportunity id) and a feed.
Fitter A (Denver) tries every channel: REST, OLS, CalDAV, feeds, the calendar page, availability,
bookings, interchange export (and import), webhooks and sync. Every cell asserts its status and
that none of B's patient data comes back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import AppointmentRow
from tests.caldav.support import event_ics
from tests.conftest import People
from tests.support.live import Api, LiveServer

SECRETS = ("Greta", "Geheim", "tinnitus")
OPPORTUNITY = "0069E00000BerlinQAJ"


@dataclass
class World:
    live: LiveServer
    people: People
    runtime: Runtime
    a: Api  # fitter A's REST token
    b_id: str  # B's appointment
    b_href: str  # its CalDAV item
    a_feed: str  # A's own feed token (A's calendar only)

    def dav(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        auth = (self.people.fitter.username, self.people.fitter.password)
        return requests.request(method, self.live.base_url + path, auth=auth, timeout=30, **kwargs)

    @property
    def b_calendar(self) -> str:
        assert self.people.other_fitter.calendar_id is not None
        return self.people.other_fitter.calendar_id

    def appointments(self) -> int:
        with self.runtime.uow() as uow:
            return int(uow.session.scalar(select(func.count()).select_from(AppointmentRow)) or 0)


@pytest.fixture
def world(live: LiveServer, people: People, runtime: Runtime) -> World:
    b = live.client(people.other_fitter.token)
    created = b.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.other_fitter.calendar_id},
            "date_start": "2026-12-15T09:00:00Z",
            "date_end": "2026-12-15T10:00:00Z",
            "name": "Fitting Greta Geheim",
            "description": "tinnitus, left ear",
            "guests": [{"id": "berlin-patient", "first_name": "Greta", "last_name": "Geheim"}],
            "meta": {"type": "FOLLOW_UP", "salesforce": {"opportunity_gid": OPPORTUNITY}},
        },
    )
    assert created.status_code == 201, created.text
    b_id = created.json()["id"]
    listing = requests.request(
        "PROPFIND",
        f"{live.base_url}/dav/{people.other_fitter.username}/appointments/",
        auth=(people.other_fitter.username, people.other_fitter.password),
        headers={"Depth": "1"},
        timeout=30,
    )
    assert listing.status_code == 207, listing.text
    hrefs = re.findall(r"<(?:D:)?href>([^<]+\.ics)</(?:D:)?href>", listing.text)
    assert len(hrefs) == 1, listing.text
    b_href = hrefs[0]
    a = live.client(people.fitter.token)
    feed = a.post(f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "mine"})
    assert feed.status_code == 201, feed.text
    return World(live, people, runtime, a, b_id, b_href, feed.json()["secret"])


def clean(response: requests.Response) -> None:
    for secret in SECRETS:
        assert secret not in response.text, (response.request.method, response.url, response.status_code)


def refused(response: requests.Response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.request.method, response.url, response.text[:300])
    clean(response)


# (channel, cell, action): each action gets the world and asserts its cell
Cell = Callable[[World], None]


def rest_get(w: World) -> None:
    refused(w.a.get(f"/api/v1/appointments/{w.b_id}"), 404)


def rest_patch(w: World) -> None:
    refused(w.a.patch(f"/api/v1/appointments/{w.b_id}", json={"name": "taken"}), 404)


def rest_delete(w: World) -> None:
    refused(w.a.delete(f"/api/v1/appointments/{w.b_id}"), 404)
    assert w.live.client(w.people.other_fitter.token).get(f"/api/v1/appointments/{w.b_id}").status_code == 200


def rest_history(w: World) -> None:
    refused(w.a.get(f"/api/v1/appointments/{w.b_id}/history"), 404)


def rest_list_b_calendar(w: World) -> None:
    refused(w.a.get("/api/v1/appointments", params={"calendar_id": w.b_calendar}), 403, 404, 422)


def rest_list_by_guest(w: World) -> None:
    response = w.a.get("/api/v1/appointments", params={"guest_id": "berlin-patient"})
    assert response.status_code == 200 and response.json()["items"] == []


def rest_list_by_opportunity(w: World) -> None:
    response = w.a.get("/api/v1/appointments", params={"opportunity_gid": OPPORTUNITY})
    assert response.status_code == 200 and response.json()["items"] == []


def rest_create_in_b(w: World) -> None:
    before = w.appointments()
    body = {
        "calendar": {"id": w.b_calendar},
        "date_start": "2026-12-16T09:00:00Z",
        "date_end": "2026-12-16T10:00:00Z",
        "name": "Planted",
        "meta": {"type": "FOLLOW_UP"},
    }
    refused(w.a.post("/api/v1/appointments", json=body), 403, 404, 422)
    assert w.appointments() == before


def ols_get(w: World) -> None:
    refused(w.a.get(f"/ols/appointments/{w.b_id}"), 404)


def ols_list(w: World) -> None:
    response = w.a.get("/ols/appointments")
    assert response.status_code == 200
    clean(response)


def ols_opportunity(w: World) -> None:
    response = w.a.get(f"/ols/opportunities/{OPPORTUNITY}/appointments")
    assert response.status_code in (200, 404)
    clean(response)
    if response.status_code == 200:
        assert w.b_id not in response.text


def ols_patch(w: World) -> None:
    refused(w.a.patch(f"/ols/appointments/{w.b_id}", json={"name": "taken"}), 404)


def ols_delete(w: World) -> None:
    refused(w.a.delete(f"/ols/appointments/{w.b_id}"), 404)


def dav_propfind(w: World) -> None:
    refused(w.dav("PROPFIND", f"/dav/{w.people.other_fitter.username}/appointments/", headers={"Depth": "1"}), 403, 404)


def dav_get(w: World) -> None:
    refused(w.dav("GET", w.b_href), 403, 404)


def dav_put(w: World) -> None:
    before = w.appointments()
    path = f"/dav/{w.people.other_fitter.username}/appointments/planted.ics"
    refused(w.dav("PUT", path, data=event_ics("planted@test")), 403, 404)
    assert w.appointments() == before


def dav_delete(w: World) -> None:
    refused(w.dav("DELETE", w.b_href), 403, 404)


def dav_report(w: World) -> None:
    query = (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
    )
    path = f"/dav/{w.people.other_fitter.username}/appointments/"
    refused(w.dav("REPORT", path, data=query, headers={"Depth": "1"}), 403, 404)


def feeds_list_b(w: World) -> None:
    refused(w.a.get(f"/api/v1/calendars/{w.b_calendar}/feeds"), 403, 404)


def feeds_create_b(w: World) -> None:
    refused(w.a.post(f"/api/v1/calendars/{w.b_calendar}/feeds", json={"name": "stolen"}), 403, 404)


def feeds_own_feed(w: World) -> None:
    response = requests.get(f"{w.live.base_url}/feeds/{w.a_feed}.ics", timeout=30)
    assert response.status_code == 200 and "BEGIN:VCALENDAR" in response.text
    clean(response)


def page_own(w: World) -> None:
    response = requests.get(f"{w.live.base_url}/calendar/{w.a_feed}.json", timeout=30)
    assert response.status_code == 200
    clean(response)


def page_guessed(w: World) -> None:
    refused(requests.get(f"{w.live.base_url}/calendar/{w.b_id}", timeout=30), 404)


def availability_b(w: World) -> None:
    params = {
        "calendar_id": w.b_calendar,
        "type": "FOLLOW_UP",
        "from": "2026-12-14T00:00:00Z",
        "to": "2026-12-21T00:00:00Z",
    }
    response = w.a.get("/api/v1/availability", params=params)
    assert response.status_code in (200, 403, 404), response.text
    clean(response)


def availability_rules_b(w: World) -> None:
    rules = {"weekly_hours": {"mon": [{"start": "00:00", "end": "23:00"}]}}
    refused(w.a.put(f"/api/v1/calendars/{w.b_calendar}/availability-rules", json=rules), 403, 404)


def availability_rules_b_read(w: World) -> None:
    refused(w.a.get(f"/api/v1/calendars/{w.b_calendar}/availability-rules"), 404)


def availability_exceptions_b_read(w: World) -> None:
    """B's day off names its reason (health data, as often as not): A gets the same 404 as for no calendar."""
    admin = w.live.client(w.people.admin.token)
    day_off = {"date": "2026-12-24", "hours": [], "reason": "Greta Geheim: tinnitus clinic"}
    assert admin.post(f"/api/v1/calendars/{w.b_calendar}/availability-exceptions", json=day_off).ok
    refused(w.a.get(f"/api/v1/calendars/{w.b_calendar}/availability-exceptions"), 404)
    assert w.a.get("/api/v1/calendars/no-such-calendar/availability-exceptions").status_code == 404


def bookings_cancel_b(w: World) -> None:
    refused(w.a.post(f"/api/v1/bookings/{w.b_id}/cancel", json={"reason": "x"}), 404)
    assert (
        w.live.client(w.people.other_fitter.token).get(f"/api/v1/appointments/{w.b_id}").json()["status"] != "CANCELLED"
    )


def bookings_reschedule_b(w: World) -> None:
    refused(w.a.post(f"/api/v1/bookings/{w.b_id}/reschedule", json={"date_start": "2026-12-17T09:00:00Z"}), 404)


def export_b(w: World) -> None:
    refused(w.a.get("/api/v1/export/canonical", params={"calendar_id": w.b_calendar}), 403, 404, 422)


def export_all(w: World) -> None:
    response = w.a.get("/api/v1/export/canonical")
    assert response.status_code == 200, response.text
    clean(response)
    assert w.b_id not in response.text


def import_into_b(w: World) -> None:
    before = w.appointments()
    item = {
        "id": "5d0c7a52-6a4c-4f55-9d39-9d3a4a6f1b10",
        "calendar": {"id": w.b_calendar},
        "created_at": "2026-12-01T00:00:00.000Z",
        "updated_at": "2026-12-01T00:00:00.000Z",
        "date_start": "2026-12-18T09:00:00.000Z",
        "date_end": "2026-12-18T10:00:00.000Z",
        "name": "Imported",
        "status": "BOOKED",
        "meta": {"type": "FOLLOW_UP"},
    }
    response = w.a.post("/api/v1/import/canonical", json={"items": [item]})
    assert response.status_code in (200, 403, 404, 422), response.text
    if response.status_code == 200:  # per-item results: this one refused
        assert [r["status"] for r in response.json()["results"]] == ["error"], response.text
        assert "calendar" in response.text
    assert w.appointments() == before


def webhooks_list(w: World) -> None:
    refused(w.a.get("/api/v1/webhooks"), 403)


def webhooks_create(w: World) -> None:
    refused(w.a.post("/api/v1/webhooks", json={"url": "https://example.com/steal"}), 403)


def sync_status(w: World) -> None:
    refused(w.a.get("/api/v1/sync/status"), 403)


def sync_dead_letters(w: World) -> None:
    refused(w.a.get("/api/v1/sync/dead-letters"), 403)


CELLS: dict[str, Cell] = {
    "REST get": rest_get,
    "REST patch": rest_patch,
    "REST delete": rest_delete,
    "REST history": rest_history,
    "REST list B's calendar": rest_list_b_calendar,
    "REST list by B's guest id": rest_list_by_guest,
    "REST list by B's opportunity": rest_list_by_opportunity,
    "REST create in B's calendar": rest_create_in_b,
    "OLS get": ols_get,
    "OLS list": ols_list,
    "OLS opportunity": ols_opportunity,
    "OLS patch": ols_patch,
    "OLS delete": ols_delete,
    "CalDAV PROPFIND": dav_propfind,
    "CalDAV GET": dav_get,
    "CalDAV PUT": dav_put,
    "CalDAV DELETE": dav_delete,
    "CalDAV REPORT": dav_report,
    "feeds list B's tokens": feeds_list_b,
    "feeds create a token for B": feeds_create_b,
    "feeds A's own feed": feeds_own_feed,
    "page A's own page": page_own,
    "page guessed token": page_guessed,
    "availability of B": availability_b,
    "availability rules of B": availability_rules_b,
    "availability rules of B, read": availability_rules_b_read,
    "availability exceptions of B, read": availability_exceptions_b_read,
    "bookings cancel B's": bookings_cancel_b,
    "bookings reschedule B's": bookings_reschedule_b,
    "interchange export B's calendar": export_b,
    "interchange export everything A sees": export_all,
    "interchange import into B's calendar": import_into_b,
    "webhooks list": webhooks_list,
    "webhooks create": webhooks_create,
    "sync status": sync_status,
    "sync dead letters": sync_dead_letters,
}


def test_fitter_a_against_fitter_b(world: World) -> None:
    """Every cell, against one server per database (setting one up costs more than all the cells)."""
    failures = []
    for name, cell in CELLS.items():
        try:
            cell(world)
        except AssertionError as exc:
            failures.append(f"{name}: {str(exc)[:300]}")
    assert failures == []
