"""Feed tokens through the REST API and the CLI, and the feed service's window, grace period and
Last-Modified, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from caldav_bridge.credentials import token_digest
from caldav_bridge.model.feeds import FeedTokenDraft, Privacy
from caldav_bridge.model.requests import AppointmentDraft, CancelRequest
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, feed_tokens
from caldav_bridge.services.actor import system_actor
from caldav_bridge.services.feed_serving import Client, Conditions, FeedConfig, FeedContext, FeedResponse, fetch_feed
from caldav_bridge.store.tables import AuditRow, FeedTokenRow
from config import Settings
from tests.conftest import People
from tests.e2e.test_cli import as_json, run
from tests.feeds.conftest import FeedWorld
from tests.support.factories import appointment_body


def test_the_api_validates_and_documents_feed_tokens(feed_world: FeedWorld, people: People) -> None:
    w = feed_world
    base = f"/api/v1/calendars/{w.calendar_id}/feeds"
    for body, field in (
        ({"name": "G", "privacy": "secret"}, "privacy"),
        ({"name": "", "privacy": "busy"}, "name"),
        ({"name": "G", "alarm_minutes": -5}, "alarm_minutes"),
        ({"name": "G", "extra": 1}, "extra"),
    ):
        r = w.api.post(base, json=body)
        assert r.status_code == 422 and r.headers["Content-Type"] == "application/problem+json", body
        assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
    # malformed JSON is a 400 (not a 422) since the API separated the two
    assert w.api.post(base, data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert w.api.get(f"/api/v1/calendars/{w.calendar_id}/feeds/fetches?limit=0").status_code == 422
    read_only = w.live.client(people.fitter.read_token)
    assert read_only.post(base, json={"name": "G"}).status_code == 403
    assert read_only.get(base).status_code == 200
    other = w.live.client(people.other_fitter.token)
    assert other.post(base, json={"name": "G"}).status_code == 404  # not 403: ids do not leak
    assert other.get(base).status_code == 404
    assert w.anon.get(base).status_code == 401
    issued = w.issue()
    assert other.delete(f"{base}/{issued['token']['id']}").status_code == 404
    assert other.post(f"{base}/{issued['token']['id']}/rotate").status_code == 404
    assert w.api.delete(f"{base}/no-such-token").status_code == 404
    assert w.api.post(f"{base}/no-such-token/rotate").status_code == 404
    assert w.api.post("/api/v1/calendars/nope/feeds", json={"name": "G"}).status_code == 404
    paths = w.anon.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/v1/calendars/{id}/feeds",
        "/api/v1/calendars/{id}/feeds/{token_id}/rotate",
        "/api/v1/calendars/{id}/feeds/{token_id}",
        "/api/v1/calendars/{id}/feeds/fetches",
    ):
        assert any(p.endswith(path.removeprefix("/api/v1")) for p in paths), path
    issue_op = next(v["post"] for p, v in paths.items() if p.endswith("/calendars/{id}/feeds"))
    assert "Google and Microsoft keep copies" in json.dumps(issue_op)


def test_the_fetches_path_is_not_a_token_id(feed_world: FeedWorld) -> None:
    """``…/feeds/fetches`` is a concrete path (GET only): other methods are 405, not a token named "fetches"."""
    w = feed_world
    issued = w.issue()
    base = f"/api/v1/calendars/{w.calendar_id}/feeds"
    for response in (w.api.delete(f"{base}/fetches"), w.api.post(f"{base}/fetches")):
        assert response.status_code == 405, response.text
        assert response.headers["Content-Type"] == "application/problem+json"
        assert "GET" in response.headers["Allow"] and "DELETE" not in response.headers["Allow"]
    assert w.api.get(f"{base}/fetches").status_code == 200
    # A real token id still reaches the token routes, and "fetches" stays a token id under /rotate.
    assert w.api.post(f"{base}/fetches/rotate").status_code == 404
    assert w.api.delete(f"{base}/{issued['token']['id']}").status_code == 204


def test_tokens_are_random_hashed_and_revocable(runtime: Runtime, people: People) -> None:
    actor = system_actor()
    assert people.fitter.calendar_id
    one = feed_tokens.issue(
        runtime.uow(), actor, people.fitter.calendar_id, FeedTokenDraft(name="A"), "https://x.example"
    )
    two = feed_tokens.issue(
        runtime.uow(), actor, people.fitter.calendar_id, FeedTokenDraft(name="B"), "https://x.example"
    )
    assert one.secret and two.secret and one.urls  # shown at issue (null only in an idempotent replay)
    assert one.secret != two.secret and len(one.secret) == 32  # 192 bits
    assert one.urls.url == f"https://x.example/feeds/{one.secret}.ics"
    assert one.urls.webcal == f"webcal://x.example/feeds/{one.secret}.ics"
    assert one.urls.google.startswith("https://calendar.google.com/calendar/r?cid=webcal%3A%2F%2Fx.example%2Ffeeds%2F")
    assert one.urls.page == f"https://x.example/calendar/{one.secret}"
    with runtime.uow() as uow:
        rows = uow.session.scalars(select(FeedTokenRow)).all()
        assert {r.token_hash for r in rows} == {token_digest(one.secret), token_digest(two.secret)}
        assert all(one.secret not in (r.token_hash, r.name) for r in rows)
        audit = uow.session.scalars(select(AuditRow).where(AuditRow.action == "feed_issue")).all()
        assert len(audit) == 2 and all(one.secret not in (a.detail or "") for a in audit)


def test_window_grace_and_last_modified(runtime: Runtime, people: People) -> None:
    actor = system_actor()
    cal = people.fitter.calendar_id
    assert cal
    now = datetime.now(UTC).replace(microsecond=0)
    made = {}
    for key, days in (("soon", 2), ("edge", -29)):
        start = now + timedelta(days=days)
        draft = AppointmentDraft.model_validate(appointment_body(cal, start=start))
        made[key] = str(appointments.create(runtime.uow(), actor, draft).appointment.id)
    appointments.cancel(runtime.uow(), actor, made["soon"], CancelRequest(reason="ill"))
    token_draft = FeedTokenDraft(name="G", privacy=Privacy.MINIMAL)  # busy (the default) lists no cancelled ones
    issued = feed_tokens.issue(runtime.uow(), actor, cal, token_draft, "https://x.example")
    secret = issued.secret
    assert secret
    ctx = FeedContext.create(FeedConfig(cancelled_grace=timedelta(days=14)), 1000)
    client = Client("test", "127.0.0.1")

    def fetch(at: datetime, conditions: Conditions = Conditions()) -> FeedResponse:
        return fetch_feed(runtime.uow(), ctx, secret, client, conditions, now=at)

    today = fetch(now + timedelta(seconds=1))
    assert today.events == 2 and b"STATUS:CANCELLED" in (today.body.identity if today.body else b"")
    # two days later "edge" has left the window (30 days back) and the cancelled one is still shown
    later = fetch(now + timedelta(days=2))
    assert later.events == 1 and later.etag != today.etag
    # the body changed without a write: Last-Modified moved to when "edge" left the window
    assert later.last_modified > today.last_modified
    assert fetch(now + timedelta(days=2), Conditions(if_modified_since=today.last_modified)).status == 200
    assert fetch(now + timedelta(days=2), Conditions(if_modified_since=later.last_modified)).status == 304
    # fifteen days later the cancellation's grace period is over: the event is dropped
    assert fetch(now + timedelta(days=15)).events == 0


def test_the_cli_manages_feed_tokens_and_gives_salesforce_urls(settings: Settings) -> None:
    as_json(settings, "db", "upgrade")
    as_json(settings, "users", "add", "fitter.cli", "--role", "fitter", "--timezone", "Europe/Berlin")
    as_json(settings, "users", "add", "consultant.cli", "--role", "consultant")
    (calendar,) = [c for c in as_json(settings, "calendars", "list") if c["kind"] == "fitter"]
    issued = as_json(
        settings, "feeds", "issue", calendar["id"], "--name", "Google", "--privacy", "full", "--alarm-minutes", "15"
    )
    assert issued["token"]["privacy"] == "full" and issued["warning"]
    assert issued["urls"]["url"].endswith(f"/feeds/{issued['secret']}.ics")
    listed = as_json(settings, "feeds", "list", calendar["id"])
    assert [t["name"] for t in listed] == ["Google"]
    rotated = as_json(settings, "feeds", "rotate", issued["token"]["id"])
    assert rotated["secret"] != issued["secret"]
    revoked = as_json(settings, "feeds", "revoke", rotated["token"]["id"])
    assert revoked["revoked"] is True
    first = as_json(settings, "feeds", "urls")
    assert [(u["username"], u["issued"]) for u in first] == [("fitter.cli", True)]
    assert first[0]["urls"]["google"].startswith("https://calendar.google.com/calendar/r?cid=webcal")
    again = as_json(settings, "feeds", "urls")
    assert again[0]["issued"] is False and again[0]["urls"] is None
    assert again[0]["token_id"] == first[0]["token_id"]
    rotated_urls = as_json(settings, "feeds", "urls", "--rotate")
    assert rotated_urls[0]["issued"] is True and rotated_urls[0]["urls"] != first[0]["urls"]
    bad = run(settings, "feeds", "revoke", "nope", check=False)
    assert bad.returncode == 2 and "not found" in bad.stderr
    text = run(settings, "feeds", "issue", calendar["id"], "--name", "Outlook").stdout
    assert "webcal://" in text and "calendar.google.com" in text


def test_demo_prints_stable_feed_urls_that_work(settings: Settings, demo: dict[str, Any]) -> None:
    # The demo is seeded already (``demo``: what the seed printed): the runs here find it and print it again.
    first, second = as_json(settings, "demo"), as_json(settings, "demo")
    feeds = [c["feed"] for u in first["users"] + first["teams"] for c in u["calendars"]]
    assert len(feeds) == 8  # 7 personal calendars and the tech-setup team
    assert feeds == [c["feed"] for u in second["users"] + second["teams"] for c in u["calendars"]]
    seeded = [c["feed"]["url"] for u in demo["users"] + demo["teams"] for c in u["calendars"]]
    assert [f["url"].rsplit("/", 1)[1] for f in feeds] == [url.rsplit("/", 1)[1] for url in seeded]  # same secrets
    secret = feeds[0]["url"].rsplit("/", 1)[1].removesuffix(".ics")
    rt = Runtime.from_settings(settings)
    try:
        ctx = FeedContext.create(FeedConfig(), 10)
        result = fetch_feed(rt.uow(), ctx, secret, Client("test", "127.0.0.1"))
        assert result.status == 200 and result.events > 0 and result.body is not None
        assert b"J. " in result.body.identity or b"Busy" not in result.body.identity
    finally:
        rt.close()


def test_new_feeds_show_busy_unless_the_owner_or_an_admin_chooses_more(feed_world: FeedWorld, people: People) -> None:
    w = feed_world
    base = f"/api/v1/calendars/{w.calendar_id}/feeds"
    dispatcher = w.live.client(people.dispatcher.token)
    default = dispatcher.post(base, json={"name": "Desk"})
    assert default.status_code == 201, default.text
    assert default.json()["token"]["privacy"] == "busy"
    refused = dispatcher.post(base, json={"name": "Desk", "privacy": "minimal"})
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    owner = w.api.post(base, json={"name": "Phone", "privacy": "minimal"})
    admin = w.live.client(people.admin.token).post(base, json={"name": "Office", "privacy": "full"})
    assert (owner.status_code, admin.status_code) == (201, 201), (owner.text, admin.text)
    assert [t["privacy"] for t in w.api.get(base).json()["items"]] == ["busy", "minimal", "full"]
    with w.live.runtime.uow() as uow:
        audit = uow.session.scalars(select(AuditRow).where(AuditRow.action == "feed_issue")).all()
        choices = sorted((a.actor, (a.detail or "").split(", ")[-1].rstrip(")")) for a in audit)
    assert choices == [("admin", "full"), ("dispatcher", "busy"), (people.fitter.username, "minimal")]
