"""``Idempotency-Key`` on every creating POST and every REST change, over real HTTP, on SQLite and PostgreSQL.

One mechanism (``feeds/idempotency.py`` over ``caldav_bridge/services/idempotency.py``, kept in the database):
the same key and request get the first answer again (status, body, headers; nothing created twice, one
Salesforce record; calendars, feed tokens, webhooks and booking links too); the same key with another request is
a 422 naming the conflict; an answer that showed a secret once is replayed without it, and the secret is never
kept; keys are per API token and expire (``tests/e2e/test_api_appointments.py``); a failed request leaves its key
free; a claim whose process died is taken over, and that process can no longer commit.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from caldav_bridge.errors import IdempotencyKeyInUse
from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.selfbooking.tables import BookingLinkRow
from caldav_bridge.services import appointments, idempotency, users
from caldav_bridge.store.tables import AppointmentRow, CalendarRow, FeedTokenRow, IdempotencyRow
from caldav_bridge.webhooks.tables import WebhookSubscriptionRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.conftest import People
from tests.salesforce.conftest import make_context
from tests.scheduling.conftest import World, build_world
from tests.support.factories import appointment_body, iso
from tests.support.live import Api, LiveServer

NY, BERLIN = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin")
#: A request: (path, body, another body, the status of a first answer).
Request = tuple[str, dict[str, Any], dict[str, Any], int]


def _at(day: Any, hour: int, zone: ZoneInfo) -> str:
    return iso(datetime.combine(day, time(hour), tzinfo=zone))


def _initial(world: World, hour: int = 10) -> dict[str, Any]:
    return {
        "team_id": world.consultants,
        "date_start": _at(world.day(3), hour, NY),
        "name": "Consultation",
        "guests": [{"id": "cust-1", "first_name": "Jane", "last_name": "Doe", "timezone": "America/Chicago"}],
        "meta": {"salesforce": {"opportunity_gid": "0069E00000HbsUrQAJ", "customer_gid": "0039E00001"}},
    }


def _booked(api: Api, world: World) -> dict[str, Any]:
    made = api.post("/api/v1/bookings/initial", json=_initial(world, 14))
    assert made.status_code == 201, made.text
    return dict(made.json())


def _appointments(api: Api, people: People, world: World) -> Request:
    body = appointment_body(people.fitter.calendar_id or "")
    return "/api/v1/appointments", body, {**body, "name": "another"}, 201


def _follow_ups(api: Api, people: People, world: World) -> Request:
    original = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    slot = {"date_start": "2026-12-15T16:00:00Z", "date_end": "2026-12-15T16:30:00Z"}
    return f"/api/v1/appointments/{original.json()['id']}/follow-ups", slot, {**slot, "name": "other"}, 201


def _initial_booking(api: Api, people: People, world: World) -> Request:
    return "/api/v1/bookings/initial", _initial(world), _initial(world, 11), 201


def _fitting(api: Api, people: People, world: World) -> Request:
    tech = _booked(api, world)["tech_setup"]["appointment"]["id"]
    body = {"calendar_id": world.f1, "appointment_id": tech, "date_start": _at(world.day(4), 8, BERLIN)}
    return "/api/v1/bookings/fitting", body, {**body, "date_start": _at(world.day(4), 14, BERLIN)}, 201


def _follow_up_booking(api: Api, people: People, world: World) -> Request:
    initial = _booked(api, world)["appointment"]["id"]
    body = {"calendar_id": world.f1, "appointment_id": initial, "date_start": _at(world.day(4), 10, BERLIN)}
    return "/api/v1/bookings/follow-up", body, {**body, "date_start": _at(world.day(4), 15, BERLIN)}, 201


def _tech_setup(api: Api, people: People, world: World) -> Request:
    initial = _booked(api, world)
    tech = initial["tech_setup"]["appointment"]["id"]
    assert api.post(f"/api/v1/appointments/{tech}/cancel", json={"reason": "redo"}).status_code == 200
    return f"/api/v1/bookings/{initial['appointment']['id']}/tech-setup", {}, {"mode": "proposed"}, 201


def _ols(api: Api, people: People, world: World) -> Request:
    body = {"date_v2": "2026-12-01T09:00:00.000Z", "type": "FITTING", "customer_gid": "0039E00001"}
    return "/ols/appointments", body, {**body, "customer_gid": "0039E99999"}, 201


def _import(api: Api, people: People, world: World) -> Request:
    item = appointment_body(people.fitter.calendar_id or "")
    item.update(
        id="11111111-2222-4333-8444-555555555555",
        status="BOOKED",
        created_at="2026-11-01T10:00:00.000Z",
        updated_at="2026-11-01T10:00:00.000Z",
    )
    return "/api/v1/import/canonical", item, {**item, "name": "another"}, 200


ENDPOINTS: dict[str, Callable[[Api, People, World], Request]] = {
    "appointments": _appointments,
    "follow-ups": _follow_ups,
    "bookings-initial": _initial_booking,
    "bookings-fitting": _fitting,
    "bookings-follow-up": _follow_up_booking,
    "bookings-tech-setup": _tech_setup,
    "ols": _ols,
    "import": _import,
}


def _count(rt: Runtime) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AppointmentRow)) or 0


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_every_creating_post_replays_its_first_answer(live: LiveServer, people: People, endpoint: str) -> None:
    world = build_world(live.runtime)
    api = live.client(people.admin.token)
    path, body, other, status = ENDPOINTS[endpoint](api, people, world)
    before = _count(live.runtime)
    key = {"Idempotency-Key": f"{endpoint}-1"}
    first = api.post(path, json=body, headers=key)
    assert first.status_code == status, first.text
    made = _count(live.runtime)
    assert made > before
    again = api.post(path, json=body, headers=key)
    assert again.status_code == status and again.content == first.content, "the first answer, byte for byte"
    for name in ("Content-Type", "Location", "ETag"):
        assert again.headers.get(name) == first.headers.get(name), name
    announced = "true" if path.startswith("/api/") else None  # OLS clients know no Idempotent-Replayed
    assert again.headers.get("Idempotent-Replayed") == announced
    assert _count(live.runtime) == made, "nothing created twice"
    reused = api.post(path, json=other, headers=key)
    assert reused.status_code == 422 and reused.headers["Content-Type"] == "application/problem+json"
    assert reused.json()["title"] == "Idempotency-Key reused" and f"{endpoint}-1" in reused.json()["detail"]
    assert _count(live.runtime) == made
    assert "Idempotency-Key" in _documented_headers(live, path)


def _documented_headers(live: LiveServer, path: str) -> list[str]:
    document = live.client().get("/api/openapi.json").json()
    template = next(p for p in document["paths"] if _matches(p, path))
    return [p["name"] for p in document["paths"][template]["post"].get("parameters", []) if p["in"] == "header"]


def _matches(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b, strict=True))


def test_the_openapi_document_declares_the_header_on_every_creating_post(live: LiveServer) -> None:
    document = live.client().get("/api/openapi.json").json()
    creating = [
        "/api/v1/appointments",
        "/api/v1/appointments/{id}/follow-ups",
        "/api/v1/bookings/initial",
        "/api/v1/bookings/fitting",
        "/api/v1/bookings/follow-up",
        "/api/v1/bookings/{id}/tech-setup",
        "/ols/appointments",
        "/api/v1/import/{format}",
        "/api/v1/calendars",
        "/api/v1/calendars/{id}/feeds",
        "/api/v1/webhooks",
        "/api/v1/booking-links",
    ]
    for path in creating:
        params = document["paths"][path]["post"].get("parameters", [])
        assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params), path
        success = next(v for k, v in document["paths"][path]["post"]["responses"].items() if k.startswith("2"))
        replay_header = "Idempotent-Replayed" in success.get("headers", {})
        assert replay_header == path.startswith("/api/"), path  # OLS answers a replay as the first time
        withheld_header = "Idempotent-Secret-Withheld" in success.get("headers", {})
        assert withheld_header == (path in SECRET_PATHS), path
    changing = [
        ("patch", "/api/v1/appointments/{id}"),
        ("patch", "/api/v1/appointments/{id}/occurrences/{recurrence_id}"),
        *(("post", f"/api/v1/appointments/{{id}}/{a}") for a in ("book", "reschedule", "cancel")),
        *(("post", f"/api/v1/bookings/{{id}}/{a}") for a in ("confirm", "reschedule", "cancel")),
        ("post", "/api/v1/calendars/{id}/feeds/{token_id}/rotate"),
    ]
    for method, path in changing:
        operation = document["paths"][path][method]
        assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])), path
        assert "Idempotent-Replayed" in operation["responses"]["200"].get("headers", {}), path
    rotate = document["paths"]["/api/v1/calendars/{id}/feeds/{token_id}/rotate"]["post"]["responses"]["200"]
    assert "Idempotent-Secret-Withheld" in rotate["headers"]
    # what a replay of a secret's answer holds instead is in the schema: null
    schemas = document["components"]["schemas"]
    for name, fields in {
        "IssuedFeedToken": SECRET_FIELDS["feeds"],
        "IssuedBookingLink": SECRET_FIELDS["booking-links"],
        "SubscriptionCreated": SECRET_FIELDS["webhooks"],
    }.items():
        for field in fields:
            assert _nullable(schemas[name]["properties"][field]), (name, field)


def _nullable(schema: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in schema.get("anyOf", [])) or schema.get("nullable") is True


def test_keys_are_per_token_and_another_endpoint_is_a_named_conflict(live: LiveServer, people: People) -> None:
    body = appointment_body(people.fitter.calendar_id or "")
    second_token = users.issue_token(live.runtime.uow(), "fitter.denver", ("write",), "second").secret
    key = {"Idempotency-Key": "shared-key"}
    one = live.client(people.fitter.token).post("/api/v1/appointments", json=body, headers=key)
    two = live.client(second_token).post("/api/v1/appointments", json=body, headers=key)
    assert one.status_code == two.status_code == 201 and one.json()["id"] != two.json()["id"]
    ols = live.client(people.fitter.token).post(
        "/ols/appointments", json={"date_v2": "2026-12-01T09:00:00.000Z", "type": "FITTING"}, headers=key
    )
    assert ols.status_code == 422
    problem = ols.json()
    assert problem["first_request"] == "POST /api/v1/appointments" and "POST /ols/appointments" in problem["detail"]


def test_a_refused_request_leaves_its_key_free(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    original = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or "")).json()
    url = f"/api/v1/appointments/{original['id']}/follow-ups"
    taken = {"date_start": original["date_start"], "date_end": original["date_end"]}
    key = {"Idempotency-Key": "retry-me"}
    assert api.post(url, json=taken, headers=key).status_code == 409  # the slot is the original's
    assert api.post(url, json={**taken, "allow_overlap": True}, headers=key).status_code == 201  # not a reuse
    with live.runtime.uow() as uow:
        rows = uow.session.scalars(select(IdempotencyRow)).all()
        assert [(r.key, r.state, r.status_code) for r in rows] == [("retry-me", "done", 201)]


def test_a_dead_claim_is_taken_over_and_its_holder_can_no_longer_commit(runtime: Runtime, people: People) -> None:
    actor = users.actor_for_token(runtime.uow(), people.fitter.token, "api")
    args = ("principal", "key-1", "hash", "POST /api/v1/appointments")
    dead = idempotency.acquire(runtime.uow(), *args, ttl=timedelta(hours=1))
    assert isinstance(dead, idempotency.Claim)
    with pytest.raises(IdempotencyKeyInUse):  # still within its lease: a repeat waits, then answers 409
        idempotency.acquire(runtime.uow(), *args, ttl=timedelta(hours=1), wait=timedelta(0))
    later = idempotency.acquire(runtime.uow(), *args, ttl=timedelta(hours=1), lease=timedelta(0))
    assert isinstance(later, idempotency.Claim) and later.id == dead.id and later.holder != dead.holder
    draft = AppointmentDraft.model_validate(appointment_body(people.fitter.calendar_id or ""))
    slow = runtime.uow()
    slow.before_commit(idempotency.applied_check(dead))
    with pytest.raises(IdempotencyKeyInUse):
        appointments.create(slow, actor, draft)
    assert _count(runtime) == 0, "the first holder's work was rolled back"
    mine = runtime.uow()
    mine.before_commit(idempotency.applied_check(later))
    appointments.create(mine, actor, draft)
    assert _count(runtime) == 1
    # applied, its answer lost (the process died before recording it): a repeat is told so, nothing runs again
    with pytest.raises(IdempotencyKeyInUse, match="answer was lost"):
        idempotency.acquire(runtime.uow(), *args, ttl=timedelta(hours=1), lease=timedelta(0))


def test_a_repeated_booking_makes_one_salesforce_event(live: LiveServer, people: People) -> None:
    with running_emulator(SalesforceEmulator()) as emulator:
        _book_twice_and_push(live, people, emulator)


def _book_twice_and_push(live: LiveServer, people: People, emulator: SalesforceEmulator) -> None:
    world = build_world(live.runtime)
    api = live.client(people.admin.token)
    emulator.create(
        "Opportunity",
        {"Name": "Hearing aids", "StageName": "Qualification", "CloseDate": "2027-01-31"},
        rid="0069E00000HbsUrQAJ",
    )
    key = {"Idempotency-Key": "booking-1"}
    body = _initial(world)
    body["meta"]["salesforce"].pop("customer_gid")
    first = api.post("/api/v1/bookings/initial", json=body, headers=key)
    again = api.post("/api/v1/bookings/initial", json=body, headers=key)
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    result = run_job(make_context(live.runtime, emulator), "push")
    assert result is not None and result.outcome == "ok", result
    ids = {first.json()["appointment"]["id"], first.json()["tech_setup"]["appointment"]["id"]}
    written = [r for r in emulator.live("Event") if r.get("Appointment_Service_Id__c") in ids]
    assert len(written) == 2 and len(emulator.live("Event")) == 2, "the INITIAL and its call, once each"


def test_concurrent_repeats_of_a_booking_book_once(live: LiveServer, people: People) -> None:
    world = build_world(live.runtime)
    body = _initial(world)

    def post(_: int) -> tuple[int, str]:
        response = live.client(people.admin.token).post(
            "/api/v1/bookings/initial", json=body, headers={"Idempotency-Key": "race"}
        )
        return response.status_code, response.text

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(post, range(4)))
    assert {status for status, _ in answers} == {201}, answers
    assert len({text for _, text in answers}) == 1
    assert _count(live.runtime) == 2  # the INITIAL and its tech-setup call


# Creating POSTs of records other than appointments; three of them show a secret once.
#: name -> (path, body, another body, the table of what it creates)
Other = tuple[str, dict[str, Any], dict[str, Any], type[Any]]
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "calendars": (),
    "feeds": ("secret", "urls"),
    "webhooks": ("secret",),
    "booking-links": ("secret", "url"),
}
SECRET_PATHS = ("/api/v1/calendars/{id}/feeds", "/api/v1/webhooks", "/api/v1/booking-links")


def _other(name: str, people: People, world: World) -> Other:
    body: dict[str, Any]
    if name == "calendars":
        body = {"name": "Fitters North", "kind": "team", "timezone": "America/Denver"}
        return "/api/v1/calendars", body, {**body, "name": "Fitters South"}, CalendarRow
    if name == "feeds":
        body = {"name": "Google"}
        return f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", body, {"name": "Outlook"}, FeedTokenRow
    if name == "webhooks":
        body = {"url": "https://hooks.example.com/h", "events": ["appointment.created"]}
        return "/api/v1/webhooks", body, {**body, "url": "https://hooks.example.com/other"}, WebhookSubscriptionRow
    body = {"team_id": world.consultants, "name": "Newsletter"}
    return "/api/v1/booking-links", body, {**body, "name": "Flyer"}, BookingLinkRow


def _rows(rt: Runtime, table: type[Any]) -> int:
    with rt.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(table)) or 0


@pytest.mark.parametrize("name", list(SECRET_FIELDS))
def test_other_creating_posts_replay_and_never_keep_a_secret(live: LiveServer, people: People, name: str) -> None:
    world = build_world(live.runtime)
    api = live.client(people.admin.token)
    path, body, other, table = _other(name, people, world)
    key = {"Idempotency-Key": f"{name}-1"}
    before = _rows(live.runtime, table)
    first = api.post(path, json=body, headers=key)
    assert first.status_code == 201, first.text
    assert _rows(live.runtime, table) == before + 1
    again = api.post(path, json=body, headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.headers.get("Location") == first.headers.get("Location")
    assert _rows(live.runtime, table) == before + 1, "nothing created twice"
    withheld = SECRET_FIELDS[name]
    shown = first.json()
    assert all(shown[field] for field in withheld), "the first answer shows the secret"
    assert again.json() == {**shown, **dict.fromkeys(withheld)}, "the same answer, the secret fields null"
    if withheld:
        assert again.headers["Idempotent-Secret-Withheld"] == ", ".join(withheld)
    else:
        assert again.content == first.content and "Idempotent-Secret-Withheld" not in again.headers
    with live.runtime.uow() as uow:
        kept = uow.session.scalars(select(IdempotencyRow).where(IdempotencyRow.key == f"{name}-1")).one()
        stored = (kept.response_body or b"").decode() + str(kept.response_headers)
    if withheld:
        assert shown["secret"] not in stored, "no secret in clear in the key table"
        assert first.json() == shown and shown["secret"] in first.text
    reused = api.post(path, json=other, headers=key)
    assert reused.status_code == 422 and reused.json()["title"] == "Idempotency-Key reused"
    assert _rows(live.runtime, table) == before + 1


def _replayed(first: Any, again: Any) -> None:
    assert first.status_code == 200, first.text
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true", again.text
    assert again.json() == first.json()


def test_a_repeated_transition_is_replayed_not_applied_again(live: LiveServer, people: People) -> None:
    """A phone app retrying a reschedule it already sent (the answer was lost) must not move the appointment back
    after someone else moved it on; a retried cancel gets its first answer, not a 409."""
    api = live.client(people.fitter.token)
    created = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    url = f"/api/v1/appointments/{created.json()['id']}"
    first_book = api.post(f"{url}/book", headers={"Idempotency-Key": "book-1"})
    _replayed(first_book, api.post(f"{url}/book", headers={"Idempotency-Key": "book-1"}))
    to_ten = {"date_start": "2026-12-03T10:00:00Z", "date_end": "2026-12-03T11:00:00Z", "reason": "customer ill"}
    key = {"Idempotency-Key": "move-1"}
    first = api.post(f"{url}/reschedule", json=to_ten, headers=key)
    assert first.status_code == 200, first.text
    later = api.post(
        f"{url}/reschedule", json={"date_start": "2026-12-03T12:00:00Z", "date_end": "2026-12-03T13:00:00Z"}
    )
    assert later.status_code == 200, later.text
    _replayed(first, api.post(f"{url}/reschedule", json=to_ten, headers=key))
    assert api.get(url).json()["date_start"] == "2026-12-03T12:00:00.000Z", "the retry did not move it back"
    history = api.get(f"{url}/history").json()["items"]
    assert [h["new_start"] for h in history if h["old_start"] != h["new_start"]][-2:] == [
        "2026-12-03T10:00:00.000Z",
        "2026-12-03T12:00:00.000Z",
    ]
    assert len(history) == 4, "created, booked, moved twice: the retries changed nothing"
    reused = api.post(f"{url}/reschedule", json={**to_ten, "reason": "other"}, headers=key)
    assert reused.status_code == 422 and reused.json()["title"] == "Idempotency-Key reused"
    renamed = api.patch(url, json={"name": "Fitting (first)"}, headers={"Idempotency-Key": "patch-1"})
    assert api.patch(url, json={"name": "Fitting (second)"}).status_code == 200
    _replayed(renamed, api.patch(url, json={"name": "Fitting (first)"}, headers={"Idempotency-Key": "patch-1"}))
    assert api.get(url).json()["name"] == "Fitting (second)"
    cancel = {"Idempotency-Key": "cancel-1"}
    cancelled = api.post(f"{url}/cancel", json={"reason": "no longer needed"}, headers=cancel)
    _replayed(cancelled, api.post(f"{url}/cancel", json={"reason": "no longer needed"}, headers=cancel))
    assert api.post(f"{url}/cancel", json={"reason": "no longer needed"}).status_code == 409  # without a key: refused


def test_a_repeated_booking_reschedule_is_replayed(live: LiveServer, people: People) -> None:
    world = build_world(live.runtime)
    api = live.client(people.admin.token)
    booked = _booked(api, world)["appointment"]
    url = f"/api/v1/bookings/{booked['id']}"
    key = {"Idempotency-Key": "booking-move-1"}
    body = {"date_start": _at(world.day(4), 9, NY)}
    first = api.post(f"{url}/reschedule", json=body, headers=key)
    assert api.post(f"{url}/reschedule", json={"date_start": _at(world.day(4), 11, NY)}).status_code == 200
    _replayed(first, api.post(f"{url}/reschedule", json=body, headers=key))
    assert api.get(f"/api/v1/appointments/{booked['id']}").json()["date_start"] == _at(world.day(4), 11, NY).replace(
        "Z", ".000Z"
    )
    confirm = {"Idempotency-Key": "confirm-1"}
    held = api.post("/api/v1/bookings/initial", json={**_initial(world, 16), "hold": True})
    assert held.status_code == 201, held.text
    confirm_url = f"/api/v1/bookings/{held.json()['appointment']['id']}/confirm"
    _replayed(api.post(confirm_url, headers=confirm), api.post(confirm_url, headers=confirm))
    cancel = {"Idempotency-Key": "booking-cancel-1"}
    reason = {"reason": "customer called"}
    _replayed(
        api.post(f"{url}/cancel", json=reason, headers=cancel), api.post(f"{url}/cancel", json=reason, headers=cancel)
    )


def test_a_repeated_feed_rotation_rotates_once(live: LiveServer, people: People) -> None:
    """A retried rotation with its key does not rotate again (the first new URL keeps working); the replay has the
    secret withheld, as an issue's does."""
    api, anon = live.client(people.fitter.token), live.client()
    base = f"/api/v1/calendars/{people.fitter.calendar_id}/feeds"
    issued = api.post(base, json={"name": "Google"})
    assert issued.status_code == 201, issued.text
    url = f"{base}/{issued.json()['token']['id']}/rotate"
    key = {"Idempotency-Key": "rotate-1"}
    first = api.post(url, headers=key)
    assert first.status_code == 200, first.text
    again = api.post(url, headers=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true", again.text
    assert again.headers["Idempotent-Secret-Withheld"] == "secret, urls"
    assert again.json() == {**first.json(), "secret": None, "urls": None}
    assert anon.get(f"/feeds/{first.json()['secret']}.ics").status_code == 200, "not rotated a second time"
    assert anon.get(f"/feeds/{issued.json()['secret']}.ics").status_code == 404


def test_ols_changes_replay_their_first_answer(live: LiveServer, people: People) -> None:
    """OLS PUT, PATCH and DELETE honour the key as the /api/v1 changes do: a retried PUT does not undo a change
    made after it, a retried DELETE answers its 204 again (not a 404); a replay looks like the first answer (no
    Idempotent-Replayed on OLS); the same key with another body is a 422."""
    api = live.client(people.fitter.token)
    made = api.post("/ols/appointments", json={"date_v2": "2026-12-01T09:00:00.000Z", "type": "FITTING"})
    assert made.status_code == 201, made.text
    url = f"/ols/appointments/{made.json()['id']}"
    replace = {"date_v2": "2026-12-01T10:00:00.000Z", "type": "FITTING", "status": "BOOKED"}
    key = {"Idempotency-Key": "ols-put-1"}
    first = api.put(url, json=replace, headers=key)
    assert first.status_code == 200, first.text
    later = api.patch(url, json={"date_v2": "2026-12-01T12:00:00.000Z"})
    assert later.status_code == 200, later.text
    again = api.put(url, json=replace, headers=key)
    assert again.status_code == 200 and again.content == first.content, again.text
    assert again.headers.get("ETag") == first.headers.get("ETag") and "Idempotent-Replayed" not in again.headers
    assert api.get(url).json()["date_v2"] == "2026-12-01T12:00:00.000Z", "the retried PUT did not move it back"
    reused = api.put(url, json={**replace, "type": "TECH_SETUP"}, headers=key)
    assert reused.status_code == 422 and reused.json()["title"] == "Idempotency-Key reused", reused.text
    patch_key = {"Idempotency-Key": "ols-patch-1"}
    patched = api.patch(url, json={"date_v2": "2026-12-01T14:00:00.000Z"}, headers=patch_key)
    assert patched.status_code == 200, patched.text
    assert api.patch(url, json={"date_v2": "2026-12-01T15:00:00.000Z"}).status_code == 200
    replayed = api.patch(url, json={"date_v2": "2026-12-01T14:00:00.000Z"}, headers=patch_key)
    assert replayed.status_code == 200 and replayed.content == patched.content, replayed.text
    assert api.get(url).json()["date_v2"] == "2026-12-01T15:00:00.000Z", "the retried PATCH did not move it back"
    other = api.patch(url, json={"date_v2": "2026-12-01T16:00:00.000Z"}, headers=patch_key)
    assert other.status_code == 422 and other.json()["title"] == "Idempotency-Key reused", other.text
    delete_key = {"Idempotency-Key": "ols-delete-1"}
    assert api.delete(url, headers=delete_key).status_code == 204
    retried = api.delete(url, headers=delete_key)
    assert retried.status_code == 204 and "Idempotent-Replayed" not in retried.headers, retried.text
    assert api.get(url).status_code == 404 and api.delete(url).status_code == 404  # without a key: gone
    elsewhere = api.delete(url, headers=key)  # the PUT's key on another endpoint
    assert elsewhere.status_code == 422 and elsewhere.json()["first_request"] == f"PUT {url}", elsewhere.text


def test_the_openapi_document_declares_the_header_on_the_ols_changes(live: LiveServer) -> None:
    operations = live.client().get("/api/openapi.json").json()["paths"]["/ols/appointments/{id}"]
    for method, status in (("put", "200"), ("patch", "200"), ("delete", "204")):
        operation = operations[method]
        assert any(p["name"] == "Idempotency-Key" for p in operation.get("parameters", [])), method
        assert "Idempotent-Replayed" not in operation["responses"][status].get("headers", {}), method


def test_every_change_the_document_lists_declares_the_header(live: LiveServer) -> None:
    """Every POST, PUT, PATCH and DELETE of /api/v1 and /ols honours the key: a retry of a delete, a rename, a
    revocation or a retry of a dead letter is as safe as a retried create (the DELETE of an appointment answered
    404 to its own retry, and a retried PUT of availability rules undid a change made after it)."""
    paths = live.client().get("/api/openapi.json").json()["paths"]
    changes = [
        (method, path, operation)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method in ("post", "put", "patch", "delete")
    ]
    assert len(changes) >= 30, "the document lists the API's changes"
    missing = [
        f"{method.upper()} {path}"
        for method, path, operation in changes
        if not any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in operation.get("parameters", []))
    ]
    assert missing == []


def _retried(api: Api, method: str, url: str, body: dict[str, Any] | None, key: str) -> tuple[Any, Any]:
    """The first answer and its retry with the same key."""
    headers = {"Idempotency-Key": key}
    first = api.request(method, url, json=body, headers=headers)
    assert 200 <= first.status_code < 300, first.text
    return first, api.request(method, url, json=body, headers=headers)


def test_a_retried_delete_answers_its_first_204_not_404(live: LiveServer, people: People) -> None:
    api, admin = live.client(people.fitter.token), live.client(people.admin.token)
    made = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or ""))
    hook = admin.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["appointment.created"]})
    feed = api.post(f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "phone"})
    deletes = [  # and what a repeat without the key answers
        (api, f"/api/v1/appointments/{made.json()['id']}", 404),
        (admin, f"/api/v1/webhooks/{hook.json()['id']}", 404),
        (api, f"/api/v1/calendars/{people.fitter.calendar_id}/feeds/{feed.json()['token']['id']}", 204),  # revoked
    ]
    for n, (client, url, keyless) in enumerate(deletes):
        first, again = _retried(client, "DELETE", url, None, f"delete-{n}")
        assert first.status_code == again.status_code == 204, (url, again.text)
        assert again.headers.get("Idempotent-Replayed") == "true", url
        assert client.delete(url).status_code == keyless, url


def test_a_retried_change_does_not_undo_a_later_one(live: LiveServer, people: People) -> None:
    """A rename and a PUT of availability rules retried after another change answer their first answer again and
    leave the later change in place."""
    admin = live.client(people.admin.token)
    calendar = f"/api/v1/calendars/{people.fitter.calendar_id}"
    first, _ = _retried(admin, "PATCH", calendar, {"name": "Denver van"}, "rename-1")
    assert admin.patch(calendar, json={"name": "Denver van 2"}).status_code == 200
    again = admin.patch(calendar, json={"name": "Denver van"}, headers={"Idempotency-Key": "rename-1"})
    assert again.status_code == 200 and again.content == first.content, again.text
    assert admin.get(calendar).json()["name"] == "Denver van 2"

    hours = [{"start": "08:00", "end": "18:00"}]
    rules = {"weekly_hours": {"mon": hours}, "durations": {"FITTING": 90}, "slot_step_minutes": 30, "horizon_days": 60}
    url = f"{calendar}/availability-rules"
    first, _ = _retried(admin, "PUT", url, rules, "rules-1")
    later = {**rules, "weekly_hours": {"tue": hours}}
    assert admin.put(url, json=later).status_code == 200
    again = admin.put(url, json=rules, headers={"Idempotency-Key": "rules-1"})
    assert again.status_code == 200 and again.content == first.content, again.text
    assert list(admin.get(url).json()["weekly_hours"]) == ["tue"], "the retried PUT did not bring Monday back"


def test_a_retried_no_show_is_replayed(live: LiveServer, people: People) -> None:
    api = live.client(people.fitter.token)
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    made = api.post("/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or "", start=began))
    assert made.status_code == 201, made.text
    first, again = _retried(api, "POST", f"/api/v1/appointments/{made.json()['id']}/no-show", None, "no-show-1")
    assert again.status_code == 200 and again.content == first.content, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
