"""MOVE of an appointment's VEVENT between two appointment calendars moves the appointment (same id)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from caldav_bridge.clock import utcnow
from caldav_bridge.scheduling.tables import SlotClaimRow
from caldav_bridge.store.tables import AuditRow, OutboxRow
from tests.caldav.support import dav_session, event_ics
from tests.caldav.test_sync_expiry import sync
from tests.conftest import People
from tests.support.live import LiveServer


def test_move_between_appointment_calendars_keeps_the_appointment(live: LiveServer, people: People) -> None:
    admin = live.client(people.admin.token)
    second = admin.post(
        "/api/v1/calendars",
        json={
            "name": "Denver, second",
            "kind": "fitter",
            "timezone": "America/Denver",
            "owner_username": "fitter.denver",
        },
    )
    assert second.status_code == 201, second.text
    second_id = second.json()["id"]
    dav = dav_session(people.fitter.username, people.fitter.password)
    home = f"{live.base_url}/dav/{people.fitter.username}"
    source, target = f"{home}/appointments/", f"{home}/{second_id}/"
    assert dav.request("PROPFIND", target, headers={"Depth": "0"}, timeout=10).status_code == 207
    created = dav.put(source + "move.ics", data=event_ics("move@test", summary="Moving"), timeout=10)
    assert created.status_code == 201, created.text
    api = live.client(people.fitter.token)
    (appointment,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    source_token, _ = sync(dav, source)
    target_token, _ = sync(dav, target)

    moved = dav.request("MOVE", source + "move.ics", headers={"Destination": target + "moved.ics"}, timeout=10)
    assert moved.status_code == 201, moved.text

    after = api.get(f"/api/v1/appointments/{appointment['id']}")
    assert after.status_code == 200, after.text
    assert after.json()["calendar"]["id"] == second_id and after.json()["name"] == "Moving"
    assert api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"] == []
    in_second = api.get("/api/v1/appointments", params={"calendar_id": second_id}).json()["items"]
    assert [a["id"] for a in in_second] == [appointment["id"]]
    with live.runtime.uow() as uow:
        outbox = list(uow.session.scalars(select(OutboxRow).where(OutboxRow.appointment_id == appointment["id"])))
        audit = list(uow.session.scalars(select(AuditRow).where(AuditRow.appointment_id == appointment["id"])))
    assert [(o.operation, o.payload["calendar"]["id"]) for o in outbox] == [
        ("upsert", people.fitter.calendar_id),
        ("upsert", second_id),
    ]
    assert ("move", "caldav", second_id) in {(a.action, a.channel, a.calendar_id) for a in audit}
    # the client's text moved as written; both collections report the change
    got = dav.get(target + "moved.ics", timeout=10)
    assert got.status_code == 200 and "X-CLIENT-COLOR:teal" in got.text and "UID:move@test" in got.text
    assert dav.get(source + "move.ics", timeout=10).status_code == 404
    assert sync(dav, source, source_token)[1] == {"move.ics": 404}
    assert sync(dav, target, target_token)[1] == {"moved.ics": 200}
    # later REST edits follow the appointment into its new calendar
    assert api.patch(f"/api/v1/appointments/{appointment['id']}", json={"name": "Moved"}).status_code == 200
    assert "SUMMARY:Moved" in dav.get(target + "moved.ics", timeout=10).text


def _claim(live: LiveServer, appointment_id: str, calendar_id: str) -> None:
    now = utcnow()
    with live.runtime.uow() as uow:
        uow.session.add(
            SlotClaimRow(
                appointment_id=appointment_id,
                calendar_id=calendar_id,
                start_at=datetime(2026, 12, 1, 16, tzinfo=UTC),
                end_at=datetime(2026, 12, 1, 17, tzinfo=UTC),
                created_at=now,
            )
        )
        uow.commit()


def _claim_calendar(live: LiveServer, appointment_id: str) -> str | None:
    with live.runtime.uow() as uow:
        claim = uow.session.get(SlotClaimRow, appointment_id)
        return claim.calendar_id if claim else None


def test_move_takes_the_slot_claim_along(live: LiveServer, people: People) -> None:
    admin = live.client(people.admin.token)
    second = admin.post(
        "/api/v1/calendars",
        json={
            "name": "Denver, second",
            "kind": "fitter",
            "timezone": "America/Denver",
            "owner_username": "fitter.denver",
        },
    ).json()["id"]
    dav = dav_session(people.fitter.username, people.fitter.password)
    home = f"{live.base_url}/dav/{people.fitter.username}"
    source, target = f"{home}/appointments/", f"{home}/{second}/"
    assert dav.request("PROPFIND", target, headers={"Depth": "0"}, timeout=10).status_code == 207
    for url, uid in ((source, "claimed"), (target, "occupant")):
        assert dav.put(url + f"{uid}.ics", data=event_ics(f"{uid}@test"), timeout=10).status_code == 201
    api = live.client(people.fitter.token)
    (moving,) = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id}).json()["items"]
    (occupant,) = api.get("/api/v1/appointments", params={"calendar_id": second}).json()["items"]
    _claim(live, moving["id"], people.fitter.calendar_id or "")
    _claim(live, occupant["id"], second)

    moved = dav.request("MOVE", source + "claimed.ics", headers={"Destination": target + "claimed.ics"}, timeout=10)
    if live.runtime.engine.dialect.name == "postgresql":  # the exclusion constraint: the slot is taken there
        assert moved.status_code == 409, moved.text
        assert api.get(f"/api/v1/appointments/{moving['id']}").json()["calendar"]["id"] == people.fitter.calendar_id
        assert _claim_calendar(live, moving["id"]) == people.fitter.calendar_id
        assert dav.get(source + "claimed.ics", timeout=10).status_code == 200
        assert api.delete(f"/api/v1/appointments/{occupant['id']}").status_code == 204
        moved = dav.request("MOVE", source + "claimed.ics", headers={"Destination": target + "claimed.ics"}, timeout=10)
    assert moved.status_code == 201, moved.text
    assert api.get(f"/api/v1/appointments/{moving['id']}").json()["calendar"]["id"] == second
    assert _claim_calendar(live, moving["id"]) == second
