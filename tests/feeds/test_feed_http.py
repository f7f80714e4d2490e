"""``GET /feeds/<token>.ics`` over real HTTP, on SQLite and PostgreSQL: content, validators, caching
headers, 304s, HEAD, gzip, privacy, the window, cancellations, revocation, rate limits, the record of fetches."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import AuditRow, FeedFetchRow
from tests.conftest import People
from tests.feeds.conftest import FeedWorld
from tests.feeds.validators import icaljs_instants, validate_all
from tests.support.factories import iso
from tests.support.live import LiveServer, loopback_session, serve


def _events(body: bytes) -> dict[str, icalendar.Event]:
    return {str(e.uid): e for e in icalendar.Calendar.from_ical(body).events}


def test_a_feed_is_valid_complete_and_cacheable(feed_world: FeedWorld) -> None:
    w, now = feed_world, feed_world.now
    timed = w.add(now + timedelta(days=2, hours=3))
    denver = ZoneInfo("America/Denver")  # an all-day appointment: midnights of the calendar's zone (else a 422)
    midnight = datetime.combine((now + timedelta(days=5)).astimezone(denver).date(), time(), denver)
    day_long = (datetime.combine(midnight.date() + timedelta(days=1), time(), denver) - midnight) // timedelta(
        minutes=1
    )
    all_day = w.add(midnight, minutes=day_long, meta={"type": "TECH_SETUP", "all_day": True})
    multi = w.add(now + timedelta(days=8), minutes=50 * 60, meta={"type": "INITIAL", "location": "Denver store"})
    past = w.add(now - timedelta(days=20))
    too_old = w.add(now - timedelta(days=40))
    too_far = w.add(now + timedelta(days=200))
    gone = w.add(now + timedelta(days=3))
    assert w.api.delete(f"/api/v1/appointments/{gone['id']}").status_code == 204
    issued = w.issue()
    assert issued["warning"] is None and issued["token"]["privacy"] == "minimal"
    assert len(issued["secret"]) >= 22 and len(issued["urls"]["url"]) < 256

    r = w.get(issued)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "private, max-age=300"
    etag, last_modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert parsedate_to_datetime(last_modified) <= datetime.now(UTC) + timedelta(seconds=1)
    instants = validate_all(r.content)
    assert icaljs_instants({"feed": r.content})["feed"] == instants
    assert set(instants) == {timed["id"], all_day["id"], multi["id"], past["id"]}
    assert too_old["id"] not in instants and too_far["id"] not in instants and gone["id"] not in instants
    events = _events(r.content)
    assert (
        events[all_day["id"]].start
        == (now + timedelta(days=5)).astimezone(__import__("zoneinfo").ZoneInfo("America/Denver")).date()
    )
    assert events[multi["id"]]["LOCATION"] == "Denver store"
    assert events[timed["id"]]["SUMMARY"] == "Initial appointment · J. D."

    again = w.get(issued)
    assert again.content == r.content and again.headers["ETag"] == etag  # stable while nothing changes
    assert w.get(issued, **{"If-None-Match": etag}).status_code == 304
    assert w.get(issued, **{"If-None-Match": f'"nope", {etag}'}).status_code == 304
    assert w.get(issued, **{"If-Modified-Since": last_modified}).status_code == 304
    assert w.get(issued, **{"If-None-Match": '"other"', "If-Modified-Since": last_modified}).status_code == 200
    not_modified = w.get(issued, **{"If-None-Match": etag})
    assert not_modified.content == b"" and not_modified.headers["ETag"] == etag

    head = w.anon.request("HEAD", w.path(issued), headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b"" and head.headers["ETag"] == etag
    assert int(head.headers["Content-Length"]) == len(r.content)

    zipped = w.anon.get(w.path(issued), headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in zipped.headers["Vary"]
    assert zipped.content == r.content  # requests decompressed it
    assert int(zipped.headers["Content-Length"]) < len(r.content) / 2
    gz_etag = zipped.headers["ETag"]
    assert gz_etag != etag
    assert w.anon.get(w.path(issued), headers={"Accept-Encoding": "gzip", "If-None-Match": gz_etag}).status_code == 304


def test_changes_change_the_etag_and_raise_sequence(feed_world: FeedWorld) -> None:
    w = feed_world
    appointment = w.add(w.now + timedelta(days=1))
    issued = w.issue()
    first = w.get(issued)
    assert _events(first.content)[appointment["id"]]["SEQUENCE"] == 0
    start = w.now + timedelta(days=2)
    moved = w.api.post(
        f"/api/v1/appointments/{appointment['id']}/reschedule",
        json={"date_start": iso(start), "date_end": iso(start + timedelta(hours=1))},
    )
    assert moved.status_code == 200
    second = w.get(issued, **{"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 200 and second.headers["ETag"] != first.headers["ETag"]
    event = _events(second.content)[appointment["id"]]
    assert event["SEQUENCE"] == 1 and event.start == start
    assert event.DTSTAMP >= _events(first.content)[appointment["id"]].DTSTAMP  # whole seconds
    assert parsedate_to_datetime(second.headers["Last-Modified"]) >= parsedate_to_datetime(
        first.headers["Last-Modified"]
    )
    w.api.post(f"/api/v1/appointments/{appointment['id']}/cancel", json={"reason": "customer ill"})
    third = w.get(issued)
    event = _events(third.content)[appointment["id"]]
    assert event["STATUS"] == "CANCELLED" and event["SEQUENCE"] == 2
    validate_all(third.content)


def test_unknown_revoked_and_rotated_tokens_are_plain_404s(feed_world: FeedWorld) -> None:
    w = feed_world
    issued = w.issue()
    for path in (
        "/feeds/" + "A" * 32 + ".ics",
        "/feeds/short.ics",
        "/feeds/%00%01.ics",
        "/feeds/" + "x" * 300 + ".ics",
    ):
        r = w.anon.get(path)
        assert r.status_code == 404, path
        assert r.headers["Content-Type"].startswith("text/plain") and "<" not in r.text
    rotated = w.api.post(f"/api/v1/calendars/{w.calendar_id}/feeds/{issued['token']['id']}/rotate")
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["secret"] != issued["secret"] and new["token"]["name"] == "Google"
    assert w.get(issued).status_code == 404
    assert w.get(new).status_code == 200
    assert w.api.delete(f"/api/v1/calendars/{w.calendar_id}/feeds/{new['token']['id']}").status_code == 204
    gone = w.get(new)
    assert gone.status_code == 404 and gone.headers["Content-Type"].startswith("text/plain")
    assert gone.headers["Referrer-Policy"] == "no-referrer"


def test_privacy_levels_and_the_record_of_fetches(feed_world: FeedWorld, people: People) -> None:
    w = feed_world
    appointment = w.add(
        w.now + timedelta(days=1),
        description="Lives alone; phone 555-0199",
        guests=[
            {
                "id": "c-9",
                "first_name": "Ingrid",
                "last_name": "Ödegaard",
                "phone": "555-0199",
                "birthdate": "1940-01-01",
            }
        ],
    )
    busy, minimal = w.issue("Outlook", "busy"), w.issue("Salesforce")
    full = w.issue("Google", "full", alarm_minutes=30)
    assert "keep" in full["warning"] and full["token"]["alarm_minutes"] == 30
    bodies = {}
    for name, issued in (("busy", busy), ("minimal", minimal), ("full", full)):
        r = w.anon.get(w.path(issued), headers={"User-Agent": f"Test-Importer/{name}"})
        assert r.status_code == 200
        bodies[name] = r.content.decode().replace("\r\n ", "")
        validate_all(r.content)
    assert "SUMMARY:Busy" in bodies["busy"] and "Ödegaard" not in bodies["busy"] and "Initial" not in bodies["busy"]
    assert "I. Ö." in bodies["minimal"]
    for secret in ("Ingrid", "Ödegaard", "555-0199", "1940-01-01", "Lives alone"):
        assert secret not in bodies["minimal"] and secret not in bodies["busy"]
    assert (
        "Ingrid Ödegaard" in bodies["full"] and "Lives alone" in bodies["full"] and "TRIGGER:-PT30M" in bodies["full"]
    )

    r = w.api.get(f"/api/v1/calendars/{w.calendar_id}/feeds/fetches", params={"limit": 10})
    assert r.status_code == 200
    fetches = r.json()["items"]
    assert [f["user_agent"] for f in fetches[:3]] == [
        "Test-Importer/full",
        "Test-Importer/minimal",
        "Test-Importer/busy",
    ]
    assert {f["status"] for f in fetches} == {200} and fetches[0]["client_addr"] == "127.0.0.1"
    assert fetches[0]["token_id"] == full["token"]["id"]
    listed = w.api.get(f"/api/v1/calendars/{w.calendar_id}/feeds").json()["items"]
    assert {t["name"] for t in listed} == {"Outlook", "Salesforce", "Google"}
    assert all("secret" not in t and "token_hash" not in t for t in listed)
    assert next(t for t in listed if t["name"] == "Google")["last_used_at"]
    other = w.live.client(people.other_fitter.token)
    assert other.get(f"/api/v1/calendars/{w.calendar_id}/feeds/fetches").status_code == 404
    w.live.runtime.fetch_logs.flush()  # fetches are written off the request path, within a second; reads come first
    with w.live.runtime.uow() as uow:
        reads = uow.session.scalars(select(AuditRow).where(AuditRow.channel == "feed")).all()
        fetch_rows = uow.session.scalars(select(FeedFetchRow)).all()
    assert [a.appointment_id for a in reads if a.action == "read"] == [
        appointment["id"]
    ]  # only "full" shows patient data
    assert len(fetch_rows) == 3 and {f.token_id for f in fetch_rows} == {
        busy["token"]["id"],
        minimal["token"]["id"],
        full["token"]["id"],
    }


def test_a_team_feed_holds_its_members_appointments(live: LiveServer, people: People) -> None:
    admin = live.client(people.admin.token)
    team = admin.post("/api/v1/calendars", json={"name": "Tech setup", "kind": "team", "timezone": "America/Chicago"})
    assert team.status_code == 201
    member = admin.post(
        "/api/v1/calendars",
        json={"name": "Anna", "kind": "tech_setup_member", "timezone": "America/Chicago", "team_id": team.json()["id"]},
    ).json()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    created = admin.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": member["id"]},
            "date_start": iso(start),
            "date_end": iso(start + timedelta(minutes=30)),
            "name": "Tech setup call",
            "meta": {"type": "TECH_SETUP"},
        },
    ).json()
    issued = admin.post(f"/api/v1/calendars/{team.json()['id']}/feeds", json={"name": "Team board"}).json()
    body = live.client().get(f"/feeds/{issued['secret']}.ics").content
    assert set(validate_all(body)) == {created["id"]}
    assert b"TZID:America/Chicago" in body


def test_rate_limit_is_per_token_with_retry_after(runtime: Runtime, people: People) -> None:
    limited = Runtime.from_settings(runtime.settings.replace(feed_rate_limit_per_minute=3), engine=runtime.engine)
    with serve(limited) as live:
        w = FeedWorld(live, people)
        one, two = w.issue("A"), w.issue("B")
        assert [w.get(one).status_code for _ in range(3)] == [200, 200, 200]
        refused = w.get(one)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["Content-Type"].startswith("text/plain")
        assert w.get(one).status_code == 429
        assert w.get(two).status_code == 200  # another token is not affected
        limited.fetch_logs.flush()
        with limited.uow() as uow:
            statuses = [f.status for f in uow.session.scalars(select(FeedFetchRow).order_by(FeedFetchRow.id))]
        assert statuses.count(429) == 1  # the first refusal is recorded, repeats are not


def test_tokens_never_reach_the_access_log(feed_world: FeedWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="appointments.access")
    issued = feed_world.issue()
    feed_world.get(issued)
    feed_world.anon.get(f"/calendar/{issued['secret']}?week=2026-01-05")
    feed_world.anon.get(f"/feeds/{issued['secret']}.ics?token={issued['secret']}")
    text = "\n".join(r.getMessage() + str(getattr(r, "path", "")) for r in caplog.records)
    assert "/feeds/[redacted]" in text and "/calendar/[redacted]" in text
    assert issued["secret"] not in text


def test_the_feed_is_not_cached_by_shared_caches_and_not_indexed(feed_world: FeedWorld) -> None:
    r = feed_world.get(feed_world.issue())
    assert "private" in r.headers["Cache-Control"]
    assert r.headers["X-Robots-Tag"] == "noindex, nofollow"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert feed_world.anon.post(feed_world.path(feed_world.issue("Other"))).status_code == 405


def test_a_real_requests_session_sees_304_on_the_second_poll(feed_world: FeedWorld) -> None:
    """As a polite poller does it: remember ETag and Last-Modified, send both back."""
    w = feed_world
    w.add(w.now + timedelta(days=1))
    issued = w.issue()
    session = loopback_session()
    url = w.live.base_url + w.path(issued)
    first = session.get(url, timeout=30)
    second = session.get(
        url,
        headers={"If-None-Match": first.headers["ETag"], "If-Modified-Since": first.headers["Last-Modified"]},
        timeout=30,
    )
    assert (first.status_code, second.status_code) == (200, 304)
