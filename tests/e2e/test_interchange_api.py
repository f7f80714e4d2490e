"""Import and export in other systems' formats over real HTTP, on SQLite and PostgreSQL.

``POST /api/v1/import/{format}``, ``GET /api/v1/export/{format}`` and ``GET /api/v1/appointments/{id}?format=``
with the brief's sample payloads (``tests/converters/fixtures``).
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from caldav_bridge.model.calendar import Calendar
from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import calendars, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.migrate import upgrade
from caldav_bridge.store.tables import (
    AppointmentRow,
    AuditRow,
    ExternalRefRow,
    OutboxRow,
    PersonRow,
    StatusHistoryRow,
)
from config import Settings, load_settings
from feeds.api.interchange import MAX_ITEMS
from tests.conftest import TEMPLATE, People
from tests.converters.support import CALENDLY_EVENT_TYPE, TIMEKIT_CALENDAR, load_fixture
from tests.support.live import Api, LiveServer, serve

SECRET = "C1JG2I4HWF"  # the brief's Blueprint onlineBookingSecret
TABLES = (AppointmentRow, ExternalRefRow, OutboxRow, StatusHistoryRow, AuditRow, PersonRow)
#: Converter tables for the formats that have no defaults (as in tests/converters/support.py).
TABLE_SETTINGS: dict[str, Any] = {
    "calendly_event_types": {CALENDLY_EVENT_TYPE: "INITIAL", "FOLLOWUP0000000A": "FOLLOW_UP"},
    "timekit_calendar_types": {TIMEKIT_CALENDAR: "INITIAL"},
    "onsched_service_types": {"6": "INITIAL", "7": "FOLLOW_UP"},
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(environ={}, database_url=database_url, data_dir=str(tmp_path / "data"), **TABLE_SETTINGS)


def _calendars(rt: Runtime) -> dict[str, str]:
    """Calendars the samples name: Blueprint's provider "Darth Vader" (a fitter, found by display name) and
    Timekit's "Important encounters with Marty" (a team calendar, found by its name)."""
    users.add_user(rt.uow(), "darth", "fitter", display_name="Darth Vader", timezone="America/Denver")
    with rt.uow() as uow:
        user = uow.users.by_username("darth")
        assert user is not None
        darth = uow.calendars.ids_owned_by(user.id)[0]
    draft = CalendarDraft(name="Important encounters with Marty", kind="team", timezone="America/Los_Angeles")
    marty: Calendar = calendars.create(rt.uow(), system_actor(), draft)
    return {"darth": darth, "marty": marty.id}


@pytest.fixture
def cals(runtime: Runtime) -> dict[str, str]:
    return _calendars(runtime)


@pytest.fixture
def api(live: LiveServer, people: People) -> Api:
    return live.client(people.dispatcher.token)


def _count(rt: Runtime, table: type) -> int:
    with rt.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def _counts(rt: Runtime) -> dict[str, int]:
    return {t.__name__: _count(rt, t) for t in TABLES}


def _import(api: Api, fmt: str, body: Any, **params: Any) -> dict[str, Any]:
    response = api.post(f"/api/v1/import/{fmt}", json=body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _fixtures() -> dict[str, Any]:
    return {
        "blueprint": load_fixture("blueprint.json"),
        "calendly": load_fixture("calendly_event.json"),
        "timekit": load_fixture("timekit.json"),
        "onsched": load_fixture("onsched_appointment.json"),
        "canonical": load_fixture("canonical_booked.json"),
    }


def test_each_formats_sample_imports(live: LiveServer, api: Api, cals: dict[str, str], people: People) -> None:
    samples = _fixtures()
    where = {"blueprint": cals["darth"], "timekit": cals["marty"]}  # found from the items' own hints
    for fmt, sample in samples.items():
        params = {} if fmt in where else {"calendar_id": people.consultant.calendar_id}
        data = _import(api, fmt, sample, **params)
        assert data["summary"] == {
            "total": 1,
            "created": 1,
            "updated": 0,
            "unchanged": 0,
            "error": 0,
            "skipped": 0,
            "dry_run": False,
            "atomic": False,
        }, (fmt, data)
        (result,) = data["results"]
        assert result["status"] == "created" and result["index"] == 0
        got = api.get(f"/api/v1/appointments/{result['id']}").json()
        assert got["calendar"]["id"] == where.get(fmt, people.consultant.calendar_id), fmt
        assert fmt in got["meta"] or fmt == "canonical"
    by_source = {r.source_id: r for r in _refs(live.runtime)}
    assert set(by_source) == {
        "10999_0",
        "https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2",
        "58190fc6-1ec0-4ebb-b627-7ce6aa9fc703",
        "281280",
        "248dd2b0-7410-40e5-829d-99415c6837a2",
    }
    # The canonical item keeps its id; the others get ours.
    assert by_source["248dd2b0-7410-40e5-829d-99415c6837a2"].appointment_id == "248dd2b0-7410-40e5-829d-99415c6837a2"
    blueprint = api.get(f"/api/v1/appointments/{by_source['10999_0'].appointment_id}").json()
    assert blueprint["name"] == "Skywalker, Luke" and blueprint["status"] == "BOOKED"
    assert blueprint["date_start"] == "2015-09-02T19:00:00.000Z" and blueprint["date_end"] == "2015-09-02T19:30:00.000Z"
    assert blueprint["guests"] == [{"id": "15", "first_name": "Luke", "last_name": "Skywalker", "timezone": None}]
    assert blueprint["meta"]["type"] == "INITIAL" and blueprint["meta"]["blueprint"]["provider"] == "Darth Vader"
    timekit = api.get(f"/api/v1/appointments/{by_source['58190fc6-1ec0-4ebb-b627-7ce6aa9fc703'].appointment_id}")
    assert timekit.json()["created_at"] == "2016-02-11T11:39:45.000Z"  # the source's creation time is kept


def _refs(rt: Runtime) -> list[ExternalRefRow]:
    with rt.uow() as uow:
        return list(uow.session.scalars(select(ExternalRefRow)))


def test_the_briefs_verbatim_samples_that_cannot_import_name_their_fields(
    live: LiveServer, api: Api, people: People
) -> None:
    before = _counts(live.runtime)
    cases = {
        "calendly": (load_fixture("calendly.json"), {"end_time"}),  # starts and ends at the same instant
        "onsched": (load_fixture("onsched.jsonc"), {"id", "startDate", "endDate"}),  # date-range filters
        "canonical": (load_fixture("canonical.json"), {"meta.type", "status"}),  # placeholders
    }
    for fmt, (sample, fields) in cases.items():
        data = _import(api, fmt, [sample], calendar_id=people.fitter.calendar_id)
        (result,) = data["results"]
        assert result["status"] == "error", fmt
        assert {e["field"] for e in result["errors"]} == fields, (fmt, result)
    assert _counts(live.runtime) == before


def test_reimport_updates_instead_of_duplicating(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    sample = load_fixture("blueprint.json")
    first = _import(api, "blueprint", sample)["results"][0]
    again = _import(api, "blueprint", sample)["results"][0]
    assert (again["status"], again["id"]) == ("unchanged", first["id"])
    counts = _counts(live.runtime)
    assert counts["AppointmentRow"] == 1 and counts["ExternalRefRow"] == 1 and counts["OutboxRow"] == 1

    moved = {**sample, "start_time": "2015-09-03 19:00:00 GMT", "end_time": "2015-09-03 20:00:00 GMT", "status": 4}
    changed = _import(api, "blueprint", [moved])["results"][0]
    assert (changed["status"], changed["id"]) == ("updated", first["id"])
    assert _count(live.runtime, AppointmentRow) == 1 and _count(live.runtime, ExternalRefRow) == 1
    got = api.get(f"/api/v1/appointments/{first['id']}").json()
    assert (got["status"], got["date_start"]) == ("CANCELLED", "2015-09-03T19:00:00.000Z")
    history = api.get(f"/api/v1/appointments/{first['id']}/history").json()["items"]
    assert [(h["old_status"], h["new_status"]) for h in history] == [(None, "BOOKED"), ("BOOKED", "CANCELLED")]
    assert _count(live.runtime, OutboxRow) == 2

    # A cancelled appointment cannot change any more: the item fails, naming Blueprint's status field.
    revived = _import(api, "blueprint", [{**moved, "status": 3}])["results"][0]
    assert revived["status"] == "error" and revived["errors"][0]["field"] == "status"
    assert api.get(f"/api/v1/appointments/{first['id']}").json()["status"] == "CANCELLED"


def test_the_same_item_twice_in_one_request(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    sample = load_fixture("blueprint.json")
    later = {**sample, "notes": "Moved to the afternoon."}
    results = _import(api, "blueprint", [sample, later])["results"]
    assert [r["status"] for r in results] == ["created", "updated"]
    assert results[0]["id"] == results[1]["id"]
    assert api.get(f"/api/v1/appointments/{results[0]['id']}").json()["description"] == "Moved to the afternoon."


def test_dry_run_reports_and_writes_nothing(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    sample = load_fixture("blueprint.json")
    before = _counts(live.runtime)
    data = _import(api, "blueprint", [sample, {**sample, "appointment_id": "2"}, {"status": 7}], dry_run="true")
    assert [r["status"] for r in data["results"]] == ["created", "created", "error"]
    assert data["summary"]["dry_run"] is True
    assert all("id" not in r for r in data["results"])  # nothing was made, so there are no ids
    assert _counts(live.runtime) == before
    _import(api, "blueprint", sample)
    after_import = _counts(live.runtime)
    again = _import(api, "blueprint", [sample, {**sample, "notes": "changed"}], dry_run="true")
    assert [r["status"] for r in again["results"]] == ["unchanged", "updated"]
    assert _counts(live.runtime) == after_import


def test_atomic_failure_writes_nothing(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    sample = load_fixture("blueprint.json")
    bad = {**sample, "appointment_id": "2", "start_time": "2015-09-02 19:00:00"}  # no zone
    before = _counts(live.runtime)
    response = api.post("/api/v1/import/blueprint", json=[sample, bad], params={"atomic": "true"})
    assert response.status_code == 422, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"] == [{"field": "1.start_time", "message": problem["errors"][0]["message"]}]
    assert "time zone" in problem["errors"][0]["message"]
    assert [r["status"] for r in problem["results"]] == ["skipped", "error"]
    assert problem["summary"]["skipped"] == 1 and problem["summary"]["error"] == 1
    assert _counts(live.runtime) == before

    # A single object: the errors name its fields without an index.
    single = api.post("/api/v1/import/blueprint", json=bad, params={"atomic": "true"})
    assert single.status_code == 422 and single.json()["errors"][0]["field"] == "start_time"

    ok = _import(api, "blueprint", [sample, {**bad, "start_time": "2015-09-02 19:00:00 GMT"}], atomic="true")
    assert [r["status"] for r in ok["results"]] == ["created", "created"]
    assert _count(live.runtime, AppointmentRow) == before["AppointmentRow"] + 2


def test_more_items_than_a_request_may_import_are_refused_before_any_work(
    live: LiveServer, api: Api, cals: dict[str, str]
) -> None:
    """A request imports at most MAX_ITEMS (200) items (its CPU stays well inside the second a request may cost; the
    command line streams larger files). One more is a 422 naming the body, and nothing is converted or written."""
    sample = load_fixture("blueprint.json")
    items = [{**sample, "appointment_id": f"m{i}"} for i in range(MAX_ITEMS + 1)]
    before = _counts(live.runtime)
    for params in ({}, {"atomic": "true"}, {"dry_run": "true"}):
        response = api.post("/api/v1/import/blueprint", json=items, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["Content-Type"].startswith("application/problem+json")
        [error] = response.json()["errors"]
        assert error["field"] == "(body)" and f"at most {MAX_ITEMS:,} items" in error["message"]
        assert "results" not in response.json()  # refused before any item was converted
    assert _counts(live.runtime) == before

    event = "BEGIN:VEVENT\r\nUID:{i}@cap\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\n"
    ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
    ics += "".join(event.format(i=i) for i in range(MAX_ITEMS + 1)) + "END:VCALENDAR\r\n"
    response = api.post(
        "/api/v1/import/ical",
        data=ics.encode(),
        headers={"Content-Type": "text/calendar"},
        params={"calendar_id": cals["darth"], "dry_run": "true"},
    )
    assert response.status_code == 422 and f"at most {MAX_ITEMS:,} items" in response.json()["errors"][0]["message"]

    accepted = _import(api, "blueprint", items[:MAX_ITEMS], dry_run="true")
    assert accepted["summary"]["total"] == MAX_ITEMS and accepted["summary"]["error"] == 0


def test_per_item_errors_name_the_source_fields(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    blueprint = load_fixture("blueprint.json")
    items = [
        "not an object",
        {**blueprint, "appointment_id": "a1", "status": 6},  # a status code the table does not map
        {**blueprint, "appointment_id": "a2", "eventTypeId": 9},  # an unmapped type id
        {**blueprint, "appointment_id": "a3", "end_time": "2015-09-02 19:30:00"},  # no zone
        {**blueprint, "appointment_id": "a4", "start_time": 1441220400},  # wrong JSON type
        {k: v for k, v in blueprint.items() if k != "summary" and k != "status"} | {"appointment_id": "a5"},
        {**blueprint, "appointment_id": "ok"},
    ]
    before = _count(live.runtime, AppointmentRow)
    results = _import(api, "blueprint", items)["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    fields = [[e["field"] for e in r.get("errors", [])] for r in results]
    assert fields == [["(item)"], ["status"], ["eventTypeId"], ["end_time"], ["start_time"], ["status"], []]
    assert "6" in results[1]["errors"][0]["message"] and "9" in results[2]["errors"][0]["message"]
    assert [r["source_id"] for r in results] == [None, "a1", "a2", "a3", "a4", "a5", "ok"]
    assert results[-1]["status"] == "created"
    assert _count(live.runtime, AppointmentRow) == before + 1  # the valid item only; the failed wrote nothing

    calendly = load_fixture("calendly_event.json")
    naive = {**calendly, "start_time": "2019-08-24T14:15:22"}
    unknown = {**calendly, "uri": "https://api.calendly.com/scheduled_events/X", "status": "maybe"}
    results = _import(api, "calendly", [naive, unknown], calendar_id=cals["darth"])["results"]
    assert [e["field"] for e in results[0]["errors"]] == ["start_time"]
    assert "time zone" in results[0]["errors"][0]["message"]
    assert [e["field"] for e in results[1]["errors"]] == ["status"]


def test_numbers_json_cannot_hold_are_refused_and_nothing_is_written(
    live: LiveServer, api: Api, cals: dict[str, str]
) -> None:
    """``NaN``, ``Infinity`` and ``1e400`` in an import body: a 400 problem, every mode, nothing written (the edge's
    strict reader; the converters refuse them too, naming the field, for the command line's lenient one)."""
    sample = load_fixture("canonical_booked.json")
    good = json.dumps({**sample, "id": str(uuid.uuid4()), "meta": {**sample["meta"], "score": 1}})
    before = _counts(live.runtime)
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400"):
        body = good.replace('"score": 1', f'"score": {number}')
        for params in ({}, {"atomic": "true"}, {"dry_run": "true"}):
            response = api.post(
                "/api/v1/import/canonical",
                data=body.encode(),
                headers={"Content-Type": "application/json"},
                params={"calendar_id": cals["darth"], **params},
            )
            assert response.status_code == 400, (number, response.text)
            assert response.headers["Content-Type"].startswith("application/problem+json")
            assert response.json()["errors"][0]["field"] == "(body)"
    assert _counts(live.runtime) == before
    done = _import(api, "canonical", [json.loads(good)], calendar_id=cals["darth"])
    assert done["summary"]["created"] == 1  # the same item with a finite number imports


def test_calendar_comes_from_the_hint_or_the_parameter(live: LiveServer, api: Api, people: People) -> None:
    sample = load_fixture("blueprint.json")  # provider 50, "Darth Vader": no such calendar here
    result = _import(api, "blueprint", sample)["results"][0]
    assert result["status"] == "error"
    assert result["errors"][0]["field"] == "provider_id" and "calendar_id" in result["errors"][0]["message"]
    calendly = _import(api, "calendly", load_fixture("calendly_event.json"))["results"][0]
    assert calendly["errors"][0]["field"] == "event_memberships.0.user"

    # A provider named like a calendar's owner (username here), or the calendar given explicitly.
    named = _import(api, "blueprint", {**sample, "provider": "fitter.denver"})["results"][0]
    assert named["status"] == "created"
    got = api.get(f"/api/v1/appointments/{named['id']}").json()
    assert got["calendar"]["id"] == people.fitter.calendar_id
    other = {**sample, "appointment_id": "other"}
    given = _import(api, "blueprint", other, calendar_id=people.consultant.calendar_id)["results"][0]
    assert api.get(f"/api/v1/appointments/{given['id']}").json()["calendar"]["id"] == people.consultant.calendar_id

    unknown = api.post("/api/v1/import/blueprint", json=sample, params={"calendar_id": "no-such-calendar"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "calendar_id"


def test_scope_and_calendar_reach(live: LiveServer, people: People) -> None:
    sample = load_fixture("blueprint.json")
    read_only = live.client(people.fitter.read_token)
    assert read_only.post("/api/v1/import/blueprint", json=sample).status_code == 403
    assert live.client().post("/api/v1/import/blueprint", json=sample).status_code == 401

    fitter = live.client(people.fitter.token)
    # Another fitter's calendar: neither by parameter nor by name.
    other = fitter.post(
        "/api/v1/import/blueprint", json=sample, params={"calendar_id": people.other_fitter.calendar_id}
    )
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "calendar_id"
    by_name = _import(fitter, "blueprint", {**sample, "provider": "fitter.berlin"})["results"][0]
    assert by_name["status"] == "error" and by_name["errors"][0]["field"] == "provider_id"
    mine = _import(fitter, "blueprint", {**sample, "provider": "fitter.denver"})["results"][0]
    assert mine["status"] == "created"

    # Imported into the Denver calendar: the Berlin fitter may not update it through a re-import.
    berlin = live.client(people.other_fitter.token)
    refused = _import(berlin, "blueprint", {**sample, "provider": "fitter.denver", "notes": "x"})["results"][0]
    assert refused["status"] == "error" and refused["errors"][0]["field"] == "appointment_id"
    # Exports show only what the token reaches.
    assert berlin.get("/api/v1/export/blueprint").json()["items"] == []
    assert len(fitter.get("/api/v1/export/blueprint").json()["items"]) == 1


def test_unknown_format_is_a_404_listing_the_known_ones(api: Api) -> None:
    for response in (api.post("/api/v1/import/ical2", json={}), api.get("/api/v1/export/ical2")):
        assert response.status_code == 404
        problem = response.json()
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "blueprint, calendly, canonical, ical, ols, onsched, salesforce, timekit" in problem["detail"]
    not_json = api.post("/api/v1/import/blueprint", json="a string")
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["field"] == "(body)"


def test_outbox_history_audit_and_caldav_rows_for_imported_appointments(
    live: LiveServer, api: Api, cals: dict[str, str]
) -> None:
    results = _import(api, "blueprint", [load_fixture("blueprint.json")])["results"]
    appointment_id = results[0]["id"]
    canonical = api.get(f"/api/v1/appointments/{appointment_id}").json()
    with live.runtime.uow() as uow:
        (outbox,) = uow.outbox.for_appointment(appointment_id)
        assert outbox.operation == "upsert" and outbox.state == "pending"
        assert outbox.payload == canonical  # exactly what the API shows
        (history,) = uow.appointments.history(appointment_id)
        assert (history.old_status, history.new_status, history.channel) == (None, "BOOKED", "api")
        actions = [(a.action, a.channel, a.detail) for a in uow.audit.for_appointment(appointment_id)]
        assert ("create", "api", "import blueprint 10999_0") in actions
        dav_text = uow.session.scalar(
            text("SELECT text FROM dav_items WHERE appointment_id = :id"), {"id": appointment_id}
        )
    assert dav_text is not None and f"UID:{appointment_id}" in dav_text  # darth's CalDAV collection has it


def _fresh_database(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = "f_" + uuid.uuid4().hex[:16]
    yield server.create_database(name, TEMPLATE)
    server.drop_database(name)


@pytest.fixture
def fresh(database_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    """A second, empty service on the same kind of database, with the same calendars and tables."""
    for url in _fresh_database(database_url, request, tmp_path):
        rt = Runtime.from_settings(
            load_settings(environ={}, database_url=url, data_dir=str(tmp_path / "fresh"), **TABLE_SETTINGS)
        )
        upgrade(rt.engine)
        try:
            with serve(rt) as server:
                yield server
        finally:
            rt.close()


#: Formats whose export carries the source's created_at (the others are created "now" by the import).
CARRIES_CREATED_AT = {"calendly", "timekit", "canonical"}
ID_KEYS = {"blueprint": "appointment_id", "calendly": "uri", "timekit": "id", "onsched": "id", "canonical": "id"}


def _team(rt: Runtime, name: str) -> str:
    draft = CalendarDraft(name=name, kind="team", timezone="America/Denver")
    return calendars.create(rt.uow(), system_actor(), draft).id


def test_export_round_trip_into_a_fresh_database(live: LiveServer, api: Api, fresh: LiveServer) -> None:
    fresh_rt = fresh.runtime
    users.add_user(fresh_rt.uow(), "boss", "admin")
    target = fresh.client(users.issue_token(fresh_rt.uow(), "boss", ("admin",)).secret)
    for fmt, sample in _fixtures().items():
        source_calendar, target_calendar = _team(live.runtime, f"rt-{fmt}"), _team(fresh_rt, f"rt-{fmt}")
        second = copy.deepcopy(sample)
        key = ID_KEYS[fmt]
        second[key] = str(uuid.uuid4()) if fmt == "canonical" else f"{second[key]}-2"
        imported = _import(api, fmt, [sample, second], calendar_id=source_calendar)["results"]
        assert [r["status"] for r in imported] == ["created", "created"]

        exported, cursor, pages = [], None, 0  # one item per page, to follow the cursor
        while True:
            params: dict[str, Any] = {"calendar_id": source_calendar, "limit": 1}
            page = api.get(f"/api/v1/export/{fmt}", params={**params, **({"cursor": cursor} if cursor else {})}).json()
            assert page["errors"] == []
            exported += page["items"]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert (pages, len(exported)) == (2, 2), fmt
        assert sorted(str(item[key]) for item in exported) == sorted(str(x[key]) for x in (sample, second))

        copied = _import(target, fmt, exported, calendar_id=target_calendar)["results"]
        assert [r["status"] for r in copied] == ["created", "created"], copied
        originals = {r["source_id"]: r["id"] for r in imported}
        for result, item in zip(copied, exported, strict=True):
            before = api.get(f"/api/v1/appointments/{originals[result['source_id']]}").json()
            after = target.get(f"/api/v1/appointments/{result['id']}").json()
            for field in ("name", "status", "description", "date_start", "date_end", "guests", "meta"):
                assert after[field] == before[field], (fmt, field)
            assert after["calendar"]["name"] == before["calendar"]["name"]
            if fmt in CARRIES_CREATED_AT:
                assert after["created_at"] == before["created_at"], fmt
            if fmt == "canonical":
                assert after["id"] == before["id"]
            # The copy exports as the same payload, up to our own record's update time (which is the
            # import's, so that ?updated_since= finds imported changes) and, for canonical, our calendar.
            again = target.get(f"/api/v1/appointments/{result['id']}", params={"format": fmt}).json()
            ours = {"updated_at", "calendar"}
            again = {k: v for k, v in again.items() if k not in ours}
            item = {k: v for k, v in item.items() if k not in ours}
            assert again == item, fmt


def test_get_with_format(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    tech_setup = {**load_fixture("blueprint.json"), "eventTypeId": 3}  # no OnSched service is a TECH_SETUP here
    appointment_id = _import(api, "blueprint", tech_setup)["results"][0]["id"]
    plain = api.get(f"/api/v1/appointments/{appointment_id}")
    response = api.get(f"/api/v1/appointments/{appointment_id}", params={"format": "blueprint"})
    assert response.status_code == 200
    payload = response.json()
    assert payload["appointment_id"] == "10999_0" and payload["status"] == 7 and payload["provider_id"] == 50
    assert response.headers["ETag"] != plain.headers["ETag"]
    cached = api.get(
        f"/api/v1/appointments/{appointment_id}",
        params={"format": "blueprint"},
        headers={"If-None-Match": response.headers["ETag"]},
    )
    assert cached.status_code == 304
    assert api.get(f"/api/v1/appointments/{appointment_id}", params={"format": "canonical"}).json() == plain.json()
    onsched = api.get(f"/api/v1/appointments/{appointment_id}", params={"format": "onsched"})
    assert onsched.status_code == 422 and onsched.json()["errors"][0]["field"] == "meta.type"
    unknown = api.get(f"/api/v1/appointments/{appointment_id}", params={"format": "ical2"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "query.format"


def test_export_reports_what_the_format_cannot_carry(live: LiveServer, api: Api, cals: dict[str, str]) -> None:
    initial = {**load_fixture("blueprint.json"), "status": 1}  # INITIAL: Calendly has no such state
    appointment_id = _import(api, "blueprint", initial)["results"][0]["id"]
    page = api.get("/api/v1/export/calendly").json()
    assert page["items"] == []
    assert page["errors"] == [{"id": appointment_id, "errors": [page["errors"][0]["errors"][0]]}]
    assert page["errors"][0]["errors"][0]["field"] == "status"
    filtered = api.get("/api/v1/export/blueprint", params={"status": "BOOKED"}).json()
    assert filtered["items"] == []
    assert len(api.get("/api/v1/export/blueprint", params={"status": "INITIAL"}).json()["items"]) == 1


def test_the_blueprint_secret_never_comes_out(
    live: LiveServer, api: Api, cals: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sample = load_fixture("blueprint.json")
    assert sample["onlineBookingSecret"] == SECRET
    seen = [
        api.post("/api/v1/import/blueprint", json=[sample, {**sample, "appointment_id": 5, "status": 99}]).text,
        api.post("/api/v1/import/blueprint", json=sample, params={"dry_run": "true"}).text,
        api.post("/api/v1/import/blueprint", json=[{**sample, "end_time": "x"}], params={"atomic": "true"}).text,
    ]
    appointment_id = json.loads(seen[0])["results"][0]["id"]
    seen += [
        api.get(f"/api/v1/appointments/{appointment_id}").text,
        api.get(f"/api/v1/appointments/{appointment_id}", params={"format": "blueprint"}).text,
        api.get("/api/v1/export/blueprint").text,
        api.get("/api/v1/export/canonical").text,
    ]
    for body in seen:
        assert SECRET not in body
    assert SECRET not in caplog.text
    with live.runtime.uow() as uow:  # nor anywhere in the database
        for table in (
            "appointments",
            "appointment_guests",
            "outbox",
            "audit_log",
            "audit_read_batches",
            "external_refs",
            "dav_items",
        ):
            for row in uow.session.execute(text(f"SELECT * FROM {table}")):
                assert SECRET not in json.dumps([str(v) for v in row]), table


def test_openapi_documents_the_interchange_operations(api: Api) -> None:
    document = api.get("/api/openapi.json").json()
    post = document["paths"]["/api/v1/import/{format}"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["anyOf"][0] == {"type": "object"}
    assert {p["name"] for p in post["parameters"]} == {
        "format",
        "dry_run",
        "atomic",
        "calendar_id",
        "from",
        "to",
        "Idempotency-Key",
    }
    assert "404" in post["responses"] and "422" in post["responses"]
    export = document["paths"]["/api/v1/export/{format}"]["get"]
    assert {"status", "from", "to", "cursor", "limit"} <= {p["name"] for p in export["parameters"]}
    get = document["paths"]["/api/v1/appointments/{id}"]["get"]
    (fmt,) = [p for p in get["parameters"] if p["name"] == "format"]
    assert "blueprint" in json.dumps(fmt["schema"])
