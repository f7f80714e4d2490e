"""PostgreSQL's CalDAV storage lock is one per collection (``caldav_bridge.dav.locks``).

Writes to two calendars go on side by side; two writes to one calendar, or a write and a read of it,
are serialised; what changes the tree (MKCALENDAR, deleting a collection) is alone; sync tokens stay
monotonic and gap-free under concurrent writers.
"""

from __future__ import annotations

import contextlib
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from radicale import config as radicale_config
from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from caldav_bridge.clock import utcnow
from caldav_bridge.dav.locks import COLLECTION_SPACE, TREE_KEY, plan_write
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow
from storage_plugin.storage import Storage
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People, postgresql_only
from tests.support.live import LiveServer

pytestmark = postgresql_only


def _calendar(live: LiveServer, username: str, password: str) -> tuple[requests.Session, str, int]:
    """A DAV session for ``username``, the URL of their appointment calendar and its collection id."""
    dav = dav_session(username, password)
    url = f"{live.base_url}/dav/{username}/appointments/"
    assert dav.request("PROPFIND", url, headers={"Depth": "0"}, timeout=10).status_code == 207
    with live.runtime.uow() as uow:
        collection_id = uow.session.scalar(
            select(DavCollectionRow.id).where(DavCollectionRow.path == f"{username}/appointments")
        )
    assert collection_id is not None
    return dav, url, int(collection_id)


@contextlib.contextmanager
def _holding(runtime: Runtime, collection_id: int) -> Iterator[None]:
    """Hold the collection's lock exclusively from another connection, as a CalDAV write in it does."""
    with runtime.engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:s, :i)"), {"s": COLLECTION_SPACE, "i": collection_id})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:s, :i)"), {"s": COLLECTION_SPACE, "i": collection_id})
            conn.commit()


def _put(dav: requests.Session, url: str, name: str, **kwargs: Any) -> requests.Response:
    return dav.put(url + f"{name}.ics", data=event_ics(f"{name}@locks", **kwargs), timeout=30)


def test_a_write_in_one_calendar_does_not_wait_for_a_write_in_another(live: LiveServer, people: People) -> None:
    dav_a, url_a, id_a = _calendar(live, people.fitter.username, people.fitter.password)
    dav_b, url_b, _ = _calendar(live, people.other_fitter.username, people.other_fitter.password)
    with ThreadPoolExecutor(1) as pool, _holding(live.runtime, id_a):
        blocked = pool.submit(_put, dav_a, url_a, "in-a")
        # B's calendar is free: its PUT completes while A's write is still held.
        assert _put(dav_b, url_b, "in-b", tzid="Europe/Berlin").status_code == 201
        # A second write in A waits for the first (serialised as before).
        time.sleep(1.0)
        assert not blocked.done()
    assert blocked.result(timeout=30).status_code == 201


def test_a_read_waits_for_a_write_of_its_collection_only(live: LiveServer, people: People) -> None:
    dav_a, url_a, id_a = _calendar(live, people.fitter.username, people.fitter.password)
    dav_b, url_b, _ = _calendar(live, people.other_fitter.username, people.other_fitter.password)
    assert _put(dav_a, url_a, "seen").status_code == 201
    with ThreadPoolExecutor(1) as pool, _holding(live.runtime, id_a):
        report = pool.submit(dav_a.request, "PROPFIND", url_a, headers={"Depth": "1"}, timeout=30)
        assert dav_b.request("PROPFIND", url_b, headers={"Depth": "1"}, timeout=10).status_code == 207
        time.sleep(1.0)
        assert not report.done()
    assert report.result(timeout=30).status_code == 207


def _storage(runtime: Runtime) -> Storage:
    configuration = radicale_config.load()
    return Storage(configuration, runtime=runtime)


def _free(conn: Connection, *key: int, shared: bool = False) -> bool:
    """Whether another session could take the advisory lock ``key`` now (taken and released at once)."""
    fn = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    unlock = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
    args = ", ".join(f":k{i}" for i in range(len(key)))
    params = {f"k{i}": k for i, k in enumerate(key)}
    got = bool(conn.scalar(text(f"SELECT {fn}({args})"), params))
    if got:
        conn.execute(text(f"SELECT {unlock}({args})"), params)
    return got


def test_what_each_request_locks(live: LiveServer, people: People) -> None:
    """acquire_lock takes the tree lock shared plus the named collections for item writes; the tree
    exclusively for what changes the tree; shared locks for reads."""
    _, _, id_a = _calendar(live, people.fitter.username, people.fitter.password)
    _, _, id_b = _calendar(live, people.other_fitter.username, people.other_fitter.password)
    a, b = f"/{people.fitter.username}/appointments", f"/{people.other_fitter.username}/appointments"
    store = _storage(live.runtime)
    with live.runtime.engine.connect() as probe:
        with store.acquire_lock("w", people.fitter.username, path=a + "/x.ics", request="PUT"):
            assert not _free(probe, COLLECTION_SPACE, id_a)
            assert _free(probe, COLLECTION_SPACE, id_b)
            assert _free(probe, TREE_KEY, shared=True) and not _free(probe, TREE_KEY)
        with store.acquire_lock("w", "admin", path=a + "/x.ics", request="MOVE", to_path=b + "/y.ics"):
            assert not _free(probe, COLLECTION_SPACE, id_a) and not _free(probe, COLLECTION_SPACE, id_b)
            assert _free(probe, TREE_KEY, shared=True)
        for request, path in (("MKCALENDAR", a + "2/"), ("DELETE", a + "/"), ("PUT", a + "/")):
            with store.acquire_lock("w", people.fitter.username, path=path, request=request):
                assert not _free(probe, TREE_KEY, shared=True), request
        with store.acquire_lock("w"):  # no path (Radicale's principal creation): the whole tree
            assert not _free(probe, TREE_KEY, shared=True)
        with store.acquire_lock("r", people.fitter.username):
            assert _free(probe, COLLECTION_SPACE, id_a)  # nothing looked up yet
            list(store.discover(a + "/", depth="0"))
            assert _free(probe, COLLECTION_SPACE, id_a, shared=True) and not _free(probe, COLLECTION_SPACE, id_a)
            assert _free(probe, COLLECTION_SPACE, id_b) and not _free(probe, TREE_KEY)
        assert _free(probe, TREE_KEY) and _free(probe, COLLECTION_SPACE, id_a)


def test_the_plan_of_a_write(live: LiveServer, people: People) -> None:
    _, _, id_a = _calendar(live, people.fitter.username, people.fitter.password)
    _, _, id_b = _calendar(live, people.other_fitter.username, people.other_fitter.password)
    a, b = f"/{people.fitter.username}/appointments", f"/{people.other_fitter.username}/appointments"
    with live.runtime.uow() as uow:
        s = uow.session
        assert plan_write(s, "PUT", a + "/x.ics") == (id_a,)
        assert plan_write(s, "DELETE", a + "/x.ics") == (id_a,)
        assert plan_write(s, "PROPPATCH", a + "/") == (id_a,)
        assert plan_write(s, "MOVE", b + "/x.ics", a + "/y.ics") == tuple(sorted({id_a, id_b}))
        assert plan_write(s, "MOVE", a + "/x.ics", a + "/y.ics") == (id_a,)
        assert plan_write(s, "PUT", a + "/") is None  # a whole calendar replaced
        assert plan_write(s, "DELETE", f"/{people.fitter.username}/") is None  # a principal and its calendars
        assert plan_write(s, "PUT", "/nobody/nothing/x.ics") is None  # into a collection yet to be provisioned
        assert plan_write(s, "MKCALENDAR", a + "2/") is None
        assert plan_write(s, "MOVE", a + "/x.ics", None) is None
        assert plan_write(s, None, None) is None


def test_a_collection_made_meanwhile_sends_the_write_to_the_tree_lock(live: LiveServer, people: People) -> None:
    """A PUT planned as an item write whose path became a collection before it got its locks (a
    MKCALENDAR committed in between) starts over with the whole tree locked."""
    _calendar(live, people.fitter.username, people.fitter.password)
    store = _storage(live.runtime)
    path = f"/{people.fitter.username}/appointments/late/"
    with live.runtime.engine.connect() as probe:
        tree = {"k": TREE_KEY}
        probe.execute(text("SELECT pg_advisory_lock(:k)"), tree)  # a MKCALENDAR holding the tree
        done = threading.Event()
        tree_free: list[bool] = []

        def put() -> None:
            with store.acquire_lock("w", people.fitter.username, path=path, request="PUT"):
                done.set()
                tree_free.append(_free_in_thread(live.runtime))

        worker = threading.Thread(target=put)
        worker.start()
        time.sleep(0.5)
        assert not done.is_set()
        with live.runtime.uow() as uow:  # the MKCALENDAR's collection, committed before the tree is free
            uow.session.add(
                DavCollectionRow(
                    path=path.strip("/"),
                    parent_path=f"{people.fitter.username}/appointments",
                    tag="VCALENDAR",
                    props={"tag": "VCALENDAR"},
                    epoch="0000",
                    revision=0,
                    created_at=utcnow(),
                    updated_at=utcnow(),
                )
            )
            uow.commit()
        probe.execute(text("SELECT pg_advisory_unlock(:k)"), tree)
        probe.commit()
        worker.join(30)
    assert done.is_set() and tree_free == [False]  # it went on holding the whole tree itself


def _free_in_thread(runtime: Runtime) -> bool:
    with runtime.engine.connect() as conn:
        return _free(conn, TREE_KEY, shared=True)


def _sync(dav: requests.Session, url: str, token: str) -> tuple[str, set[str]]:
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )
    response = dav.request("REPORT", url, data=body, headers={"Content-Type": "application/xml"}, timeout=30)
    assert response.status_code == 207, response.text
    root = ET.fromstring(response.content)
    hrefs = {(h.text or "").rsplit("/", 1)[-1] for h in root.iter("{DAV:}href")}
    return root.findtext("{DAV:}sync-token") or "", hrefs


def test_sync_tokens_stay_monotonic_and_gap_free_under_concurrent_writers(live: LiveServer, people: People) -> None:
    dav_a, url_a, id_a = _calendar(live, people.fitter.username, people.fitter.password)
    _, url_b, id_b = _calendar(live, people.other_fitter.username, people.other_fitter.password)
    first, _ = _sync(dav_a, url_a, "")
    written_a = [f"a{w}-{n}" for w in range(2) for n in range(8)]
    stop = threading.Event()
    syncer = dav_session(people.fitter.username, people.fitter.password)
    tokens: list[str] = []
    seen: set[str] = set()

    def reader() -> None:
        token = first
        while not stop.is_set():
            token, hrefs = _sync(syncer, url_a, token)
            tokens.append(token)
            seen.update(hrefs)

    def writer(dav: requests.Session, url: str, names: list[str], **kwargs: Any) -> None:
        for name in names:
            assert _put(dav, url, name, **kwargs).status_code == 201

    def fresh(person: Any) -> requests.Session:
        return dav_session(person.username, person.password)

    with ThreadPoolExecutor(5) as pool:
        sync_job = pool.submit(reader)
        jobs = [pool.submit(writer, fresh(people.fitter), url_a, written_a[w * 8 : (w + 1) * 8]) for w in range(2)]
        jobs += [
            pool.submit(
                writer, fresh(people.other_fitter), url_b, [f"b{w}-{n}" for n in range(8)], tzid="Europe/Berlin"
            )
            for w in range(2)
        ]
        for job in jobs:
            job.result(timeout=120)
        stop.set()
        sync_job.result(timeout=60)
    last, hrefs = _sync(dav_a, url_a, tokens[-1] if tokens else first)
    seen |= hrefs
    revisions_seen = [int(t.rsplit("-", 1)[1]) for t in tokens]
    assert len(tokens) > 1 and revisions_seen == sorted(revisions_seen)  # monotonic
    assert {f"{n}.ics" for n in written_a} <= seen  # every change reached the incremental syncs
    with live.runtime.uow() as uow:
        for collection_id, writes in ((id_a, 16), (id_b, 16)):
            row = uow.session.get(DavCollectionRow, collection_id)
            assert row is not None
            revisions = sorted(
                set(
                    uow.session.scalars(
                        select(DavChangeRow.revision).where(DavChangeRow.collection_id == collection_id)
                    )
                )
            )
            # one revision per write, consecutive, ending at the collection's own revision
            assert len(revisions) == writes and revisions == list(range(revisions[0], revisions[0] + writes))
            assert revisions[-1] == row.revision
        row_a = uow.session.get(DavCollectionRow, id_a)
        assert row_a is not None and int(last.rsplit("-", 1)[1]) == row_a.revision
