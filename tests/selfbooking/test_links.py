"""Booking links through the API and the CLI: issued with write scope, stored hashed, expiring, revocable."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import NotFound
from caldav_bridge.runtime import Runtime
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.tables import BookingLinkRow
from tests.conftest import People
from tests.scheduling.conftest import World
from tests.selfbooking.helpers import book, first_slot
from tests.support.cli import in_process
from tests.support.live import LiveServer


def test_issue_list_revoke_through_the_api(live: LiveServer, people: People, world: World, runtime: Runtime) -> None:
    api = live.client(people.dispatcher.token)
    answer = api.post(
        "/api/v1/booking-links", json={"team_id": world.consultants, "name": "Website: initial consultation"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    issued = answer.json()
    secret = issued["secret"]
    assert issued["url"] == f"{runtime.settings.public_url}/book/{secret}"
    assert issued["link"]["kind"] == "team" and issued["link"]["active"] is True
    with runtime.uow() as uow:
        row = uow.session.scalar(select(BookingLinkRow))
        assert row is not None and row.token_hash == token_digest(secret) and secret not in row.token_hash
        assert links.resolve(uow, secret).id == row.id
    listed = api.get("/api/v1/booking-links").json()["items"]
    assert [i["id"] for i in listed] == [issued["link"]["id"]] and secret not in json.dumps(listed)

    book(runtime, secret, first_slot(runtime, secret, world))
    revoked = api.post(f"/api/v1/booking-links/{issued['link']['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert revoked.json()["bookings"] == 1  # what the list says, kept with the link (was always 0)
    with runtime.uow() as uow, pytest.raises(NotFound):
        links.resolve(uow, secret)


def test_scopes_and_bad_input_are_problems(live: LiveServer, people: People, world: World) -> None:
    reader = live.client(people.fitter.read_token)
    body = {"team_id": world.consultants, "name": "x"}
    assert reader.post("/api/v1/booking-links", json=body).status_code == 403
    writer = live.client(people.dispatcher.token)
    for bad, field in (
        ({"team_id": world.c1, "name": "x"}, "team_id"),  # a member, not a team
        ({"team_id": world.consultants, "name": "x", "kind": "personal"}, ""),
        ({"team_id": world.consultants, "name": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"team_id": world.consultants, "name": "x", "purpose": "FITTING"}, "purpose"),
    ):
        answer = writer.post("/api/v1/booking-links", json=bad)
        assert answer.status_code in (400, 422), answer.text
        assert answer.headers["Content-Type"].startswith("application/problem+json")
        assert field in answer.text
    assert writer.post("/api/v1/booking-links/nope/revoke").status_code == 404


def test_personal_links_carry_salesforce_ids_and_expire(runtime: Runtime, world: World) -> None:
    from caldav_bridge.selfbooking.model import LinkDraft
    from caldav_bridge.services.actor import system_actor

    draft = LinkDraft.model_validate(
        {
            "kind": "personal",
            "team_id": world.consultants,
            "name": "Opportunity 006",
            "expires_at": (utcnow() + timedelta(days=7)).isoformat(),
            "salesforce": {"opportunity_gid": "006000000000001AAA", "customer_gid": "00Q000000000001AAA"},
        }
    )
    issued = links.issue(runtime.uow(), system_actor(), draft, "https://book.example")
    assert issued.link.salesforce.opportunity_gid == "006000000000001AAA"
    assert issued.secret is not None
    with runtime.uow() as uow:
        assert links.resolve(uow, issued.secret).sf_customer_gid == "00Q000000000001AAA"
        with pytest.raises(NotFound):
            links.resolve(uow, issued.secret, now=utcnow() + timedelta(days=8))


def test_the_cli(runtime: Runtime, world: World) -> None:
    env = {"APPOINTMENTS_DATABASE_URL": runtime.settings.resolved_database_url()}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return in_process(["booking-links", *args], env)

    made = cli("create", "--team", world.consultants, "--name", "Flyer", "--json")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["url"].endswith(created["secret"])
    personal = cli("create", "--team", world.consultants, "--name", "P", "--opportunity", "006X")
    assert personal.returncode == 0 and "personal" in personal.stdout
    listed = cli("list", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2
    assert cli("revoke", created["link"]["id"]).returncode == 0
    one = cli("create", "--team", world.c1, "--name", "x")
    assert one.returncode == 2 and "team_id" in one.stderr
    assert cli("create", "--team", world.consultants, "--name", "x", "--expires", "soon").returncode == 2
