"""The OLS-compatible API over real HTTP, on SQLite and PostgreSQL (every test runs on both).

The contract: every OLS appointment has exactly the keys of today's OLS, timestamps as
``YYYY-MM-DDTHH:MM:SS.mmmZ``, gids as ``""`` when absent and ``id`` as a UUID string; the legacy
``date`` is the Europe/Berlin wall-clock time of the start labelled ``Z`` (docs/ols-compatibility.md).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import AppointmentRow, CalendarRow
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer, serve

OLS_KEYS = {
    "appointment_gid",
    "created_at",
    "customer_gid",
    "date_v2",
    "date",
    "id",
    "opportunity_gid",
    "status",
    "type",
    "updated_at",
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
OPP = "0069E00000HbsUrQAJ"
CUSTOMER = "0039E00001"
SF_APPOINTMENT = "0Q09E0000012r7ZSAQ"


def ols_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "date_v2": "2026-12-01T16:00:00.000Z",
        "type": "HEARING AID EVALUATION",
        "status": "scheduled",
        "opportunity_gid": OPP,
        "customer_gid": CUSTOMER,
        "appointment_gid": SF_APPOINTMENT,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_ols_shape(doc: dict[str, Any]) -> None:
    assert set(doc) == OLS_KEYS, sorted(doc)
    assert all(isinstance(v, str) for v in doc.values()), doc
    for key in ("created_at", "updated_at", "date_v2", "date"):
        assert TIMESTAMP.match(doc[key]), (key, doc[key])
    assert str(uuid.UUID(doc["id"])) == doc["id"]


def create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.post("/ols/appointments", json=ols_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def ids(response: requests.Response) -> list[str]:
    assert response.status_code == 200, response.text
    data = response.json()
    assert isinstance(data, list)
    for item in data:
        assert_ols_shape(item)
    return [item["id"] for item in data]


def canonical(api: Api, appointment_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/appointments/{appointment_id}")
    assert response.status_code == 200, response.text
    return response.json()


def count_rows(live: LiveServer, table: type = AppointmentRow) -> int:
    with live.runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def assert_problem(response: requests.Response, status: int, *fields: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    if fields:
        named = {e["field"] for e in problem["errors"]}
        assert set(fields) <= named, (fields, problem)
    return problem


@pytest.fixture
def api(dispatcher_api: Api) -> Api:
    """A dispatcher: reaches every calendar."""
    return dispatcher_api


# --------------------------------------------------------------------------- contract


def test_contract_keys_and_formats(api: Api, live: LiveServer) -> None:
    response = api.post("/ols/appointments", json={"date_v2": "2026-12-01T16:00:00.000Z", "type": "FITTING"})
    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"] == "application/json"
    created = response.json()
    assert_ols_shape(created)
    assert created["date_v2"] == "2026-12-01T16:00:00.000Z"
    assert created["date"] == "2026-12-01T17:00:00.000Z"  # Berlin in winter: +1 h
    assert (created["appointment_gid"], created["opportunity_gid"], created["customer_gid"]) == ("", "", "")
    assert (created["type"], created["status"]) == ("FITTING", "unknown-status")
    assert created["created_at"] == created["updated_at"]
    assert abs(stamp(created["created_at"]) - datetime.now(stamp(created["created_at"]).tzinfo)) < timedelta(minutes=5)
    assert response.headers["Location"].endswith(f"/ols/appointments/{created['id']}")
    assert response.headers["ETag"].startswith('"')

    got = api.get(f"/ols/appointments/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created
    assert got.headers["ETag"] == response.headers["ETag"]
    cached = api.get(f"/ols/appointments/{created['id']}", headers={"If-None-Match": got.headers["ETag"]})
    assert (cached.status_code, cached.content, cached.headers["ETag"]) == (304, b"", got.headers["ETag"])
    stale = api.get(f"/ols/appointments/{created['id']}", headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.json() == created
    listed = api.get("/ols/appointments")
    assert listed.headers["Content-Type"] == "application/json"
    assert listed.json() == [created]


def test_the_briefs_example_posted_back_gives_the_same_ols_fields(api: Api) -> None:
    brief = {
        "appointment_gid": SF_APPOINTMENT,
        "created_at": "2021-05-21T07:46:31.000Z",
        "customer_gid": "",
        "date_v2": "2021-05-25T05:55:00.000Z",
        "date": "2021-05-25T07:55:00.000Z",
        "id": "248dd2b0-7410-40e5-829d-99415c6837a2",
        "opportunity_gid": OPP,
        "status": "unknown-status",
        "type": "HEARING AID EVALUATION",
        "updated_at": "2021-05-21T07:46:31.000Z",
    }
    created = api.post("/ols/appointments", json=brief).json()
    assert_ols_shape(created)
    same = ("appointment_gid", "customer_gid", "date_v2", "date", "opportunity_gid", "status", "type")
    assert {k: created[k] for k in same} == {k: brief[k] for k in same}
    # id, created_at and updated_at are the server's.
    assert created["id"] != brief["id"]
    assert created["created_at"] != brief["created_at"]


# --------------------------------------------------------------------------- create


def test_post_with_only_the_legacy_date(api: Api) -> None:
    created = create(api, date_v2=..., date="2021-05-25T07:55:00.000Z")
    assert created["date_v2"] == "2021-05-25T05:55:00.000Z"
    assert created["date"] == "2021-05-25T07:55:00.000Z"


def test_post_with_calendar_id_name_and_date_end(api: Api, live: LiveServer, people: People) -> None:
    created = create(
        api, calendar_id=people.fitter.calendar_id, name="Evaluation w/Jane", date_end="2026-12-01T16:45:00.000Z"
    )
    data = canonical(api, created["id"])
    assert data["calendar"]["id"] == people.fitter.calendar_id
    assert data["name"] == "Evaluation w/Jane"
    assert (data["date_start"], data["date_end"]) == ("2026-12-01T16:00:00.000Z", "2026-12-01T16:45:00.000Z")
    # The fitter sees it: it is on their calendar.
    assert live.client(people.fitter.token).get(f"/ols/appointments/{created['id']}").json() == created


def test_post_without_calendar_id(api: Api, live: LiveServer, people: People) -> None:
    # A fitter's appointment lands on the fitter's own calendar.
    fitter = live.client(people.fitter.token)
    mine = create(fitter)
    assert canonical(fitter, mine["id"])["calendar"]["id"] == people.fitter.calendar_id
    # A dispatcher owns no calendar: it lands on the OLS inbox, created once, with the default duration.
    calendars = count_rows(live, CalendarRow)
    first, second = create(api), create(api, date_v2="2026-12-02T16:00:00.000Z")
    a, b = canonical(api, first["id"]), canonical(api, second["id"])
    assert a["calendar"]["name"] == "OLS inbox"
    assert a["calendar"]["id"] == b["calendar"]["id"] != people.fitter.calendar_id
    assert count_rows(live, CalendarRow) == calendars + 1
    assert stamp(a["date_end"]) - stamp(a["date_start"]) == timedelta(minutes=60)
    assert a["name"] == "Hearing Aid Evaluation"  # the type label, title-cased


def test_idempotency_key(api: Api, live: LiveServer) -> None:
    key = {"Idempotency-Key": "ols-create-1"}
    first = api.post("/ols/appointments", json=ols_body(), headers=key)
    again = api.post("/ols/appointments", json=ols_body(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert count_rows(live) == 1
    other = api.post("/ols/appointments", json=ols_body(customer_gid="0039E99999"), headers=key)
    assert_problem(other, 422)
    assert count_rows(live) == 1
    # Without a key, the same body makes a second appointment.
    assert create(api)["id"] != first.json()["id"]
    assert count_rows(live) == 2


# --------------------------------------------------------------------------- list and filters


def test_list_filters(api: Api) -> None:
    a = create(api, date_v2="2026-12-01T09:00:00.000Z", type="HEARING AID EVALUATION", status="scheduled")
    b = create(
        api,
        date_v2="2026-12-01T10:00:00.000Z",
        type="TECH SETUP",
        status="reserved",
        opportunity_gid="0069E00000OTHER",
        customer_gid="0039E00002",
        appointment_gid="0Q0B",
    )
    c = create(
        api,
        date_v2="2026-12-01T11:00:00.000Z",
        type="FOLLOW UP",
        status="unknown-status",
        appointment_gid=...,
        customer_gid=...,
    )
    d = create(
        api,
        date_v2="2026-12-01T12:00:00.000Z",
        type="FITTING",
        status="cancelled",
        opportunity_gid="0069E00000OTHER",
        appointment_gid="0Q0D",
    )

    def listed(**params: str) -> list[str]:
        return ids(api.get("/ols/appointments", params=params))

    assert listed() == [a["id"], b["id"], c["id"], d["id"]]  # ordered by start
    assert listed(opportunity_gid=OPP) == [a["id"], c["id"]]
    assert listed(customer_gid=CUSTOMER) == [a["id"], d["id"]]
    assert listed(appointment_gid="0Q0B") == [b["id"]]
    assert listed(appointment_gid="nope") == []
    # An empty value is no filter (OLS shows absent gids as "", but none is stored as "").
    assert listed(customer_gid="", opportunity_gid="", appointment_gid="", type="", status="", updated_since="") == [
        a["id"],
        b["id"],
        c["id"],
        d["id"],
    ]
    assert listed(status="scheduled") == [a["id"]]
    assert listed(status="reserved") == [b["id"]]
    assert listed(status="unknown-status") == [c["id"]]
    assert listed(type="TECH SETUP") == [b["id"]]
    assert listed(type="HEARING AID EVALUATION") == [a["id"]]
    # Labels filter by their canonical value: FOLLOW UP and FITTING are both FOLLOW_UP.
    assert listed(type="FITTING") == listed(type="FOLLOW UP") == [c["id"], d["id"]]
    assert listed(opportunity_gid="0069E00000OTHER", type="FITTING") == [d["id"]]

    time.sleep(0.02)  # updated_at has millisecond precision: make the change strictly later than the creates
    changed = api.patch(f"/ols/appointments/{b['id']}", json={"customer_gid": "0039E00003"})
    assert changed.status_code == 200, changed.text
    since = changed.json()["updated_at"]
    assert listed(updated_since=since) == [b["id"]]
    assert listed(updated_since=since.replace("Z", "+00:00")) == [b["id"]]
    assert listed(updated_since=a["created_at"]) == [a["id"], b["id"], c["id"], d["id"]]
    assert listed(updated_since="2100-01-01T00:00:00.000Z") == []


def test_bad_list_filters_are_422(api: Api) -> None:
    assert_problem(api.get("/ols/appointments", params={"updated_since": "2026-12-01T00:00:00"}), 422, "updated_since")
    assert_problem(api.get("/ols/appointments", params={"updated_since": "yesterday"}), 422, "updated_since")
    assert_problem(api.get("/ols/appointments", params={"limit": "0"}), 422, "query.limit")
    assert_problem(api.get("/ols/appointments", params={"limit": "501"}), 422, "query.limit")
    assert_problem(api.get("/ols/appointments", params={"colour": "red"}), 422, "query.colour")
    assert_problem(api.get("/ols/appointments", params={"cursor": "garbage"}), 422, "cursor")


def test_opportunity_appointments(api: Api) -> None:
    a = create(api, date_v2="2026-12-01T09:00:00.000Z")
    create(api, date_v2="2026-12-01T10:00:00.000Z", opportunity_gid="0069E00000OTHER")
    c = create(api, date_v2="2026-12-01T11:00:00.000Z", type="TECH SETUP")
    assert ids(api.get(f"/ols/opportunities/{OPP}/appointments")) == [a["id"], c["id"]]
    assert ids(api.get(f"/ols/opportunities/{OPP}/appointments", params={"type": "TECH SETUP"})) == [c["id"]]
    assert ids(api.get("/ols/opportunities/0069E00000NONE/appointments")) == []


def follow(api: Api, path: str, params: dict[str, str]) -> Iterator[requests.Response]:
    response = api.get(path, params=params)
    while True:
        yield response
        link = response.headers.get("Link")
        if not link:
            return
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        target = urlsplit(match.group(1))
        assert target.path == path
        response = api.get(target.path, params={k: v[0] for k, v in parse_qs(target.query).items()})


def test_pagination_with_link_headers(api: Api) -> None:
    made = [create(api, date_v2=f"2026-12-0{day}T09:00:00.000Z")["id"] for day in range(1, 6)]
    create(api, date_v2="2026-12-03T10:00:00.000Z", opportunity_gid="0069E00000OTHER")
    pages = [ids(r) for r in follow(api, "/ols/appointments", {"limit": "2", "opportunity_gid": OPP})]
    assert pages == [made[0:2], made[2:4], made[4:5]]
    path = f"/ols/opportunities/{OPP}/appointments"
    assert [ids(r) for r in follow(api, path, {"limit": "3"})] == [made[0:3], made[3:5]]
    # The path's opportunity wins over a query parameter of the same name, on every page.
    pages = [ids(r) for r in follow(api, path, {"limit": "3", "opportunity_gid": "0069E00000OTHER"})]
    assert pages == [made[0:3], made[3:5]]
    # The whole list fits in one page by default: no Link header.
    assert "Link" not in api.get("/ols/appointments").headers


# --------------------------------------------------------------------------- change and delete


def test_put_replaces_every_ols_field_and_clears_gids_not_sent(api: Api) -> None:
    created = create(api, status="reserved", date_end="2026-12-01T16:30:00.000Z")
    response = api.put(
        f"/ols/appointments/{created['id']}",
        json={
            "date_v2": "2026-12-03T08:00:00.000Z",
            "type": "TECH SETUP",
            "status": "scheduled",
            "opportunity_gid": OPP,
        },
    )
    assert response.status_code == 200, response.text
    put = response.json()
    assert_ols_shape(put)
    assert put["id"] == created["id"]
    assert put["created_at"] == created["created_at"]
    assert stamp(put["updated_at"]) >= stamp(created["updated_at"])
    assert (put["date_v2"], put["date"]) == ("2026-12-03T08:00:00.000Z", "2026-12-03T09:00:00.000Z")
    assert (put["type"], put["status"]) == ("TECH SETUP", "scheduled")
    assert (put["opportunity_gid"], put["customer_gid"], put["appointment_gid"]) == (OPP, "", "")
    assert api.get(f"/ols/appointments/{created['id']}").json() == put
    data = canonical(api, created["id"])
    assert data["meta"]["salesforce"] == {"appointment_gid": None, "opportunity_gid": OPP, "customer_gid": None}
    assert (data["meta"]["type"], data["status"]) == ("TECH_SETUP", "BOOKED")
    assert data["date_end"] == "2026-12-03T08:30:00.000Z"  # the duration is kept


def test_put_requires_date_type_and_status(api: Api) -> None:
    created = create(api)
    response = api.put(f"/ols/appointments/{created['id']}", json={"opportunity_gid": OPP})
    assert_problem(response, 422, "date_v2", "type", "status")
    assert api.get(f"/ols/appointments/{created['id']}").json() == created


def test_patch_changes_only_what_is_sent(api: Api) -> None:
    created = create(api)
    response = api.patch(f"/ols/appointments/{created['id']}", json={"customer_gid": "0039E00042"})
    assert response.status_code == 200, response.text
    patched = response.json()
    unchanged = OLS_KEYS - {"customer_gid", "updated_at"}
    assert {k: patched[k] for k in unchanged} == {k: created[k] for k in unchanged}
    assert patched["customer_gid"] == "0039E00042"
    # The legacy date alone moves the start; the duration is kept.
    moved = api.patch(f"/ols/appointments/{created['id']}", json={"date": "2026-12-05T10:00:00.000Z"}).json()
    assert moved["date_v2"] == "2026-12-05T09:00:00.000Z"
    assert moved["customer_gid"] == "0039E00042"
    data = canonical(api, created["id"])
    assert stamp(data["date_end"]) - stamp(data["date_start"]) == timedelta(minutes=60)
    # An empty string clears a gid.
    cleared = api.patch(f"/ols/appointments/{created['id']}", json={"appointment_gid": ""}).json()
    assert cleared["appointment_gid"] == ""
    assert cleared["opportunity_gid"] == OPP


def test_null_name_is_not_sent(api: Api) -> None:
    """The OLS input allows ``name: null``: it leaves the name as it is (it cannot clear it)."""
    created = create(api, name="Evaluation w/Jane")
    path = f"/ols/appointments/{created['id']}"
    response = api.patch(path, json={"name": None})
    assert response.status_code == 200, response.text
    assert canonical(api, created["id"])["name"] == "Evaluation w/Jane"
    response = api.patch(path, json={"name": None, "customer_gid": "0039E00042"})
    assert response.status_code == 200, response.text
    assert response.json()["customer_gid"] == "0039E00042"
    assert api.put(path, json=ols_body(name=None)).status_code == 200
    assert canonical(api, created["id"])["name"] == "Evaluation w/Jane"
    assert canonical(api, create(api, name=None)["id"])["name"] == "Hearing Aid Evaluation"
    assert_problem(api.patch(path, json={"name": ""}), 422, "name")


def test_patch_with_only_date_end_changes_the_end(api: Api) -> None:
    created = create(api)
    path = f"/ols/appointments/{created['id']}"
    response = api.patch(path, json={"date_end": "2026-12-01T16:15:00.000Z"})
    assert response.status_code == 200, response.text
    data = canonical(api, created["id"])
    assert (data["date_start"], data["date_end"]) == ("2026-12-01T16:00:00.000Z", "2026-12-01T16:15:00.000Z")
    assert_problem(api.patch(path, json={"date_end": "2026-12-01T15:00:00.000Z"}), 422, "date_end")
    assert canonical(api, created["id"])["date_end"] == "2026-12-01T16:15:00.000Z"


def test_delete_then_404(api: Api, live: LiveServer) -> None:
    created = create(api)
    kept = create(api, date_v2="2026-12-02T16:00:00.000Z")
    response = api.delete(f"/ols/appointments/{created['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(api.get(f"/ols/appointments/{created['id']}"), 404)
    assert_problem(api.delete(f"/ols/appointments/{created['id']}"), 404)
    assert_problem(api.patch(f"/ols/appointments/{created['id']}", json={"customer_gid": "x"}), 404)
    assert ids(api.get("/ols/appointments")) == [kept["id"]]
    assert ids(api.get(f"/ols/opportunities/{OPP}/appointments")) == [kept["id"]]


def test_unknown_ids_are_404(api: Api) -> None:
    assert_problem(api.get(f"/ols/appointments/{uuid.uuid4()}"), 404)
    assert_problem(api.get("/ols/appointments/not-a-uuid"), 404)
    assert_problem(api.put(f"/ols/appointments/{uuid.uuid4()}", json=ols_body()), 404)


def test_if_match(api: Api) -> None:
    response = api.post("/ols/appointments", json=ols_body())
    created, etag = response.json(), response.headers["ETag"]
    path = f"/ols/appointments/{created['id']}"
    changed = api.patch(path, json={"customer_gid": "0039E00042"}, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag
    stale = {"If-Match": etag}
    assert_problem(api.patch(path, json={"customer_gid": "0039E00043"}, headers=stale), 412)
    assert_problem(api.put(path, json=ols_body(customer_gid="0039E00043"), headers=stale), 412)
    assert_problem(api.delete(path, headers=stale), 412)
    assert api.get(path).json() == changed.json()  # nothing changed by the refused requests
    assert api.delete(path, headers={"If-Match": changed.headers["ETag"]}).status_code == 204


def test_status_transitions_the_core_refuses_are_409(api: Api) -> None:
    created = create(api, status="scheduled")  # BOOKED
    path = f"/ols/appointments/{created['id']}"
    # BOOKED → INITIAL is not allowed (OLS may have accepted it).
    assert_problem(api.patch(path, json={"status": "unknown-status"}), 409)
    assert api.patch(path, json={"status": "cancelled"}).status_code == 200
    # A cancelled appointment cannot change any more.
    assert_problem(api.patch(path, json={"customer_gid": "0039E00042"}), 409)
    assert api.get(path).json()["status"] == "cancelled"


# --------------------------------------------------------------------------- OLS and canonical views agree


def test_canonical_appointment_seen_through_ols(api: Api, people: People) -> None:
    response = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    assert response.status_code == 201, response.text
    data = response.json()
    doc = api.get(f"/ols/appointments/{data['id']}").json()
    assert_ols_shape(doc)
    assert doc == {
        "appointment_gid": "",
        "created_at": data["created_at"],
        "customer_gid": "0039E00001",
        "date_v2": data["date_start"],
        "date": "2026-12-01T17:00:00.000Z",
        "id": data["id"],
        "opportunity_gid": "0069E00000HbsUrQAJ",
        "status": "unknown-status",
        "type": "HEARING AID EVALUATION",
        "updated_at": data["updated_at"],
    }
    assert ids(api.get(f"/ols/opportunities/{OPP}/appointments")) == [data["id"]]
    # A change through the canonical API shows through OLS.
    booked = api.post(f"/api/v1/appointments/{data['id']}/book")
    assert booked.status_code == 200, booked.text
    doc = api.get(f"/ols/appointments/{data['id']}").json()
    assert doc["status"] == "scheduled"
    assert doc["updated_at"] == booked.json()["updated_at"]


def test_ols_appointment_seen_through_the_canonical_api(api: Api) -> None:
    created = create(api, status="reserved", date_end="2026-12-01T16:30:00.000Z")
    data = canonical(api, created["id"])
    assert data["id"] == created["id"]
    assert data["date_start"] == created["date_v2"]
    assert (data["created_at"], data["updated_at"]) == (created["created_at"], created["updated_at"])
    assert data["status"] == "RESERVED"
    assert data["meta"]["type"] == "INITIAL"
    assert data["meta"]["salesforce"] == {
        "appointment_gid": SF_APPOINTMENT,
        "opportunity_gid": OPP,
        "customer_gid": CUSTOMER,
    }
    assert data["meta"]["ols"] == {"type": "HEARING AID EVALUATION", "status": "reserved"}
    canonical_list = api.get("/api/v1/appointments", params={"opportunity_gid": OPP}).json()
    assert [item["id"] for item in canonical_list["items"]] == [created["id"]]


def test_unknown_labels_are_kept_until_the_canonical_value_changes(api: Api) -> None:
    created = create(api, type="HOME VISIT", status="no-show")
    assert (created["type"], created["status"]) == ("HOME VISIT", "no-show")
    path = f"/ols/appointments/{created['id']}"
    assert (api.get(path).json()["type"], api.get(path).json()["status"]) == ("HOME VISIT", "no-show")
    data = canonical(api, created["id"])
    assert (data["meta"]["type"], data["status"]) == ("FOLLOW_UP", "INITIAL")
    assert ids(api.get("/ols/appointments", params={"type": "HOME VISIT"})) == [created["id"]]
    # A change of status drops the status label only.
    booked = api.post(f"/api/v1/appointments/{created['id']}/book")
    assert booked.status_code == 200, booked.text
    doc = api.get(path).json()
    assert (doc["type"], doc["status"]) == ("HOME VISIT", "scheduled")
    # A change of type through the canonical API drops the type label.
    changed = api.patch(f"/api/v1/appointments/{created['id']}", json={"meta": {"type": "TECH_SETUP"}})
    assert changed.status_code == 200, changed.text
    assert api.get(path).json()["type"] == "TECH SETUP"


# --------------------------------------------------------------------------- configuration


def test_prefix_and_legacy_zone_are_configurable(runtime: Runtime, people: People) -> None:
    settings = runtime.settings.replace(ols_prefix="/legacy", ols_legacy_timezone="America/New_York")
    legacy = Runtime.from_settings(settings)
    try:
        with serve(legacy) as server:
            api = server.client(people.dispatcher.token)
            response = api.post("/legacy/appointments", json=ols_body(date_v2="2021-05-25T05:55:00.000Z"))
            assert response.status_code == 201, response.text
            created = response.json()
            assert_ols_shape(created)
            assert created["date"] == "2021-05-25T01:55:00.000Z"  # New York wall-clock time, labelled Z
            assert response.headers["Location"].endswith(f"/legacy/appointments/{created['id']}")
            assert api.get(f"/legacy/appointments/{created['id']}").json() == created
            assert ids(api.get(f"/legacy/opportunities/{OPP}/appointments")) == [created["id"]]
            second = api.post("/legacy/appointments", json=ols_body(date_v2="2021-05-26T05:55:00.000Z"))
            assert second.status_code == 201, second.text
            page = api.get("/legacy/appointments", params={"limit": "1"})
            assert page.headers["Link"].startswith("</legacy/appointments?")
            assert api.get("/ols/appointments").status_code == 404
            # The legacy date is read in the configured zone too.
            moved = api.patch(f"/legacy/appointments/{created['id']}", json={"date": "2021-05-25T02:55:00.000Z"})
            assert moved.json()["date_v2"] == "2021-05-25T06:55:00.000Z"
    finally:
        legacy.close()


# --------------------------------------------------------------------------- errors and access


#: (case, body, fields the problem must name, whether PUT and PATCH must refuse it too)
BAD_INPUT: list[tuple[str, Any, list[str], bool]] = [
    ("malformed-json", b'{"type": "FITTING", "date_v2": ', ["(body)"], True),
    ("not-an-object", b"[]", ["(body)"], True),
    ("missing-type", {"date_v2": "2026-12-01T16:00:00.000Z"}, ["type"], False),  # a partial body is fine for PATCH
    ("missing-date", {"type": "FITTING"}, ["date_v2"], False),
    ("naive-date_v2", {"type": "FITTING", "date_v2": "2026-12-01T16:00:00"}, ["date_v2"], True),
    ("naive-legacy-date", {"type": "FITTING", "date": "2026-12-01T17:00:00"}, ["date"], True),
    ("no-such-month", {"type": "FITTING", "date_v2": "2026-13-01T16:00:00Z"}, ["date_v2"], True),
    ("empty-type", {"type": "", "date_v2": "2026-12-01T16:00:00Z"}, ["type"], True),
    ("long-type", {"type": "X" * 65, "date_v2": "2026-12-01T16:00:00Z"}, ["type"], True),
    ("number-type", {"type": 7, "date_v2": "2026-12-01T16:00:00Z"}, ["type"], True),
    (
        "number-gid",
        {"type": "FITTING", "date_v2": "2026-12-01T16:00:00Z", "opportunity_gid": 5},
        ["opportunity_gid"],
        True,
    ),
    ("out-of-range", {"type": "FITTING", "date_v2": "0001-01-01T00:30:00+01:00"}, ["date_v2"], True),
    (
        "naive-date_end",
        {"type": "FITTING", "date_v2": "2026-12-01T16:00:00Z", "date_end": "2026-12-01T16:30:00"},
        ["date_end"],
        True,
    ),
]


def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(api: Api, live: LiveServer) -> None:
    created = create(api)
    path = f"/ols/appointments/{created['id']}"
    for case, body, fields, updates in BAD_INPUT:
        if isinstance(body, bytes):
            kwargs: dict[str, Any] = {"data": body, "headers": {"Content-Type": "application/json"}}
        else:
            kwargs = {"json": body}
        status = 400 if case == "malformed-json" else 422  # a body that is not JSON at all is a 400
        problem = assert_problem(api.post("/ols/appointments", **kwargs), status, *fields)
        assert all(e["message"] for e in problem["errors"]), (case, problem)
        assert count_rows(live) == 1, case
        if not updates:
            continue
        assert_problem(api.patch(path, **kwargs), status, *fields)
        if isinstance(body, dict):
            kwargs = {"json": {**body, "status": "scheduled"}}  # PUT also needs a status
        assert_problem(api.put(path, **kwargs), status, *fields)
        assert api.get(path).json() == created, case


def test_an_end_before_the_start_is_refused(api: Api, live: LiveServer) -> None:
    body = ols_body(date_end="2026-12-01T15:00:00.000Z")
    assert_problem(api.post("/ols/appointments", json=body), 422)
    assert count_rows(live) == 0


def test_wrong_content_type_is_a_problem(api: Api, live: LiveServer) -> None:
    response = api.post("/ols/appointments", data="type=FITTING", headers={"Content-Type": "text/plain"})
    assert_problem(response, 422, "(body)")
    assert count_rows(live) == 0


def test_unknown_calendar_is_refused(api: Api, live: LiveServer) -> None:
    # The problem names the OLS body's key (calendar_id), not the canonical field behind it (calendar.id).
    assert_problem(api.post("/ols/appointments", json=ols_body(calendar_id=str(uuid.uuid4()))), 422, "calendar_id")
    assert count_rows(live) == 0


def test_401_without_a_valid_token(live: LiveServer, api: Api) -> None:
    created = create(api)
    path = f"/ols/appointments/{created['id']}"
    for client in (live.client(), live.client("not-a-token")):
        for response in (
            client.get("/ols/appointments"),
            client.get(path),
            client.get(f"/ols/opportunities/{OPP}/appointments"),
            client.post("/ols/appointments", json=ols_body()),
            client.put(path, json=ols_body()),
            client.patch(path, json={"customer_gid": "x"}),
            client.delete(path),
        ):
            assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get(path).json() == created
    assert count_rows(live) == 1


def test_a_fitter_cannot_reach_another_fitters_appointments(live: LiveServer, people: People) -> None:
    fitter, other = live.client(people.fitter.token), live.client(people.other_fitter.token)
    theirs = create(other)
    mine = create(fitter, date_v2="2026-12-02T16:00:00.000Z")
    path = f"/ols/appointments/{theirs['id']}"
    assert_problem(fitter.get(path), 404)
    assert_problem(fitter.put(path, json=ols_body()), 404)
    assert_problem(fitter.patch(path, json={"customer_gid": "x"}), 404)
    assert_problem(fitter.delete(path), 404)
    assert ids(fitter.get("/ols/appointments")) == [mine["id"]]
    assert ids(fitter.get(f"/ols/opportunities/{OPP}/appointments")) == [mine["id"]]
    assert ids(fitter.get("/ols/appointments", params={"appointment_gid": SF_APPOINTMENT})) == [mine["id"]]
    # Nor write onto the other fitter's calendar.
    assert_problem(fitter.post("/ols/appointments", json=ols_body(calendar_id=people.other_fitter.calendar_id)), 422)
    assert other.get(path).json() == theirs


def test_a_read_only_token_cannot_write(live: LiveServer, people: People) -> None:
    reader = live.client(people.fitter.read_token)
    assert_problem(reader.post("/ols/appointments", json=ols_body()), 403)
    assert reader.get("/ols/appointments").json() == []
