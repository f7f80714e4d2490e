"""After every write of an appointment or its guests, what the REST API answers is the appointment as it now is.

For each write path (REST and OLS, a no-show, the booking flows and their TECH_SETUP chain, one occurrence of a
series, CalDAV PUT/MOVE/DELETE, the Salesforce mirror and push, the canonical and ``.ics`` imports,
``AppointmentRepository.record_sf_appointment_gid``'s Core UPDATE, a calendar's rename, a guest's person renamed by
another write) the test writes, then reads the appointment both ways the API answers it and holds:

- the list's item (``GET /api/v1/appointments`` filtered to the appointment's calendar and times) is, as text inside
  the page, byte for byte the single read's body (``GET /api/v1/appointments/{id}``);
- both are ``mapping.canonical_text`` of the row as a fresh ORM session loads it (the API's Python encoder:
  ``services.appointments._encode_plain``), and the single read's ETag is ``mapping.etag_of`` that row;
- a write that changes the JSON changes the ETag, and a conditional read with the ETag read before the write is
  answered with the new body, not ``304``.

The database encodes the API's JSON on every read today (``store/plain_reads._canonical_sql``); these tests hold any
later stored copy of it to the row's real state: a copy a write left stale differs from the JSON computed here from
the row. (Tried: a copy kept per ``(id, version)`` in ``plain_reads`` fails the calendar-rename test; with
``record_sf_appointment_gid`` also not moving ``version``, the push test fails too.) Over real HTTP on loopback;
SQLite and PostgreSQL.

Found while writing it: a calendar's rename changes every one of its appointments' JSON (``calendar.name``) but not
their ``version``; their ETag did not change either until ``mapping.etag_of`` took in the calendar's name
(``test_a_calendar_rename_changes_its_appointments_etags``; ``tests/e2e/test_api_appointments.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from caldav_bridge.converters.salesforce import format_sf_datetime
from caldav_bridge.model.timestamps import format_timestamp
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import users
from caldav_bridge.services.mapping import appointment_from_row, canonical_text, etag_of
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.salesforce.conftest import add_opportunity, make_context
from tests.scheduling.conftest import build_world
from tests.support.factories import appointment_body, iso
from tests.support.live import Api, LiveServer

#: Appointments start here (future: a no-show needs a past one, made apart).
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=20)
OPPORTUNITY = "0069E00000HbsUrQAJ"
NEW_YORK = ZoneInfo("America/New_York")
PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:">'
    "<D:set><D:prop><D:displayname>{name}</D:displayname></D:prop></D:set></D:propertyupdate>"
)


@dataclass(frozen=True)
class Seen:
    """An appointment as the API answers it: its JSON text (both reads agree on it) and its ETag."""

    text: str
    etag: str

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.text)
        return value


def page_items(body: str) -> dict[str, str]:
    """The items of a list's body (``{"items":[...],"next_cursor":...}``) by id, each as its text in the body."""
    prefix = '{"items":['
    assert body.startswith(prefix), body[:80]
    decoder = json.JSONDecoder()
    items: dict[str, str] = {}
    at = len(prefix)
    while body[at] != "]":
        value, end = decoder.raw_decode(body, at)
        items[value["id"]] = body[at:end]
        at = end + (body[end] == ",")
    return items


class Reader:
    """Reads an appointment over the API (list and single read) and from a fresh ORM session, and holds them equal."""

    def __init__(self, api: Api, runtime: Runtime) -> None:
        self.api = api
        self.runtime = runtime

    def seen(self, appointment_id: str, step: str) -> Seen:
        single = self.api.get(f"/api/v1/appointments/{appointment_id}")
        assert single.status_code == 200, (step, single.text)
        body = single.content.decode("ascii")
        assert body.endswith("\n"), step
        text = body[:-1]
        etag = single.headers["ETag"]
        listed = self._listed(appointment_id, json.loads(text), step)
        assert listed == text, f"{step}: the list's item differs from the single read\n{listed}\n{text}"
        with self.runtime.uow() as uow:  # a fresh session: the row as the database now holds it
            row = uow.appointments.get(appointment_id)
            assert row is not None, step
            expected, expected_etag = canonical_text(row), etag_of(row)
            model = appointment_from_row(row).model_dump(mode="json")
        assert text == expected, f"{step}: the API's JSON is not the row's\n{text}\n{expected}"
        assert json.loads(text) == model, step
        assert etag == expected_etag, (step, etag, expected_etag)
        return Seen(text, etag)

    def _listed(self, appointment_id: str, document: dict[str, Any], step: str) -> str:
        """The appointment's item in a page filtered to its calendar and times, as text."""
        params = {
            "calendar_id": document["calendar"]["id"],
            "from": document["date_start"],
            "to": document["date_end"],
            "kind": "all",
            "limit": 100,
        }
        page = self.api.get("/api/v1/appointments", params=params)
        assert page.status_code == 200, (step, page.text)
        items = page_items(page.content.decode("ascii"))
        assert appointment_id in items, (step, list(items), page.json()["next_cursor"])
        return items[appointment_id]

    def changed(self, appointment_id: str, before: Seen, step: str) -> Seen:
        """The appointment after a write that changed it: coherent, with new JSON and a new ETag; a conditional
        read with the old ETag is answered with the new body."""
        after = self.seen(appointment_id, step)
        assert after.text != before.text, f"{step}: the write changed nothing the API shows"
        assert after.etag != before.etag, f"{step}: the JSON changed, the ETag did not ({after.etag})"
        again = self.api.get(f"/api/v1/appointments/{appointment_id}", headers={"If-None-Match": before.etag})
        assert again.status_code == 200 and again.content.decode("ascii")[:-1] == after.text, (step, again.status_code)
        return after

    def gone(self, appointment_id: str, calendar_id: str, step: str) -> None:
        """A deleted appointment: the single read is a 404, the calendar's list leaves it out, the row is gone."""
        assert self.api.get(f"/api/v1/appointments/{appointment_id}").status_code == 404, step
        page = self.api.get("/api/v1/appointments", params={"calendar_id": calendar_id, "kind": "all", "limit": 100})
        assert page.status_code == 200 and appointment_id not in page_items(page.content.decode("ascii")), step
        with self.runtime.uow() as uow:
            assert uow.appointments.get(appointment_id) is None, step


@pytest.fixture
def reader(live: LiveServer, people: People) -> Reader:
    return Reader(live.client(people.dispatcher.token), live.runtime)


def _created(api: Api, body: dict[str, Any]) -> str:
    response = api.post("/api/v1/appointments", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _ok(response: requests.Response) -> requests.Response:
    assert response.status_code in (200, 201, 204), (response.request.method, response.request.url, response.text)
    return response


# ------------------------------------------------------------------------------------------------------ REST, OLS


def test_every_rest_and_ols_write_leaves_both_reads_equal_to_the_row(reader: Reader, people: People) -> None:
    api, calendar_id = reader.api, people.fitter.calendar_id or ""
    appointment_id = _created(api, appointment_body(calendar_id, start=T0))
    seen = reader.seen(appointment_id, "create")
    one = f"/api/v1/appointments/{appointment_id}"

    patches: list[tuple[str, dict[str, Any]]] = [
        ("PATCH name", {"name": "Fitting — both ears"}),
        ("PATCH description", {"description": "Bring the old aids. Parking: Ünterstraße"}),
        ("PATCH description to null", {"description": None}),
        ("PATCH times", {"date_start": iso(T0 + timedelta(hours=2)), "date_end": iso(T0 + timedelta(hours=3))}),
        ("PATCH status", {"status": "RESERVED"}),
        (
            "PATCH guests: one added",
            {
                "guests": [
                    {"id": "cust-1", "first_name": "Jane", "last_name": "Doe", "timezone": "America/Denver"},
                    {"id": "cust-2", "first_name": "John", "last_name": "Roe", "relation": "spouse"},
                ]
            },
        ),
        (
            "PATCH guests: one renamed",
            {
                "guests": [
                    {"id": "cust-1", "first_name": "Janet", "last_name": "Doe", "timezone": "America/Denver"},
                    {"id": "cust-2", "first_name": "John", "last_name": "Roe", "relation": "spouse"},
                ]
            },
        ),
        ("PATCH guests: one removed", {"guests": [{"id": "cust-2", "first_name": "John", "last_name": "Roe"}]}),
        ("PATCH meta: an extra added", {"meta": {"room": "2B", "nested": {"a": [1, 2.5, None]}}}),
        ("PATCH meta: an extra changed", {"meta": {"room": "3C"}}),
        ("PATCH meta: an extra removed", {"meta": {"room": None}}),
        (
            "PATCH meta: type and Salesforce ids",
            {"meta": {"type": "FOLLOW_UP", "salesforce": {"customer_gid": "003X"}}},
        ),
    ]
    for step, patch in patches:
        _ok(api.patch(one, json=patch))
        seen = reader.changed(appointment_id, seen, step)

    _ok(api.post(f"{one}/book"))
    seen = reader.changed(appointment_id, seen, "book")
    later = T0 + timedelta(days=1)
    _ok(api.post(f"{one}/reschedule", json={"date_start": iso(later), "date_end": iso(later + timedelta(hours=1))}))
    seen = reader.changed(appointment_id, seen, "reschedule")
    _ok(api.patch(f"/ols/appointments/{appointment_id}", json={"name": "Renamed over OLS"}))
    seen = reader.changed(appointment_id, seen, "OLS PATCH")

    slot = T0 + timedelta(days=2)
    follow = _ok(
        api.post(f"{one}/follow-ups", json={"date_start": iso(slot), "date_end": iso(slot + timedelta(minutes=30))})
    )
    reader.seen(str(follow.json()["id"]), "follow-up (a new appointment)")

    _ok(api.post(f"{one}/cancel", json={"reason": "customer called"}))
    reader.changed(appointment_id, seen, "cancel")
    _ok(api.delete(one))
    reader.gone(appointment_id, calendar_id, "delete")

    past = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    started = _created(api, appointment_body(calendar_id, start=past))
    seen = reader.seen(started, "create (started)")
    _ok(api.post(f"/api/v1/appointments/{started}/no-show"))
    reader.changed(started, seen, "no-show")
    ols = {
        "date_v2": iso(T0 + timedelta(days=5)),
        "type": "FITTING",
        "status": "scheduled",
        "opportunity_gid": OPPORTUNITY,
        "name": "Fitting from OLS",
        "calendar_id": calendar_id,
    }
    created = _ok(api.post("/ols/appointments", json=ols))
    reader.seen(str(created.json()["id"]), "OLS create")


def test_a_series_occurrence_changed_over_rest_leaves_both_reads_equal_to_the_row(
    reader: Reader, live: LiveServer, people: People
) -> None:
    fitter = people.fitter
    dav = dav_session(fitter.username, fitter.password)
    href = f"{live.base_url}/dav/{fitter.username}/appointments/weekly.ics"
    first = T0.replace(hour=16)
    weekly = event_ics(
        "weekly@coherence",
        start=first.strftime("%Y%m%dT%H%M%S"),
        end=(first + timedelta(hours=1)).strftime("%Y%m%dT%H%M%S"),
        tzid=None,
        extra="RRULE:FREQ=WEEKLY;COUNT=4\r\n",
    )
    _ok(dav.put(href, data=weekly, timeout=30))
    appointment_id = _only_id(reader.api, fitter.calendar_id or "")
    seen = reader.seen(appointment_id, "CalDAV PUT of a new series")
    second = first + timedelta(weeks=1)
    path = f"/api/v1/appointments/{appointment_id}/occurrences/{format_timestamp(second)}"
    moved = second + timedelta(hours=2)
    _ok(reader.api.patch(path, json={"date_start": iso(moved), "date_end": iso(moved + timedelta(hours=1))}))
    seen = reader.changed(appointment_id, seen, "occurrence moved")
    _ok(reader.api.patch(path, json={"name": "Second week, retitled"}))
    seen = reader.changed(appointment_id, seen, "occurrence retitled")
    third = format_timestamp(first + timedelta(weeks=2))
    _ok(reader.api.patch(f"/api/v1/appointments/{appointment_id}/occurrences/{third}", json={"cancelled": True}))
    reader.changed(appointment_id, seen, "occurrence cancelled")


def _only_id(api: Api, calendar_id: str) -> str:
    items = api.get("/api/v1/appointments", params={"calendar_id": calendar_id, "kind": "all"}).json()["items"]
    assert len(items) == 1, items
    return str(items[0]["id"])


def test_a_booking_flow_and_its_tech_setup_chain_leave_both_reads_equal_to_the_row(
    reader: Reader, live: LiveServer, people: People, runtime: Runtime
) -> None:
    """The scheduling flows write a second appointment as a consequence of the first: the INITIAL's TECH_SETUP
    call, moved along with it and cancelled with it."""
    world = build_world(runtime)
    api = live.client(people.admin.token)
    start = datetime.combine(world.day(3), time(9), tzinfo=NEW_YORK)
    body = {
        "team_id": world.consultants,
        "date_start": iso(start),
        "name": "Consultation w/Jane",
        "guests": [{"id": "cust-1", "first_name": "Jane", "last_name": "Doe"}],
        "meta": {"salesforce": {"opportunity_gid": OPPORTUNITY}},
    }
    booked = _ok(api.post("/api/v1/bookings/initial", json=body)).json()
    initial, tech = str(booked["appointment"]["id"]), str(booked["tech_setup"]["appointment"]["id"])
    kinds = {initial: "INITIAL", tech: "TECH_SETUP"}
    seen = {i: reader.seen(i, f"booked: {kind}") for i, kind in kinds.items()}

    moved = {"date_start": iso(start + timedelta(days=1)), "move_tech_setup": True}
    answer = _ok(api.post(f"/api/v1/bookings/{initial}/reschedule", json=moved)).json()
    assert answer["tech_setup_offer"]["moved"] is True, answer
    seen = {i: reader.changed(i, seen[i], f"booking rescheduled: {kind}") for i, kind in kinds.items()}
    cancelled = _ok(api.post(f"/api/v1/bookings/{initial}/cancel", json={"reason": "customer withdrew"})).json()
    assert cancelled["cancelled"] == [tech], cancelled
    for i, kind in kinds.items():
        reader.changed(i, seen[i], f"booking cancelled: {kind} (the TECH_SETUP as its consequence)")


# ------------------------------------------------------------------------------------------------------ CalDAV


def test_every_caldav_write_leaves_both_reads_equal_to_the_row(
    reader: Reader, live: LiveServer, people: People
) -> None:
    fitter = people.fitter
    calendar_id = fitter.calendar_id or ""
    dav = dav_session(fitter.username, fitter.password)
    home = f"{live.base_url}/dav/{fitter.username}"
    appointment_id = _created(reader.api, appointment_body(calendar_id, start=T0))
    seen = reader.seen(appointment_id, "REST create")
    url = f"{home}/appointments/{appointment_id}.ics"

    def put(step: str, edit: Any) -> None:
        nonlocal seen
        got = _ok(dav.get(url, timeout=30))
        text = edit(got.text)
        assert text != got.text, step
        _ok(dav.put(url, data=text.encode(), headers={"If-Match": got.headers["ETag"]}, timeout=30))
        seen = reader.changed(appointment_id, seen, step)

    put("CalDAV PUT: SUMMARY edited", lambda t: t.replace("SUMMARY:", "SUMMARY:Edited on the phone: ", 1))
    put("CalDAV PUT: the guest's name edited", lambda t: t.replace("Jane", "Janine"))
    attendee = "ATTENDEE;CN=Dr. Listed;PARTSTAT=ACCEPTED:mailto:listed@example.com\r\n"
    put("CalDAV PUT: an attendee added", lambda t: t.replace("END:VEVENT", attendee + "END:VEVENT", 1))
    put("CalDAV PUT: moved an hour", _shift_hour)
    assert "listed@example.com" in json.dumps(seen.json["meta"]) and "Janine" in seen.text

    # a new item, then MOVE to a second calendar of the fitter (its calendar id and name change), then DELETE
    _ok(dav.put(f"{home}/appointments/new.ics", data=event_ics("new@coherence", summary="Made on the phone")))
    new_id = next(i for i in _ids(reader.api, calendar_id) if i != appointment_id)
    created = reader.seen(new_id, "CalDAV PUT of a new item")
    second = _ok(
        live.client(people.admin.token).post(
            "/api/v1/calendars",
            json={
                "name": "Denver, second",
                "kind": "fitter",
                "timezone": "America/Denver",
                "owner_username": fitter.username,
            },
        )
    ).json()["id"]
    moved = dav.request(
        "MOVE", f"{home}/appointments/new.ics", headers={"Destination": f"{home}/{second}/moved.ics"}, timeout=30
    )
    _ok(moved)
    after = reader.changed(new_id, created, "CalDAV MOVE to another calendar")
    assert after.json["calendar"]["id"] == second
    _ok(dav.delete(f"{home}/{second}/moved.ics", timeout=30))
    reader.gone(new_id, second, "CalDAV DELETE")


def _shift_hour(text: str) -> str:
    """The item's DTSTART and DTEND an hour later (the hour digits of ``…THHMMSS``)."""
    lines = []
    for line in text.split("\r\n"):
        if line.startswith(("DTSTART", "DTEND")):
            head, value = line.rsplit(":", 1)
            when = datetime.strptime(value.rstrip("Z"), "%Y%m%dT%H%M%S") + timedelta(hours=1)
            line = f"{head}:{when:%Y%m%dT%H%M%S}{'Z' if value.endswith('Z') else ''}"
        lines.append(line)
    return "\r\n".join(lines)


def _ids(api: Api, calendar_id: str) -> list[str]:
    page = api.get("/api/v1/appointments", params={"calendar_id": calendar_id, "kind": "all", "limit": 100})
    assert page.status_code == 200, page.text
    return [str(item["id"]) for item in page.json()["items"]]


# ------------------------------------------------------------------------------------------------------ imports


def test_imports_creating_and_updating_leave_both_reads_equal_to_the_row(reader: Reader, people: People) -> None:
    api, calendar_id = reader.api, people.fitter.calendar_id or ""
    item = appointment_body(calendar_id, start=T0, name="Imported")
    item.update(
        id=str(uuid.uuid4()),
        status="BOOKED",
        created_at="2026-11-01T10:00:00.000Z",
        updated_at="2026-11-01T10:00:00.000Z",
    )
    first = _ok(api.post("/api/v1/import/canonical", json=item)).json()
    assert first["summary"]["created"] == 1, first
    appointment_id = str(first["results"][0]["id"])
    seen = reader.seen(appointment_id, "canonical import: created")
    item.update(name="Imported, then changed", guests=[{"id": "cust-9", "first_name": "Ann"}])
    again = _ok(api.post("/api/v1/import/canonical", json=item)).json()
    assert again["results"][0]["status"] == "updated", again
    reader.changed(appointment_id, seen, "canonical import: updated")

    ics = {"Content-Type": "text/calendar"}
    start = (T0 + timedelta(days=3)).strftime("%Y%m%dT090000")
    end = (T0 + timedelta(days=3)).strftime("%Y%m%dT100000")
    calendar = event_ics("imported@coherence", summary="From a file", start=start, end=end)
    made = _ok(
        api.post("/api/v1/import/ical", data=calendar.encode(), headers=ics, params={"calendar_id": calendar_id})
    )
    assert made.json()["summary"]["created"] == 1, made.text
    ics_id = str(made.json()["results"][0]["id"])
    seen = reader.seen(ics_id, ".ics import: created")
    changed = calendar.replace("SUMMARY:From a file", "SUMMARY:From a file, changed")
    updated = _ok(
        api.post("/api/v1/import/ical", data=changed.encode(), headers=ics, params={"calendar_id": calendar_id})
    )
    assert updated.json()["results"][0]["status"] == "updated", updated.text
    reader.changed(ics_id, seen, ".ics import: updated")


# ------------------------------------------------------------------------------------------------------ Salesforce


@pytest.fixture
def emulator() -> Iterator[SalesforceEmulator]:
    with running_emulator(SalesforceEmulator(page_size=7)) as emu:
        yield emu


@pytest.fixture
def sync(runtime: Runtime, emulator: SalesforceEmulator) -> SyncContext:
    return make_context(runtime, emulator)


def _ran(sync: SyncContext, job: str) -> None:
    result = run_job(sync, job)
    assert result is not None and result.outcome == "ok", result


def test_the_salesforce_mirror_updating_an_appointment_leaves_both_reads_equal_to_the_row(
    reader: Reader, runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    users.add_user(runtime.uow(), "fitter.sf", "fitter", email="fitter.sf@example.com", timezone="America/Denver")
    owner = emulator.create(
        "User", {"Name": "Fitter SF", "Email": "fitter.sf@example.com", "IsActive": True, "TimeZoneSidKey": "UTC"}
    )
    add_opportunity(emulator, OPPORTUNITY)
    jane = emulator.create("Contact", {"FirstName": "Jane", "LastName": "Doe"})
    john = emulator.create("Contact", {"FirstName": "John", "LastName": "Roe"})
    fields = {
        "Subject": "Fitting from Salesforce",
        "StartDateTime": format_sf_datetime(T0),
        "EndDateTime": format_sf_datetime(T0 + timedelta(hours=1)),
        "OwnerId": owner,
        "WhatId": OPPORTUNITY,
        "WhoId": jane,
        "Appointment_Type__c": "FOLLOW_UP",
        "Appointment_Status__c": "BOOKED",
    }
    event = emulator.create("Event", fields)
    _ran(sync, "mirror")
    page = reader.api.get("/api/v1/appointments", params={"appointment_gid": event, "kind": "all"}).json()["items"]
    (appointment_id,) = [str(item["id"]) for item in page]
    seen = reader.seen(appointment_id, "mirror: created")

    later = T0 + timedelta(hours=2)
    emulator.update(
        "Event",
        event,
        {
            "Subject": "Fitting, moved in Salesforce",
            "StartDateTime": format_sf_datetime(later),
            "EndDateTime": format_sf_datetime(later + timedelta(hours=1)),
        },
    )
    _ran(sync, "mirror")
    seen = reader.changed(appointment_id, seen, "mirror: subject and times")
    emulator.update("Event", event, {"WhoId": john})
    _ran(sync, "mirror")
    seen = reader.changed(appointment_id, seen, "mirror: another customer (the guests)")
    assert [g["first_name"] for g in seen.json["guests"]] == ["John"], seen.text

    # the person behind the guest renamed in Salesforce: the people mirror writes the person, not the guest's copy
    emulator.update("Contact", john, {"FirstName": "Johnny"})
    _ran(sync, "mirror")
    assert reader.seen(appointment_id, "mirror: the guest's Contact renamed") == seen
    emulator.update("Event", event, {"Appointment_Status__c": "CANCELLED"})
    _ran(sync, "mirror")
    seen = reader.changed(appointment_id, seen, "mirror: cancelled")
    emulator.delete("Event", event)
    _ran(sync, "mirror")
    reader.gone(appointment_id, seen.json["calendar"]["id"], "mirror: deleted")
    emulator.undelete("Event", event)
    _ran(sync, "mirror")
    reader.changed(appointment_id, seen, "mirror: undeleted")


def test_salesforce_ids_recorded_by_the_push_and_the_repository_leave_both_reads_equal_to_the_row(
    reader: Reader, people: People, runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    add_opportunity(emulator, OPPORTUNITY)
    contact = emulator.create("Contact", {"FirstName": "Jane", "LastName": "Doe"})
    calendar_id = people.fitter.calendar_id or ""
    body = appointment_body(calendar_id, start=T0)
    body["meta"]["salesforce"] = {"opportunity_gid": OPPORTUNITY, "customer_gid": contact}
    pushed = _created(reader.api, body)
    seen = reader.seen(pushed, "create")
    assert seen.json["meta"]["salesforce"]["appointment_gid"] is None
    _ran(sync, "push")  # the new Event's id, recorded by AppointmentRepository.record_sf_appointment_gid
    after = reader.changed(pushed, seen, "push: the Event's id recorded")
    assert after.json["meta"]["salesforce"]["appointment_gid"], after.text

    direct = _created(reader.api, appointment_body(calendar_id, start=T0 + timedelta(hours=2)))
    seen = reader.seen(direct, "create")
    with runtime.uow() as uow:  # the Core UPDATE itself, as the push calls it
        uow.appointments.record_sf_appointment_gid(direct, "00U000000000042AAA")
        uow.commit()
    after = reader.changed(direct, seen, "record_sf_appointment_gid")
    assert after.json["meta"]["salesforce"]["appointment_gid"] == "00U000000000042AAA"


# ------------------------------------------------------------------------------------------------------ people


def test_a_guests_person_renamed_by_another_write_leaves_both_reads_equal_to_the_row(
    reader: Reader, people: People
) -> None:
    """A write naming a known person with a new name writes the person's record (``PeopleRepository.write_names``
    through the create path, the person loaded by ``_set_guests`` through PATCH); an appointment's guests keep their
    own copy of the names, so another appointment of that person shows what it showed, under the same ETag."""
    api, calendar_id = reader.api, people.fitter.calendar_id or ""
    first = _created(api, appointment_body(calendar_id, start=T0))
    seen = reader.seen(first, "create")
    renamed = appointment_body(calendar_id, start=T0 + timedelta(hours=4))
    renamed["guests"][0]["first_name"] = "Janet"
    _created(api, renamed)
    assert _person_names(reader.runtime, "cust-1") == ("Janet", "Doe")
    assert reader.seen(first, "the guest's person renamed by a create") == seen
    other = _created(api, appointment_body(calendar_id, start=T0 + timedelta(hours=6)))
    patch = {"guests": [{"id": "cust-1", "first_name": "Jo", "last_name": "Doe-Smith"}]}
    _ok(api.patch(f"/api/v1/appointments/{other}", json=patch))
    assert _person_names(reader.runtime, "cust-1") == ("Jo", "Doe-Smith")
    assert reader.seen(first, "the guest's person renamed by a PATCH") == seen


def _person_names(runtime: Runtime, person_id: str) -> tuple[str | None, str | None]:
    with runtime.uow() as uow:
        person = uow.people.by_ids([person_id])[person_id]
        return person.first_name, person.last_name


# ------------------------------------------------------------------------------------------------------ calendars


def _rename(live: LiveServer, people: People, channel: str, calendar_id: str, name: str) -> None:
    fitter = people.fitter
    if channel == "rest":
        _ok(live.client(fitter.token).patch(f"/api/v1/calendars/{calendar_id}", json={"name": name}))
        return
    url = f"{live.base_url}/dav/{fitter.username}/appointments/"
    session = dav_session(fitter.username, fitter.password)
    answer = session.request("PROPPATCH", url, data=PROPPATCH.format(name=name).encode(), timeout=30)
    assert answer.status_code == 207 and "200 OK" in answer.text, answer.text


def test_a_calendar_rename_shows_in_both_reads_of_its_appointments(
    reader: Reader, live: LiveServer, people: People
) -> None:
    calendar_id = people.fitter.calendar_id or ""
    appointment_id = _created(reader.api, appointment_body(calendar_id, start=T0))
    seen = reader.seen(appointment_id, "create")
    for channel, name in (("rest", "Hörakustik Süd"), ("caldav", "Hörakustik Nord")):
        _rename(live, people, channel, calendar_id, name)
        after = reader.seen(appointment_id, f"calendar renamed over {channel}")
        assert after.json["calendar"]["name"] == name and after.text != seen.text, after.text
        seen = after


@pytest.mark.parametrize("channel", ["rest", "caldav"])
def test_a_calendar_rename_changes_its_appointments_etags(
    reader: Reader, live: LiveServer, people: People, channel: str
) -> None:
    calendar_id = people.fitter.calendar_id or ""
    appointment_id = _created(reader.api, appointment_body(calendar_id, start=T0))
    seen = reader.seen(appointment_id, "create")
    _rename(live, people, channel, calendar_id, "Hörakustik Süd")
    reader.changed(appointment_id, seen, f"calendar renamed over {channel}")
