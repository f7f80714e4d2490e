"""Races between CalDAV and the other channels, reproduced deterministically, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests
from sqlalchemy import delete, select
from sqlalchemy import event as sa_event

from caldav_bridge.clock import utcnow
from caldav_bridge.dav import provisioning
from caldav_bridge.dav.collections import DavStore
from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import Actor
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import CalendarRow
from storage_plugin.storage import dav_actor
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.live import LiveServer


def _between_check_and_write(monkeypatch: pytest.MonkeyPatch, method: str, action: Any) -> dict[str, Any]:
    """Run ``action`` in another thread once, after Radicale checked If-Match and before the store writes.

    On PostgreSQL the other thread commits right away (REST writes do not take the storage lock);
    on SQLite it waits for the CalDAV transaction (BEGIN IMMEDIATE) and runs after it.
    """
    original = getattr(DavStore, method)
    state: dict[str, Any] = {}

    def hooked(self: DavStore, *args: Any, **kwargs: Any) -> Any:
        if "thread" not in state:
            state["thread"] = threading.Thread(target=lambda: state.setdefault("result", action()))
            state["thread"].start()
            state["thread"].join(timeout=3)
            state["ran_between"] = not state["thread"].is_alive()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DavStore, method, hooked)
    return state


def _item(live: LiveServer, href: str) -> DavItemRow:
    with live.runtime.uow() as uow:
        return uow.session.scalars(select(DavItemRow).where(DavItemRow.href == href)).one()


@pytest.fixture
def event(live: LiveServer, people: People) -> tuple[requests.Session, str, str, str]:
    """An event PUT over CalDAV: (session, url, its ETag, the appointment id)."""
    dav = dav_session(people.fitter.username, people.fitter.password)
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/race.ics"
    created = dav.put(url, data=event_ics("race@test", summary="Original"), timeout=10)
    assert created.status_code == 201, created.text
    return dav, url, created.headers["ETag"], str(_item(live, "race.ics").appointment_id)


def test_rest_edit_between_if_match_check_and_put_is_not_lost(
    live: LiveServer, people: People, monkeypatch: pytest.MonkeyPatch, event: tuple[requests.Session, str, str, str]
) -> None:
    dav, url, etag, appointment_id = event
    api = live.client(people.fitter.token)
    state = _between_check_and_write(
        monkeypatch,
        "upload",
        lambda: api.patch(f"/api/v1/appointments/{appointment_id}", json={"name": "Renamed over REST"}),
    )
    changed = event_ics("race@test", summary="Original", start="20261201T140000", end="20261201T150000")
    put = dav.put(url, data=changed, headers={"If-Match": etag, "Content-Type": "text/calendar"}, timeout=30)
    state["thread"].join(timeout=30)
    assert state["result"].status_code == 200, state["result"].text
    appointment = api.get(f"/api/v1/appointments/{appointment_id}").json()
    item = _item(live, "race.ics")
    assert appointment["name"] == "Renamed over REST" and "SUMMARY:Renamed over REST" in item.text  # not lost
    if state["ran_between"]:  # PostgreSQL: the PUT's If-Match no longer holds
        assert put.status_code == 412, put.text
        assert appointment["date_start"] == "2026-12-01T16:00:00.000Z"
        assert dav.get(url, timeout=10).headers["ETag"] == item.etag != etag
    else:  # SQLite: the REST edit waited for the PUT and applied on top of it
        assert put.status_code == 204, put.text
        assert appointment["date_start"] == "2026-12-01T21:00:00.000Z"


def test_rest_edit_between_if_match_check_and_caldav_delete(
    live: LiveServer, people: People, monkeypatch: pytest.MonkeyPatch, event: tuple[requests.Session, str, str, str]
) -> None:
    dav, url, etag, appointment_id = event
    api = live.client(people.fitter.token)
    state = _between_check_and_write(
        monkeypatch,
        "delete_item",
        lambda: api.patch(f"/api/v1/appointments/{appointment_id}", json={"name": "Renamed over REST"}),
    )
    deleted = dav.delete(url, headers={"If-Match": etag}, timeout=30)
    state["thread"].join(timeout=30)
    if state["ran_between"]:  # PostgreSQL: the DELETE matched an ETag that is gone
        assert deleted.status_code == 412, deleted.text
        assert api.get(f"/api/v1/appointments/{appointment_id}").json()["name"] == "Renamed over REST"
    else:  # SQLite: the DELETE ran first; the REST edit then finds no appointment
        assert deleted.status_code in (200, 204), deleted.text
        assert state["result"].status_code == 404


def test_put_without_if_match_still_overwrites(
    live: LiveServer, people: People, event: tuple[requests.Session, str, str, str]
) -> None:
    dav, url, etag, _ = event
    put = dav.put(url, data=event_ics("race@test", summary="Plain overwrite"), timeout=10)
    assert put.status_code == 204, put.text
    stale = dav.put(url, data=event_ics("race@test", summary="Stale"), headers={"If-Match": etag}, timeout=10)
    assert stale.status_code == 412


def _race(runtime: Runtime, first: Any, second: Any, second_waits_at: Any) -> tuple[Any, Any]:
    """Two transactions that both look, then write: ``first(uow)`` runs (writing, not committing), then
    ``second(uow)`` in another thread; the second's first statement for which ``second_waits_at``
    holds waits until the first has committed. So on PostgreSQL the second has looked (and found
    nothing) before the first commits, and writes after; on SQLite the second cannot begin before
    the first commits (BEGIN IMMEDIATE), so the first stops waiting after 3 s and they run in turn.
    Returns both results; fails with what either raised.
    """
    first_wrote, second_about_to_write, first_committed = threading.Event(), threading.Event(), threading.Event()
    second_thread: list[threading.Thread] = []

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if (
            threading.current_thread() in second_thread
            and not second_about_to_write.is_set()
            and second_waits_at(statement.lstrip().upper())
        ):
            second_about_to_write.set()
            first_committed.wait(timeout=20)

    def run_first() -> Any:
        with runtime.uow() as uow:
            result = first(uow)
            first_wrote.set()
            second_about_to_write.wait(timeout=3)
            uow.commit()
        first_committed.set()
        return result

    def run_second() -> Any:
        with runtime.uow() as uow:
            result = second(uow)
            uow.commit()
        return result

    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def run(name: str, fn: Any) -> None:
        try:
            results[name] = fn()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            first_wrote.set()

    threads = [threading.Thread(target=run, args=(n, f)) for n, f in (("first", run_first), ("second", run_second))]
    second_thread.append(threads[1])
    sa_event.listen(runtime.engine, "before_cursor_execute", hook)
    try:
        threads[0].start()
        assert first_wrote.wait(timeout=30)
        threads[1].start()
        for t in threads:
            t.join(timeout=60)
    finally:
        sa_event.remove(runtime.engine, "before_cursor_execute", hook)
    assert not errors, errors
    return results["first"], results["second"]


def _collection_path(uow: Any, calendar_id: str) -> str:
    row = provisioning.collection_for_calendar(uow, calendar_id)
    assert row is not None
    return row.path


def _inserts_collection(statement: str) -> bool:
    return statement.startswith("INSERT INTO DAV_COLLECTIONS")


def test_two_team_calendars_provisioned_at_once_share_one_parent(runtime: Runtime) -> None:
    """Both transactions find no ``_calendars`` folder; the second inserts it after the first committed it."""
    now = utcnow()
    with runtime.uow() as uow:
        teams = [
            CalendarRow(name=f"Team {n}", kind="team", timezone="UTC", created_at=now, updated_at=now) for n in (1, 2)
        ]
        uow.session.add_all(teams)
        uow.commit()
        ids = [t.id for t in teams]
    paths = _race(
        runtime,
        lambda uow: _collection_path(uow, ids[0]),
        lambda uow: _collection_path(uow, ids[1]),
        _inserts_collection,
    )
    assert sorted(paths) == sorted(f"{provisioning.SHARED_ROOT}/{i}" for i in ids)
    with runtime.uow() as uow:
        folders = uow.session.scalars(
            select(DavCollectionRow).where(DavCollectionRow.path == provisioning.SHARED_ROOT)
        ).all()
        assert len(folders) == 1
        children = uow.session.scalars(
            select(DavCollectionRow.path).where(DavCollectionRow.parent_path == provisioning.SHARED_ROOT)
        ).all()
        assert sorted(children) == sorted(paths)


ADMIN = Actor(user_id=None, username="admin", role="admin", scopes=frozenset({"admin"}), channel="test")


def test_propfind_provisioning_waits_for_a_rest_write_provisioning_the_same_calendar(
    runtime: Runtime, people: People
) -> None:
    """A REST write provisions a new calendar's collection; a CalDAV request under the owner's
    principal looks for unprovisioned calendars meanwhile: one collection, no unique violation."""
    draft = CalendarDraft(name="Second", kind="fitter", timezone="UTC", owner_username=people.fitter.username)
    calendar_id = calendars.create(runtime.uow(), ADMIN, draft).id

    def dav(uow: Any) -> str:
        provisioning.ensure_for_path(DavStore(uow, dav_actor(people.fitter.username)), people.fitter.username)
        return str(uow.session.scalar(select(DavCollectionRow.path).where(DavCollectionRow.calendar_id == calendar_id)))

    rest_path, dav_path = _race(
        runtime,
        lambda uow: _collection_path(uow, calendar_id),
        dav,
        lambda statement: _inserts_collection(statement) or " FOR NO KEY UPDATE" in statement,
    )
    assert rest_path == dav_path == f"{people.fitter.username}/{calendar_id}"


def test_two_calendars_of_one_owner_provisioned_at_once(runtime: Runtime, people: People) -> None:
    """Neither has a collection, both would be ``<user>/appointments``: the second gets its id path."""
    user = people.other_fitter.username
    with runtime.uow() as uow:  # the user's first calendar loses its collection (as if made before 0003)
        uow.session.execute(delete(DavCollectionRow).where(DavCollectionRow.path == f"{user}/appointments"))
        uow.commit()
    draft = CalendarDraft(name="Second", kind="fitter", timezone="UTC", owner_username=user)
    first_id = people.other_fitter.calendar_id or ""
    second_id = calendars.create(runtime.uow(), ADMIN, draft).id
    paths = _race(
        runtime,
        lambda uow: _collection_path(uow, first_id),
        lambda uow: _collection_path(uow, second_id),
        _inserts_collection,
    )
    assert paths == (f"{user}/appointments", f"{user}/{second_id}")
