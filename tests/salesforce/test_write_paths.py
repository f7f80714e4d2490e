"""The MVP write path made safe: follow-ups idempotent and slot-checked over real HTTP, an existing
``appointment_gid`` linked and updated (never a second Event), and mirror and push at the same moment.
Strict emulator over loopback, unmodified simple-salesforce, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from caldav_bridge.runtime import Runtime
from caldav_bridge.salesforce.gateway import SalesforceGateway
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.store.sf_tables import SfLinkRow
from caldav_bridge.store.tables import AppointmentRow
from sf_emulator.emulator import SalesforceEmulator
from tests.conftest import People, postgresql_only
from tests.salesforce.conftest import add_opportunity
from tests.support.factories import appointment_body
from tests.support.live import LiveServer

EXT = "Appointment_Service_Id__c"
OPPORTUNITY = "0069E00000HbsUrQAJ"


def _org(emu: SalesforceEmulator) -> str:
    """The opportunity and customer the API's test bodies name; the customer's Contact id."""
    add_opportunity(emu, OPPORTUNITY)
    return emu.create("Contact", {"FirstName": "Jane", "LastName": "Doe"})


def _body(people: People, contact: str, **overrides: Any) -> dict[str, Any]:
    body = appointment_body(people.fitter.calendar_id or "", **overrides)
    body["meta"]["salesforce"] = {"opportunity_gid": OPPORTUNITY, "customer_gid": contact, **body["meta"].get("sf", {})}
    return body


def _events(emu: SalesforceEmulator, appointment_id: str) -> list[dict[str, Any]]:
    return [r for r in emu.live("Event") if r.get(EXT) == appointment_id]


def test_follow_up_is_idempotent_and_slot_checked(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    contact = _org(emulator)
    api = live.client(people.fitter.token)
    original = api.post("/api/v1/appointments", json=_body(people, contact))
    assert original.status_code == 201, original.text
    url = f"/api/v1/appointments/{original.json()['id']}/follow-ups"
    slot = {"date_start": "2026-12-15T16:00:00Z", "date_end": "2026-12-15T16:30:00Z"}
    key = {"Idempotency-Key": "cockpit-follow-up-1"}
    first = api.post(url, json=slot, headers=key)
    again = api.post(url, json=slot, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert api.post(url, json={**slot, "name": "other"}, headers=key).status_code == 422  # the key, reused
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok", result
    follow_id = first.json()["id"]
    assert len(_events(emulator, follow_id)) == 1, "one Salesforce Event for the repeated request"
    record = _events(emulator, follow_id)[0]
    assert record["WhatId"] == OPPORTUNITY and record["WhoId"] == contact
    assert record["Appointment_Type__c"] == "FOLLOW_UP"
    # the slot is now taken: a second follow-up there is refused, naming the appointment in the way
    clash = api.post(url, json={"date_start": "2026-12-15T16:15:00Z", "date_end": "2026-12-15T16:45:00Z"})
    assert clash.status_code == 409, clash.text
    assert clash.headers["Content-Type"] == "application/problem+json"
    problem = clash.json()
    assert problem["conflicting_appointment"]["id"] == follow_id and follow_id in problem["detail"]
    # ... unless the caller explicitly allows the overlap
    allowed = api.post(
        url, json={"date_start": "2026-12-15T16:15:00Z", "date_end": "2026-12-15T16:45:00Z", "allow_overlap": True}
    )
    assert allowed.status_code == 201, allowed.text
    # a cancelled appointment does not hold its slot
    assert api.post(f"/api/v1/appointments/{follow_id}/cancel", json={"reason": "moved"}).status_code == 200
    assert api.post(url, json={**slot, "allow_overlap": False}).status_code == 409  # still the allowed one
    with live.runtime.uow() as uow:
        follow_ups = uow.session.scalar(
            select(func.count()).select_from(AppointmentRow).where(AppointmentRow.type == "FOLLOW_UP")
        )
        assert follow_ups == 2


def test_an_existing_appointment_gid_is_linked_and_updated_not_created_again(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext
) -> None:
    contact = _org(emulator)
    existing = emulator.create(
        "Event",
        {
            "Subject": "Made in Salesforce",
            "StartDateTime": "2026-12-01T16:00:00.000+0000",
            "EndDateTime": "2026-12-01T17:00:00.000+0000",
            "WhatId": OPPORTUNITY,
        },
    )
    events_before = len(emulator.live("Event"))
    body = _body(people, contact)
    body["meta"]["salesforce"]["appointment_gid"] = existing
    posted = live.client(people.fitter.token).post("/api/v1/appointments", json=body)
    assert posted.status_code == 201, posted.text
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    assert len(emulator.live("Event")) == events_before, "no second Event"
    record = emulator.get("Event", existing)
    assert record["Subject"] == body["name"] and record[EXT] == posted.json()["id"]
    with live.runtime.uow() as uow:
        link = uow.session.get(SfLinkRow, posted.json()["id"])
        assert link is not None and link.sf_id == existing
    # the mirror then sees our own write: nothing is created or changed
    result = run_job(sync, "mirror")
    assert result is not None and result.created == 0 and result.updated == 0, result


def _ols_post(live: LiveServer, people: People, contact: str, gid: str) -> str:
    body = {
        "date_v2": "2026-12-01T16:00:00.000Z",
        "type": "FITTING",
        "status": "scheduled",
        "opportunity_gid": OPPORTUNITY,
        "customer_gid": contact,
        "appointment_gid": gid,
        "name": "Fitting from OLS",
        "calendar_id": people.fitter.calendar_id,
    }
    posted = live.client(people.fitter.token).post("/ols/appointments", json=body)
    assert posted.status_code == 201, posted.text
    return str(posted.json()["id"])


def _import_post(live: LiveServer, people: People, contact: str, gid: str) -> str:
    item = _body(people, contact, name="Fitting from an import")
    item["meta"]["salesforce"]["appointment_gid"] = gid
    item.update(
        id="7d3c1e0a-5b6f-4c2d-9e8f-0a1b2c3d4e5f",
        status="BOOKED",
        created_at="2026-11-01T10:00:00.000Z",
        updated_at="2026-11-01T10:00:00.000Z",
    )
    posted = live.client(people.fitter.token).post("/api/v1/import/canonical", json=item)
    assert posted.status_code == 200 and posted.json()["summary"]["created"] == 1, posted.text
    return str(posted.json()["results"][0]["id"])


@pytest.mark.parametrize("channel", ["ols", "import"])
def test_an_existing_appointment_gid_from_ols_or_an_import_updates_that_record(
    live: LiveServer, people: People, emulator: SalesforceEmulator, sync: SyncContext, channel: str
) -> None:
    contact = _org(emulator)
    existing = emulator.create(
        "Event",
        {
            "Subject": "Made in Salesforce",
            "StartDateTime": "2026-12-01T16:00:00.000+0000",
            "EndDateTime": "2026-12-01T17:00:00.000+0000",
            "WhatId": OPPORTUNITY,
        },
    )
    events_before = len(emulator.live("Event"))
    appointment_id = (_ols_post if channel == "ols" else _import_post)(live, people, contact, existing)
    result = run_job(sync, "push")
    assert result is not None and result.outcome == "ok" and result.updated == 1, result
    assert len(emulator.live("Event")) == events_before, "no second Event"
    record = emulator.get("Event", existing)
    assert record[EXT] == appointment_id and record["Subject"].startswith("Fitting from")
    assert record["WhoId"] == contact
    with live.runtime.uow() as uow:
        link = uow.session.get(SfLinkRow, appointment_id)
        assert link is not None and link.sf_id == existing
    result = run_job(sync, "mirror")
    assert result is not None and result.created == 0 and result.updated == 0, result


class _MirrorDuringPush(SalesforceGateway):
    """The push's gateway: once Salesforce has taken the writes, the mirror runs to the end (and commits)
    before the push records its links: the first tick after start, with many appointments to push."""

    mirror_ctx: SyncContext | None = None
    mirrored: Any = None

    def upsert_many(self, sobject: str, external_field: str, records: Any) -> Any:
        answers = super().upsert_many(sobject, external_field, records)
        if self.mirror_ctx is not None and self.mirrored is None:
            self.mirrored = run_job(self.mirror_ctx, "mirror", holder="other-process")
        return answers


def test_mirror_and_push_at_the_same_moment_make_one_link_each(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext, people: People
) -> None:
    from caldav_bridge.model.requests import AppointmentDraft
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor

    contact = _org(emulator)
    made = []
    for i in range(12):
        body = _body(people, contact)
        body["date_start"] = f"2026-12-{2 + i:02d}T16:00:00Z"
        body["date_end"] = f"2026-12-{2 + i:02d}T17:00:00Z"
        made.append(appointments.create(runtime.uow(), system_actor("api"), AppointmentDraft.model_validate(body)))
    gateways: list[_MirrorDuringPush] = []
    original_factory = sync.gateway_factory

    def racing() -> SalesforceGateway:
        plain = original_factory()
        gw = _MirrorDuringPush(plain.config, plain.session)
        gw.mirror_ctx = mirror_ctx
        gateways.append(gw)
        return gw

    mirror_ctx = SyncContext(**{**sync.__dict__})
    push_ctx = SyncContext(**{**sync.__dict__, "gateway_factory": racing})
    result = run_job(push_ctx, "push")
    mirrored = gateways[0].mirrored
    assert mirrored is not None and mirrored.outcome == "ok", mirrored
    assert result is not None and result.outcome == "ok" and result.created == 12, result
    with runtime.uow() as uow:
        links = list(uow.session.scalars(select(SfLinkRow)))
        assert len(links) == 12 and all(link.sf_id and link.pushed_hash for link in links)
        assert uow.session.scalar(select(func.count()).select_from(AppointmentRow)) == 12, "nothing copied"
    assert all(len(_events(emulator, str(m.appointment.id))) == 1 for m in made)
    again = run_job(sync, "mirror")
    assert again is not None and again.outcome == "ok" and again.created == again.updated == 0, again


@postgresql_only  # SQLite serialises writers (BEGIN IMMEDIATE): the push cannot commit inside a mirror page there
def test_push_committing_inside_a_mirror_page_does_not_fail_the_mirror(
    runtime: Runtime, emulator: SalesforceEmulator, sync: SyncContext, people: People, monkeypatch: Any
) -> None:
    """The failure seen in production: the mirror reads a page (our external ids, no links yet), the push
    records the links and commits, then the mirror links the same appointments."""
    import threading

    from caldav_bridge.model.requests import AppointmentDraft
    from caldav_bridge.salesforce import mirror as mirror_mod
    from caldav_bridge.services import appointments
    from caldav_bridge.services.actor import system_actor

    contact = _org(emulator)
    for i in range(6):
        body = _body(people, contact)
        body["date_start"] = f"2026-12-{2 + i:02d}T16:00:00Z"
        body["date_end"] = f"2026-12-{2 + i:02d}T17:00:00Z"
        appointments.create(runtime.uow(), system_actor("api"), AppointmentDraft.model_validate(body))
    sent, go = threading.Event(), threading.Event()
    original_factory = sync.gateway_factory

    class Pausing(SalesforceGateway):
        def upsert_many(self, sobject: str, external_field: str, records: Any) -> Any:
            answers = super().upsert_many(sobject, external_field, records)
            sent.set()
            assert go.wait(30)
            return answers

    def pausing() -> SalesforceGateway:
        plain = original_factory()
        return Pausing(plain.config, plain.session)

    push_ctx = SyncContext(**{**sync.__dict__, "gateway_factory": pausing})
    pushed: list[Any] = []
    pusher = threading.Thread(target=lambda: pushed.append(run_job(push_ctx, "push")), daemon=True)
    pusher.start()
    assert sent.wait(30)
    real_people_of = mirror_mod._people_of

    def people_of(*args: Any, **kwargs: Any) -> Any:
        if not go.is_set():  # the page is read; now the push records its links and commits
            go.set()
            pusher.join(30)
            assert not pusher.is_alive()
        return real_people_of(*args, **kwargs)

    monkeypatch.setattr(mirror_mod, "_people_of", people_of)
    mirrored = run_job(sync, "mirror", holder="other-process")
    assert pushed and pushed[0] is not None and pushed[0].outcome == "ok", pushed
    assert mirrored is not None and mirrored.outcome == "ok", mirrored
    with runtime.uow() as uow:
        links = list(uow.session.scalars(select(SfLinkRow)))
        assert len(links) == 6 and all(link.sf_id and link.pushed_hash for link in links)
