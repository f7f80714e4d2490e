"""Sync tokens expire with the change log (``[storage] max_sync_token_age``), on SQLite and PostgreSQL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import requests
from sqlalchemy import func, select, text, update

from caldav_bridge.clock import utcnow
from caldav_bridge.dav.collections import DEFAULT_MAX_TOKEN_AGE, prune_all
from caldav_bridge.dav.locks import COLLECTION_SPACE
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People, postgresql_only
from tests.support.live import LiveServer

D = "{DAV:}"


def sync_report(dav: requests.Session, url: str, token: str) -> requests.Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
    return dav.request("REPORT", url, data=body, headers={"Content-Type": "application/xml", "Depth": "1"}, timeout=10)


def sync(dav: requests.Session, url: str, token: str = "") -> tuple[str, dict[str, int]]:
    """The new token and {href name: status} of a sync-collection REPORT (which must succeed)."""
    response = sync_report(dav, url, token)
    assert response.status_code == 207, response.text
    root = ET.fromstring(response.content)
    changed: dict[str, int] = {}
    for r in root.findall(f"{D}response"):
        href = (r.findtext(f"{D}href") or "").rstrip("/").rsplit("/", 1)[-1]
        status = r.findtext(f"{D}status") or r.findtext(f"{D}propstat/{D}status") or ""
        changed[href] = int(status.split()[1])
    return root.findtext(f"{D}sync-token") or "", changed


def _put(dav: requests.Session, url: str, name: str) -> None:
    response = dav.put(url + f"{name}.ics", data=event_ics(f"{name}@expiry"), timeout=10)
    assert response.status_code == 201, response.text


def _age_log(live: LiveServer, path: str, days: int) -> None:
    """Pretend every change logged so far in the collection at ``path`` is ``days`` old."""
    with live.runtime.uow() as uow:
        collection_id = uow.session.scalar(select(DavCollectionRow.id).where(DavCollectionRow.path == path))
        uow.session.execute(
            update(DavChangeRow)
            .where(DavChangeRow.collection_id == collection_id)
            .values(at=utcnow() - timedelta(days=days))
        )
        uow.commit()


def _log_revisions(live: LiveServer, path: str) -> tuple[int | None, int]:
    with live.runtime.uow() as uow:
        collection = uow.session.scalars(select(DavCollectionRow).where(DavCollectionRow.path == path)).one()
        oldest = uow.session.scalar(
            select(func.min(DavChangeRow.revision)).where(DavChangeRow.collection_id == collection.id)
        )
        return oldest, collection.log_start


def test_expired_token_is_refused_and_a_recent_one_still_gets_every_change(live: LiveServer, people: People) -> None:
    path = f"{people.fitter.username}/appointments"
    url = f"{live.base_url}/dav/{path}/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    for name in ("a", "b", "c"):
        _put(dav, url, name)
    t0, everything = sync(dav, url)
    assert {"a.ics", "b.ics", "c.ics"} <= set(everything)
    assert dav.delete(url + "a.ics", timeout=10).status_code in (200, 204)
    _put(dav, url, "d")
    t1, changed = sync(dav, url, t0)
    assert changed == {"a.ics": 404, "d.ics": 200}

    _age_log(live, path, days=31)  # older than max_sync_token_age (30 days by default)
    _put(dav, url, "e")  # a write prunes the collection's old changes
    assert dav.delete(url + "b.ics", timeout=10).status_code in (200, 204)

    oldest, log_start = _log_revisions(live, path)
    assert log_start == int(t1.rsplit("-", 1)[1]) and oldest == log_start + 1  # pruned up to t1 only

    expired = sync_report(dav, url, t0)  # its changes (a deleted, d created) are gone from the log
    assert expired.status_code == 403, expired.text
    assert ET.fromstring(expired.content).find(f"{D}valid-sync-token") is not None

    t2, changed = sync(dav, url, t1)  # within the horizon: exactly what changed since, deletions included
    assert changed == {"b.ics": 404, "e.ics": 200}
    assert sync(dav, url, t2)[1] == {}


def test_recent_changes_are_kept(live: LiveServer, people: People) -> None:
    path = f"{people.fitter.username}/appointments"
    url = f"{live.base_url}/dav/{path}/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    _put(dav, url, "a")
    t0, _ = sync(dav, url)
    _put(dav, url, "b")
    _age_log(live, path, days=29)
    _put(dav, url, "c")
    assert _log_revisions(live, path)[1] == 0
    assert sync(dav, url, t0)[1] == {"b.ics": 200, "c.ics": 200}


def test_periodic_prune_covers_collections_only_rest_changes(live: LiveServer, people: People) -> None:
    path = f"{people.fitter.username}/appointments"
    url = f"{live.base_url}/dav/{path}/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    t0, _ = sync(dav, url)
    api = live.client(people.fitter.token)
    created = api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.fitter.calendar_id},
            "date_start": "2026-12-01T16:00:00.000Z",
            "date_end": "2026-12-01T17:00:00.000Z",
            "name": "Made over REST",
            "meta": {"type": "FOLLOW_UP"},
        },
    )
    assert created.status_code == 201, created.text
    t1, changed = sync(dav, url, t0)
    assert changed == {f"{created.json()['id']}.ics": 200}
    _age_log(live, path, days=31)
    with live.runtime.uow() as uow:
        assert prune_all(uow.session, utcnow() - timedelta(seconds=DEFAULT_MAX_TOKEN_AGE)) == 1
        uow.commit()
    with live.runtime.uow() as uow:
        assert prune_all(uow.session, utcnow() - timedelta(seconds=DEFAULT_MAX_TOKEN_AGE)) == 0
        uow.commit()
    assert sync_report(dav, url, t0).status_code == 403
    assert sync(dav, url, t1)[1] == {}


def test_prune_job_is_registered_and_runs(runtime: Runtime) -> None:
    from caldav_bridge.jobs.catalog import build_scheduler

    job = build_scheduler(runtime).get_job("caldav-prune-change-log")  # built, not started: run it by hand
    assert job is not None and job.trigger.describe() == "every 3600s"
    assert job.run() == 0


def test_rest_writes_prune_the_log_too(live: LiveServer, people: People) -> None:
    """No CalDAV write and no job: a REST change prunes its collection's old changes itself."""
    path = f"{people.fitter.username}/appointments"
    url = f"{live.base_url}/dav/{path}/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    api = live.client(people.fitter.token)
    t0, _ = sync(dav, url)
    created = api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.fitter.calendar_id},
            "date_start": "2026-12-01T16:00:00.000Z",
            "date_end": "2026-12-01T17:00:00.000Z",
            "name": "Made over REST",
            "meta": {"type": "FOLLOW_UP"},
        },
    )
    assert created.status_code == 201, created.text
    href, appointment = f"{created.json()['id']}.ics", f"/api/v1/appointments/{created.json()['id']}"
    t1, _ = sync(dav, url)
    _age_log(live, path, days=31)
    assert api.patch(appointment, json={"name": "Renamed"}).status_code == 200
    assert _log_revisions(live, path)[1] == int(t1.rsplit("-", 1)[1])
    assert sync_report(dav, url, t0).status_code == 403
    assert sync(dav, url, t1)[1] == {href: 200}


@postgresql_only  # the storage locks are PostgreSQL's advisory locks; SQLite serialises every writer anyway
def test_rest_write_does_not_wait_for_the_storage_lock_to_prune(live: LiveServer, people: People) -> None:
    """While a CalDAV read holds the collection's lock, a REST change leaves the log alone (and does not wait)."""
    path = f"{people.fitter.username}/appointments"
    api = live.client(people.fitter.token)
    created = api.post(
        "/api/v1/appointments",
        json={
            "calendar": {"id": people.fitter.calendar_id},
            "date_start": "2026-12-01T16:00:00.000Z",
            "date_end": "2026-12-01T17:00:00.000Z",
            "name": "Made over REST",
            "meta": {"type": "FOLLOW_UP"},
        },
    )
    appointment = f"/api/v1/appointments/{created.json()['id']}"
    _age_log(live, path, days=31)
    with live.runtime.uow() as uow:
        collection_id = uow.session.scalar(select(DavCollectionRow.id).where(DavCollectionRow.path == path))
    key = {"space": COLLECTION_SPACE, "id": collection_id}
    with live.runtime.engine.connect() as reader:  # a sync REPORT of that collection in progress
        reader.execute(text("SELECT pg_advisory_lock_shared(:space, :id)"), key)
        try:
            assert api.patch(appointment, json={"name": "While locked"}, timeout=10).status_code == 200
            assert _log_revisions(live, path)[1] == 0
            with live.runtime.uow() as uow:  # nor does the job, which skips a collection in use
                assert prune_all(uow.session, utcnow() - timedelta(seconds=DEFAULT_MAX_TOKEN_AGE)) == 0
                uow.commit()
            assert _log_revisions(live, path)[1] == 0
        finally:
            reader.execute(text("SELECT pg_advisory_unlock_shared(:space, :id)"), key)
            reader.commit()
    assert api.patch(appointment, json={"name": "Unlocked"}).status_code == 200
    assert _log_revisions(live, path)[1] > 0
