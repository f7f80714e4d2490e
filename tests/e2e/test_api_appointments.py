"""The canonical REST API over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select, update

from caldav_bridge.clock import utcnow
from caldav_bridge.store.tables import AppointmentRow, AuditRow, IdempotencyRow, OutboxRow, StatusHistoryRow
from tests.conftest import People
from tests.support.factories import appointment_body, iso
from tests.support.live import Api, LiveServer

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
BASE = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)


def _create(api: Api, calendar_id: str, **kwargs: object) -> dict:
    response = api.post("/api/v1/appointments", json=appointment_body(calendar_id, **kwargs))  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    return response.json()


def _count(live: LiveServer, table: type) -> int:
    with live.runtime.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(table)) or 0)


def test_created_appointment_has_the_canonical_shape(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "", status="INITAL")  # the brief's spelling
    response = api.post("/api/v1/appointments", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert set(data) == {
        "calendar",
        "created_at",
        "date_end",
        "date_start",
        "description",
        "guests",
        "id",
        "meta",
        "name",
        "status",
        "updated_at",
    }
    assert data["calendar"] == {"id": people.fitter.calendar_id, "name": "fitter.denver"}
    assert data["status"] == "INITIAL"
    assert uuid.UUID(data["id"]).version == 4
    for key in ("created_at", "updated_at", "date_start", "date_end"):
        assert TIMESTAMP.match(data[key]), data[key]
    assert data["date_start"] == "2026-12-01T16:00:00.000Z"
    assert data["meta"] == {
        "salesforce": {"appointment_gid": None, "opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"},
        "type": "INITIAL",
        "source": "test",
    }
    assert data["guests"] == [
        {
            "id": "cust-1",
            "first_name": "Jane",
            "last_name": "Doe",
            "timezone": "America/Denver",
            "email": "jane@example.com",
        }
    ]
    assert response.headers["Location"].endswith(f"/api/v1/appointments/{data['id']}")
    assert response.headers["ETag"].startswith('"')


def test_offsets_are_converted_to_utc_and_milliseconds_kept(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "")
    body["date_start"] = "2026-12-01T09:00:00.123-07:00"
    body["date_end"] = "2026-12-01T10:00:00.999999-07:00"
    data = api.post("/api/v1/appointments", json=body).json()
    assert data["date_start"] == "2026-12-01T16:00:00.123Z"
    assert data["date_end"] == "2026-12-01T17:00:00.999Z"


def test_create_writes_outbox_history_and_audit_in_one_go(live: LiveServer, people: People) -> None:
    data = _create(live.client(people.fitter.token), people.fitter.calendar_id or "")
    with live.runtime.uow() as uow:
        outbox = uow.outbox.for_appointment(data["id"])
        audit = uow.audit.for_appointment(data["id"])
        history = uow.appointments.history(data["id"])
    assert [(o.operation, o.state) for o in outbox] == [("upsert", "pending")]
    assert outbox[0].payload["id"] == data["id"]
    assert [(a.actor, a.channel, a.action) for a in audit] == [("fitter.denver", "api", "create")]
    assert audit[0].request_id
    assert [(h.old_status, h.new_status, h.channel) for h in history] == [(None, "INITIAL", "api")]


def test_reads_are_audited(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = _create(api, people.fitter.calendar_id or "")
    api.get(f"/api/v1/appointments/{data['id']}")
    live.client(people.dispatcher.token).get("/api/v1/appointments")
    with live.runtime.uow() as uow:
        reads = [(a.actor, a.action) for a in uow.audit.for_appointment(data["id"]) if a.action == "read"]
    assert reads == [("fitter.denver", "read"), ("dispatcher", "read")]


def test_list_filters(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    cal = people.fitter.calendar_id or ""
    a = _create(api, cal, start=BASE)
    b = _create(
        api,
        cal,
        start=BASE + timedelta(days=1),
        meta={
            "type": "FOLLOW_UP",
            "salesforce": {"opportunity_gid": "OPP-2", "customer_gid": "CUST-2", "appointment_gid": "APPT-2"},
        },
    )
    c = _create(
        api,
        people.other_fitter.calendar_id or "",
        start=BASE + timedelta(days=2),
        guests=[{"id": "cust-9", "first_name": "Ann"}],
    )
    api.post(f"/api/v1/appointments/{a['id']}/book")

    def ids(**params: str) -> list[str]:
        response = api.get("/api/v1/appointments", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(calendar_id=cal) == [a["id"], b["id"]]
    assert ids(guest_id="cust-9") == [c["id"]]
    assert ids(opportunity_gid="OPP-2") == [b["id"]]
    assert ids(customer_gid="CUST-2") == [b["id"]]
    assert ids(appointment_gid="APPT-2") == [b["id"]]
    assert ids(type="FOLLOW_UP") == [b["id"]]
    assert ids(status="BOOKED") == [a["id"]]
    assert ids(status="INITAL") == [b["id"], c["id"]]
    # overlap: an appointment from 16:00 to 17:00 overlaps [16:30, 16:45) but not [17:00, 18:00)
    assert ids(**{"from": iso(BASE + timedelta(minutes=30)), "to": iso(BASE + timedelta(minutes=45))}) == [a["id"]]
    assert ids(**{"from": iso(BASE + timedelta(hours=1)), "to": iso(BASE + timedelta(hours=2))}) == []
    assert ids(**{"from": iso(BASE + timedelta(days=1)), "to": iso(BASE + timedelta(days=3))}) == [b["id"], c["id"]]
    booked = api.get(f"/api/v1/appointments/{a['id']}").json()
    assert ids(updated_since=booked["updated_at"]) == [a["id"]]


def test_cursor_pagination_is_stable_and_complete(live: LiveServer, people: People) -> None:
    api = live.client(people.dispatcher.token)
    cal = people.fitter.calendar_id or ""
    created = [_create(api, cal, start=BASE + timedelta(hours=i % 3))["id"] for i in range(7)]  # equal starts too
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/appointments", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen)) == 7
    bad = api.get("/api/v1/appointments", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "cursor"


def test_patch_with_if_match_and_lost_update_protection(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    created = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    etag = created.headers["ETag"]
    url = f"/api/v1/appointments/{created.json()['id']}"
    first = api.patch(
        url,
        json={"name": "Renamed", "meta": {"room": "2B", "salesforce": {"appointment_gid": "A1"}}},
        headers={"If-Match": etag},
    )
    assert first.status_code == 200, first.text
    assert first.json()["name"] == "Renamed"
    assert first.json()["meta"]["room"] == "2B"
    assert first.json()["meta"]["source"] == "test"  # merged, not replaced
    assert first.json()["meta"]["salesforce"]["opportunity_gid"] == "0069E00000HbsUrQAJ"
    assert first.json()["meta"]["salesforce"]["appointment_gid"] == "A1"
    assert first.headers["ETag"] != etag
    stale = api.patch(url, json={"name": "Lost update"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["Content-Type"] == "application/problem+json"
    assert api.get(url).json()["name"] == "Renamed"
    assert api.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    # If-Match compares strongly (RFC 9110 13.1.1): the current tag marked weak matches nothing, on REST and OLS
    weak = "W/" + first.headers["ETag"]
    assert api.patch(url, json={"name": "Weakly matched"}, headers={"If-Match": weak}).status_code == 412
    ols = f"/ols/appointments/{created.json()['id']}"
    assert api.patch(ols, json={"name": "Weakly matched"}, headers={"If-Match": weak}).status_code == 412
    assert api.delete(url, headers={"If-Match": f'{weak}, "other"'}).status_code == 412
    assert api.get(url).json()["name"] == "Renamed"


def test_etag_changes_when_and_only_when_the_appointment_changes(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    created = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    url = f"/api/v1/appointments/{created.json()['id']}"
    assert api.get(url).headers["ETag"] == created.headers["ETag"]
    assert api.get(url).headers["ETag"] == created.headers["ETag"]
    # a patch of nothing, or of the values it holds, changes nothing: same ETag, no history, nothing to push
    history, outbox = len(api.get(f"{url}/history").json()["items"]), _count(live, OutboxRow)
    body = created.json()
    for same in (
        {},
        {"name": body["name"]},
        {"date_start": body["date_start"], "meta": {"type": body["meta"]["type"]}},
    ):
        unchanged = api.patch(url, json=same)
        assert unchanged.status_code == 200 and unchanged.headers["ETag"] == created.headers["ETag"], same
        assert unchanged.json()["updated_at"] == body["updated_at"], same
    assert len(api.get(f"{url}/history").json()["items"]) == history and _count(live, OutboxRow) == outbox
    changed = api.patch(url, json={"description": None})
    assert changed.json()["description"] is None
    assert changed.headers["ETag"] != created.headers["ETag"]
    assert len(api.get(f"{url}/history").json()["items"]) > history or _count(live, OutboxRow) > outbox


@pytest.mark.parametrize("format_name", [None, "blueprint"])
def test_if_none_match_is_a_list_of_tags_compared_weakly(
    live: LiveServer, people: People, format_name: str | None
) -> None:
    """RFC 9110 §13.1.2: ``*``, a list naming the tag, a weak ``W/`` form: 304; another tag: 200. (It was a
    substring test over the header: ``*`` got the whole body again.)"""
    api = live.client(people.fitter.token)
    created = _create(api, people.fitter.calendar_id or "", start=BASE)
    url = f"/api/v1/appointments/{created['id']}" + (f"?format={format_name}" if format_name else "")
    etag = api.get(url).headers["ETag"]
    for header in ("*", etag, f'"other", {etag}', f"W/{etag}", f'W/"x",W/{etag} , "y"'):
        answer = api.get(url, headers={"If-None-Match": header})
        assert answer.status_code == 304 and answer.headers["ETag"] == etag, header
    for header in ('"other"', f'"x{etag[1:]}', f'{etag[:-1]}x"', 'W/"*"'):
        assert api.get(url, headers={"If-None-Match": header}).status_code == 200, header


def test_a_calendar_rename_changes_the_etag_of_its_appointments(live: LiveServer, people: People) -> None:
    """The appointment's JSON shows its calendar's name; a rename writes no appointment row, yet the ETag moves:
    a conditional read with the old ETag gets the new name, and a change based on the old name is refused."""
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    created = _create(api, calendar_id, start=BASE)
    url = f"/api/v1/appointments/{created['id']}"
    before = api.get(url)
    old_name, old_etag = before.json()["calendar"]["name"], before.headers["ETag"]
    assert api.get(url, headers={"If-None-Match": old_etag}).status_code == 304
    version = _version(live, created["id"])

    assert _rename(api, calendar_id, "Hörakustik Süd") != old_name
    assert _version(live, created["id"]) == version  # the rename wrote no appointment
    again = api.get(url, headers={"If-None-Match": old_etag})
    assert again.status_code == 200, again.status_code
    assert again.json()["calendar"]["name"] == "Hörakustik Süd"
    assert again.json() == {**before.json(), "calendar": {"id": calendar_id, "name": "Hörakustik Süd"}}
    new_etag = again.headers["ETag"]
    assert new_etag != old_etag
    assert api.get(url, headers={"If-None-Match": new_etag}).status_code == 304
    window = {"calendar_id": calendar_id, "from": created["date_start"], "to": created["date_end"]}
    (listed,) = api.get("/api/v1/appointments", params=window).json()["items"]
    assert listed == again.json()

    for refused in _changes_under(api, created["id"], old_etag):
        assert refused.status_code == 412, (refused.request.method, refused.request.url, refused.text)
        assert refused.headers["Content-Type"] == "application/problem+json"
    assert api.get(url).json() == again.json()  # nothing changed by the refused requests
    assert _version(live, created["id"]) == version

    # the old name back: what was read first is again the current representation, so its ETag is current again
    _rename(api, calendar_id, old_name)
    back = api.get(url)
    assert (back.json(), back.headers["ETag"]) == (before.json(), old_etag)
    assert api.patch(url, json={"name": "x"}, headers={"If-Match": new_etag}).status_code == 412
    changed = api.patch(url, json={"name": "Based on the current name"}, headers={"If-Match": old_etag})
    assert changed.status_code == 200, changed.text


def _version(live: LiveServer, appointment_id: str) -> int | None:
    with live.runtime.uow() as uow:
        return uow.session.scalar(select(AppointmentRow.version).where(AppointmentRow.id == appointment_id))


def _rename(api: Api, calendar_id: str, name: str) -> str:
    renamed = api.patch(f"/api/v1/calendars/{calendar_id}", json={"name": name})
    assert renamed.status_code == 200, renamed.text
    return str(renamed.json()["name"])


def _changes_under(api: Api, appointment_id: str, etag: str) -> list[requests.Response]:
    """A change of each kind (REST PATCH, OLS PATCH, a status change, DELETE) sent with ``If-Match: etag``."""
    url, stale = f"/api/v1/appointments/{appointment_id}", {"If-Match": etag}
    return [
        api.patch(url, json={"name": "Based on the old name"}, headers=stale),
        api.patch(f"/ols/appointments/{appointment_id}", json={"name": "Based on the old name"}, headers=stale),
        api.post(f"{url}/book", headers=stale),
        api.delete(url, headers=stale),
    ]


def test_patch_rejects_end_before_start_and_writes_nothing(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = _create(api, people.fitter.calendar_id or "")
    url = f"/api/v1/appointments/{data['id']}"
    response = api.patch(url, json={"date_end": "2026-12-01T15:00:00Z"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "date_end"
    assert api.get(url).json() == data


def test_delete_with_if_match(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    created = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    url = f"/api/v1/appointments/{created.json()['id']}"
    assert api.delete(url, headers={"If-Match": '"nope"'}).status_code == 412
    assert api.delete(url, headers={"If-Match": created.headers["ETag"]}).status_code == 204
    assert api.get(url).status_code == 404
    assert api.delete(url).status_code == 404
    with live.runtime.uow() as uow:
        assert [o.operation for o in uow.outbox.for_appointment(created.json()["id"])] == ["upsert", "delete"]


def test_lifecycle_book_reschedule_cancel(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = _create(api, people.fitter.calendar_id or "")
    url = f"/api/v1/appointments/{data['id']}"
    booked = api.post(f"{url}/book")
    assert booked.status_code == 200 and booked.json()["status"] == "BOOKED"
    assert api.post(f"{url}/book").status_code == 409
    moved = api.post(
        f"{url}/reschedule",
        json={"date_start": "2026-12-03T16:00:00Z", "date_end": "2026-12-03T17:00:00Z", "reason": "customer ill"},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "RESCHEDULED"
    assert moved.json()["date_start"] == "2026-12-03T16:00:00.000Z"
    assert api.post(f"{url}/cancel", json={}).status_code == 422  # a reason is required
    cancelled = api.post(f"{url}/cancel", json={"reason": "no longer needed"})
    assert cancelled.json()["status"] == "CANCELLED"
    conflict = api.post(
        f"{url}/reschedule", json={"date_start": "2026-12-04T16:00:00Z", "date_end": "2026-12-04T17:00:00Z"}
    )
    assert conflict.status_code == 409
    assert conflict.headers["Content-Type"] == "application/problem+json"
    assert "CANCELLED" in conflict.json()["detail"]
    history = api.get(f"{url}/history").json()["items"]
    assert [(h["old_status"], h["new_status"]) for h in history] == [
        (None, "INITIAL"),
        ("INITIAL", "BOOKED"),
        ("BOOKED", "RESCHEDULED"),
        ("RESCHEDULED", "CANCELLED"),
    ]
    assert history[2]["old_start"] == "2026-12-01T16:00:00.000Z"
    assert history[2]["new_start"] == "2026-12-03T16:00:00.000Z"
    assert history[2]["reason"] == "customer ill"
    assert history[3]["reason"] == "no longer needed"


def test_invalid_status_transition_through_patch_is_409(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = _create(api, people.fitter.calendar_id or "")
    url = f"/api/v1/appointments/{data['id']}"
    assert api.post(f"{url}/cancel", json={"reason": "x"}).status_code == 200
    response = api.patch(url, json={"status": "BOOKED"})
    assert response.status_code == 409
    assert api.get(url).json()["status"] == "CANCELLED"


def test_follow_up_for_the_same_customer_and_opportunity(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    original = _create(api, people.fitter.calendar_id or "")
    response = api.post(
        f"/api/v1/appointments/{original['id']}/follow-ups",
        json={"date_start": "2026-12-15T16:00:00Z", "date_end": "2026-12-15T16:30:00Z"},
    )
    assert response.status_code == 201, response.text
    follow = response.json()
    assert follow["meta"]["type"] == "FOLLOW_UP"
    assert follow["status"] == "BOOKED"
    assert follow["meta"]["salesforce"] == {
        "appointment_gid": None,
        "opportunity_gid": "0069E00000HbsUrQAJ",
        "customer_gid": "0039E00001",
    }
    assert follow["meta"]["follow_up_of"] == original["id"]
    assert follow["guests"] == original["guests"]
    assert follow["calendar"]["id"] == people.fitter.calendar_id
    with live.runtime.uow() as uow:
        assert [o.operation for o in uow.outbox.for_appointment(follow["id"])] == ["upsert"]


def test_idempotency_key_returns_the_first_result(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "")
    headers = {"Idempotency-Key": "cockpit-123"}
    first = api.post("/api/v1/appointments", json=body, headers=headers)
    again = api.post("/api/v1/appointments", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.post("/api/v1/appointments", json={**body, "name": "different"}, headers=headers)
    assert other.status_code == 422
    assert _count(live, AppointmentRow) == 1
    assert _count(live, OutboxRow) == 1


def test_concurrent_requests_with_one_idempotency_key_create_one_appointment(live: LiveServer, people: People) -> None:
    body = appointment_body(people.fitter.calendar_id or "")

    def post(_: int) -> tuple[int, str]:
        response = live.client(people.fitter.token).post(
            "/api/v1/appointments", json=body, headers={"Idempotency-Key": "race-1"}
        )
        return response.status_code, response.json().get("id", response.text)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(post, range(6)))
    assert {status for status, _ in results} == {201}, results
    assert len({appointment_id for _, appointment_id in results}) == 1
    assert _count(live, AppointmentRow) == 1


def test_auth_401_403_404(live: LiveServer, people: People) -> None:
    anonymous = live.client()
    missing = anonymous.get("/api/v1/appointments")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert live.client("ast_wrong").get("/api/v1/appointments").status_code == 401

    mine = _create(live.client(people.fitter.token), people.fitter.calendar_id or "")
    theirs = _create(live.client(people.other_fitter.token), people.other_fitter.calendar_id or "")
    reader = live.client(people.fitter.read_token)
    assert reader.get(f"/api/v1/appointments/{mine['id']}").status_code == 200
    forbidden = reader.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    assert forbidden.status_code == 403
    assert forbidden.json()["title"] == "Forbidden"
    assert reader.post(f"/api/v1/appointments/{mine['id']}/book").status_code == 403

    fitter = live.client(people.fitter.token)
    assert fitter.get(f"/api/v1/appointments/{theirs['id']}").status_code == 404
    assert fitter.patch(f"/api/v1/appointments/{theirs['id']}", json={"name": "x"}).status_code == 404
    assert [i["id"] for i in fitter.get("/api/v1/appointments").json()["items"]] == [mine["id"]]
    # Filtering by a calendar the token does not reach is refused like an unknown one (nothing leaks).
    theirs_filtered = fitter.get("/api/v1/appointments", params={"calendar_id": people.other_fitter.calendar_id})
    assert theirs_filtered.status_code == 422
    assert [e["field"] for e in theirs_filtered.json()["errors"]] == ["calendar_id"]
    into_theirs = fitter.post("/api/v1/appointments", json=appointment_body(people.other_fitter.calendar_id or ""))
    assert into_theirs.status_code == 422
    assert into_theirs.json()["errors"][0]["field"] == "calendar.id"
    dispatcher = live.client(people.dispatcher.token)
    assert dispatcher.get(f"/api/v1/appointments/{theirs['id']}").status_code == 200
    assert _count(live, AppointmentRow) == 2


def test_revoked_token_is_refused(live: LiveServer, people: People) -> None:
    from caldav_bridge.services import users

    issued = users.issue_token(live.runtime.uow(), "fitter.denver", ("read",), "temp")
    api = live.client(issued.secret)
    assert api.get("/api/v1/appointments").status_code == 200
    users.revoke_token(live.runtime.uow(), issued.id)
    assert api.get("/api/v1/appointments").status_code == 401


def test_bad_input_gets_a_problem_naming_the_field_and_writes_nothing(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    cal = people.fitter.calendar_id or ""
    good = appointment_body(cal)
    cases = {
        "malformed": (dict(data=b'{"name": ', headers={"Content-Type": "application/json"}), 400, "(body)"),
        "not json": (
            dict(data=b"name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            422,
            "(body)",
        ),
        "wrong type": (dict(json={**good, "name": 42}), 422, "name"),
        "unknown enum": (dict(json={**good, "status": "MAYBE"}), 422, "status"),
        "unknown type": (dict(json={**good, "meta": {"type": "LUNCH"}}), 422, "meta.type"),
        "location a number": (dict(json={**good, "meta": {"type": "FOLLOW_UP", "location": 5}}), 422, "meta.location"),
        "end before start": (dict(json={**good, "date_end": good["date_start"]}), 422, "date_end"),
        "too long ago": (
            dict(json={**good, "date_start": "1000-01-01T10:00:00Z", "date_end": "1000-01-01T11:00:00Z"}),
            422,
            "date_start",
        ),
        "naive time": (dict(json={**good, "date_start": "2026-12-01T16:00:00"}), 422, "date_start"),
        "time as a number": (dict(json={**good, "date_start": 1796572800}), 422, "date_start"),
        "bad zone": (dict(json={**good, "guests": [{"timezone": "Mars/Olympus"}]}), 422, "guests.0.timezone"),
        "too long": (dict(json={**good, "name": "x" * 300}), 422, "name"),
        "unknown key": (dict(json={**good, "colour": "red"}), 422, "colour"),
        "unknown calendar": (dict(json={**good, "calendar": {"id": "nope"}}), 422, "calendar.id"),
        "array": (dict(json=[good]), 422, "(body)"),
    }
    for name, (kwargs, status, field) in cases.items():
        response = api.post("/api/v1/appointments", **kwargs)  # type: ignore[arg-type]
        assert response.status_code == status, (name, response.text)
        assert response.headers["Content-Type"] == "application/problem+json", name
        problem = response.json()
        assert problem["status"] == status and problem["title"] and problem["type"], name
        assert field in [e["field"] for e in problem["errors"]], (name, problem)
    assert _count(live, AppointmentRow) == 0
    assert _count(live, OutboxRow) == 0
    assert _count(live, StatusHistoryRow) == 0
    created = api.post("/api/v1/appointments", json=good)
    url = f"/api/v1/appointments/{created.json()['id']}"
    patched = api.patch(url, json={"meta": {"location": ["a", "list"]}})
    assert patched.status_code == 422 and "meta.location" in [e["field"] for e in patched.json()["errors"]]
    assert api.patch(url, json={"meta": {"location": {"name": "Clinic", "address": "Main St 1"}}}).status_code == 200
    with live.runtime.uow() as uow:  # a location stored before the check stays readable
        row = uow.appointments.get(created.json()["id"])
        assert row is not None
        row.meta_extra = {**(row.meta_extra or {}), "location": 5}
        uow.commit()
    assert api.get(url).json()["meta"]["location"] == 5


def test_oversize_body_is_413(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "", description="x" * 2_000_000)
    response = api.post("/api/v1/appointments", json=body)
    assert response.status_code == 413
    assert response.headers["Content-Type"] == "application/problem+json"
    assert _count(live, AppointmentRow) == 0


def test_unknown_routes_and_methods_are_problems(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    wrong = api.put("/api/v1/appointments")
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert api.get("/api/v1/appointments/not-a-uuid").status_code == 404


def test_calendars_api(live: LiveServer, people: People) -> None:
    admin = live.client(people.admin.token)
    created = admin.post("/api/v1/calendars", json={"name": "West team", "kind": "team", "timezone": "America/Denver"})
    assert created.status_code == 201, created.text
    team = created.json()
    assert admin.get(created.headers["Location"].removeprefix(live.base_url)).json() == team
    member = admin.post(
        "/api/v1/calendars",
        json={
            "name": "Tina",
            "kind": "tech_setup_member",
            "timezone": "America/Denver",
            "team_id": team["id"],
            "owner_username": "consultant.miami",
        },
    )
    assert member.status_code == 201, member.text
    refused = {
        "timezone": {"name": "X", "kind": "team", "timezone": "Nowhere/Zone"},
        "timezone ": {"name": "X", "kind": "team", "timezone": "localtime"},  # the host's zone, no IANA name
        "timezone  ": {"name": "X", "kind": "team", "timezone": "right/UTC"},
        "name": {"name": "   ", "kind": "team", "timezone": "UTC"},
        "team_id": {"name": "Team of a team", "kind": "team", "timezone": "UTC", "team_id": team["id"]},
    }
    for field, body in refused.items():
        bad = admin.post("/api/v1/calendars", json=body)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field.strip(), (body, bad.text)
    trimmed = admin.post("/api/v1/calendars", json={"name": f" {'n' * 255} ", "kind": "team", "timezone": "UTC"})
    assert trimmed.status_code == 201 and trimmed.json()["name"] == "n" * 255, trimmed.text
    renamed = admin.patch(f"/api/v1/calendars/{trimmed.json()['id']}", json={"name": f" {'m' * 255} "})
    assert renamed.status_code == 200 and renamed.json()["name"] == "m" * 255, renamed.text
    fitter = live.client(people.fitter.token)
    assert fitter.post("/api/v1/calendars", json={"name": "Mine", "kind": "team", "timezone": "UTC"}).status_code == 403
    assert [c["id"] for c in fitter.get("/api/v1/calendars").json()["items"]] == [people.fitter.calendar_id]
    assert fitter.get(f"/api/v1/calendars/{team['id']}").status_code == 404
    consultant = live.client(people.consultant.token)  # owns the member calendar, so reaches its team's
    reachable = {c["id"] for c in consultant.get("/api/v1/calendars").json()["items"]}
    assert {team["id"], member.json()["id"], people.consultant.calendar_id} == reachable


def test_every_response_carries_a_request_id(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    response = api.get("/api/v1/appointments", headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    generated = api.get("/api/v1/appointments", headers={"X-Request-ID": "bad id\twith tab"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])


def test_audit_rows_carry_the_request_id(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = api.post(
        "/api/v1/appointments",
        json=appointment_body(people.fitter.calendar_id or ""),
        headers={"X-Request-ID": "req-create-1"},
    ).json()
    with live.runtime.uow() as uow:
        rows = uow.session.scalars(select(AuditRow).where(AuditRow.appointment_id == data["id"])).all()
    assert [r.request_id for r in rows] == ["req-create-1"]


def test_concurrent_appointments_for_one_new_customer_both_succeed(live: LiveServer, people: People) -> None:
    """Regression: two transactions inserting the same new guest person raced on its primary key (a 500)."""

    def post(i: int) -> int:
        body = appointment_body(
            people.fitter.calendar_id or "",
            start=BASE + timedelta(hours=i),
            guests=[{"id": "new-customer", "first_name": "Nia"}],
        )
        return live.client(people.fitter.token).post("/api/v1/appointments", json=body).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(post, range(6)))
    assert statuses == [201] * 6
    assert _count(live, AppointmentRow) == 6


def test_idempotency_keys_expire_after_their_ttl(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    body = appointment_body(people.fitter.calendar_id or "")
    key = {"Idempotency-Key": "k"}
    first = api.post("/api/v1/appointments", json=body, headers=key).json()["id"]
    kept = api.post("/api/v1/appointments", json=body, headers=key)
    assert kept.json()["id"] == first and kept.headers["Idempotent-Replayed"] == "true"
    ttl = timedelta(hours=live.runtime.settings.idempotency_ttl_hours)
    with live.runtime.uow() as uow:  # the key was first used just over the TTL ago
        uow.session.execute(update(IdempotencyRow).values(created_at=utcnow() - ttl - timedelta(minutes=1)))
        uow.commit()
    expired = api.post("/api/v1/appointments", json=body, headers=key)
    assert expired.status_code == 201 and expired.json()["id"] != first
    assert "Idempotent-Replayed" not in expired.headers
    assert _count(live, AppointmentRow) == 2


def test_sequence_grows_with_every_change_of_times_only(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    data = _create(api, people.fitter.calendar_id or "")
    url = f"/api/v1/appointments/{data['id']}"

    def sequence() -> int:
        with live.runtime.uow() as uow:
            row = uow.appointments.get(data["id"])
            assert row is not None
            return row.sequence

    assert sequence() == 0
    api.patch(url, json={"name": "renamed"})
    assert sequence() == 0
    api.post(f"{url}/reschedule", json={"date_start": "2026-12-02T16:00:00Z", "date_end": "2026-12-02T17:00:00Z"})
    assert sequence() == 1
    api.patch(url, json={"date_end": "2026-12-02T17:30:00Z"})
    assert sequence() == 2


def test_window_query_finds_long_appointments_that_started_before_the_window(live: LiveServer, people: People) -> None:
    """The window query bounds date_start from below by MAX_DURATION; an appointment of exactly that length counts."""
    api = live.client(people.dispatcher.token)
    long = _create(api, people.fitter.calendar_id or "", start=BASE, minutes=14 * 24 * 60)
    window = {"from": iso(BASE + timedelta(days=13, hours=23)), "to": iso(BASE + timedelta(days=15))}
    assert [i["id"] for i in api.get("/api/v1/appointments", params=window).json()["items"]] == [long["id"]]
