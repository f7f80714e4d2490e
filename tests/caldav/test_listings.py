"""The listings answered from SQL (storage_plugin.listings) against Radicale's own answers to the same requests.

Both apps run over the same database: ``feeds.dav.dav_application`` (the listings layer in front of
Radicale, what the service serves) and ``feeds.dav.radicale_application`` (Radicale alone). Their
multistatus documents are parsed and compared response by response (hrefs, statuses, every property's
status, text and children), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import insert, select
from werkzeug.test import EnvironBuilder, run_wsgi_app

from caldav_bridge.clock import utcnow
from caldav_bridge.runtime import Runtime
from caldav_bridge.store.dav_tables import DavCollectionRow, DavItemRow
from caldav_bridge.store.tables import AuditRow
from feeds.dav import dav_application, radicale_application
from storage_plugin import listings, multistatus
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.audit import audit_row_count, audit_trail, refuse_audit_writes
from tests.support.live import LiveServer

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
#: How the layer's documents begin (every namespace declared up front); Radicale's declare the ones used.
STREAMED = multistatus.HEAD.encode()


class Dav:
    """A WSGI app called in-process as the service mounts it (SCRIPT_NAME ``/dav``)."""

    def __init__(self, app: Any, username: str, password: str) -> None:
        self.app = app
        self.auth = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    def __call__(
        self, method: str, path: str, body: str = "", depth: str | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes, int]:
        """Status, headers, body and the number of chunks the body came in."""
        hdrs = {"Authorization": self.auth, **headers}
        if depth is not None:
            hdrs["Depth"] = depth
        assert path.startswith("/dav/")
        builder = EnvironBuilder(
            path=path.removeprefix("/dav"), method=method, data=body.encode(), headers=list(hdrs.items())
        )
        environ = builder.get_environ()
        environ["SCRIPT_NAME"] = "/dav"
        app_iter, status, response_headers = run_wsgi_app(self.app, environ, buffered=False)
        chunks = list(app_iter)
        if hasattr(app_iter, "close"):
            app_iter.close()
        return int(status.split()[0]), dict(response_headers), b"".join(chunks), len(chunks)


def _norm(element: ET.Element) -> Any:
    return (element.tag, (element.text or "").strip(), tuple(_norm(c) for c in element))


def parsed(body: bytes) -> dict[str, Any]:
    """href → (response status, {propstat status: {prop tag: normalised prop}}); plus the sync token."""
    root = ET.fromstring(body)
    out: dict[str, Any] = {}
    for response in root.findall(D + "response"):
        href = response.findtext(D + "href")
        status = response.findtext(D + "status")
        stats: dict[str, dict[str, Any]] = {}
        for propstat in response.findall(D + "propstat"):
            prop = propstat.find(D + "prop")
            assert prop is not None
            stats.setdefault(propstat.findtext(D + "status") or "", {}).update({p.tag: _norm(p) for p in prop})
        assert href not in out, f"{href} answered twice"
        out[href or ""] = (status, stats)
    token = root.findtext(D + "sync-token")
    if token is not None:
        out["sync-token"] = token
    return out


@pytest.fixture
def apps(runtime: Runtime, people: People) -> tuple[Dav, Dav]:
    fitter = people.fitter
    ours = Dav(dav_application(runtime), fitter.username, fitter.password)
    stock = Dav(radicale_application(runtime), fitter.username, fitter.password)
    return ours, stock


@pytest.fixture
def calendar(apps: tuple[Dav, Dav], people: People) -> str:
    """The fitter's appointment calendar with three events and a to-do (href path, trailing slash)."""
    _, stock = apps
    path = f"/dav/{people.fitter.username}/appointments/"
    for i in range(3):
        status, _, body, _ = stock(
            "PUT",
            f"{path}ev-{i}.ics",
            event_ics(f"ev-{i}", start=f"2026120{i + 1}T090000", end=f"2026120{i + 1}T100000"),
            **{"Content-Type": "text/calendar"},
        )
        assert status == 201, body
    todo = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
        "BEGIN:VTODO\r\nUID:todo-1\r\nSUMMARY:Order batteries\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )
    status, _, body, _ = stock("PUT", f"{path}todo-1.ics", todo, **{"Content-Type": "text/calendar"})
    assert status == 201, body
    return path


def propfind(*props: str) -> str:
    return f'<?xml version="1.0"?><D:propfind {NS}><D:prop>{"".join(props)}</D:prop></D:propfind>'


def sync(token: str = "", props: str = "<D:getetag/>") -> str:
    return (
        f'<?xml version="1.0"?><D:sync-collection {NS}><D:sync-token>{token}</D:sync-token>'
        f"<D:sync-level>1</D:sync-level><D:prop>{props}</D:prop></D:sync-collection>"
    )


def multiget(hrefs: Iterable[str], props: str = "<D:getetag/><C:calendar-data/>") -> str:
    refs = "".join(f"<D:href>{h}</D:href>" for h in hrefs)
    return f'<?xml version="1.0"?><C:calendar-multiget {NS}><D:prop>{props}</D:prop>{refs}</C:calendar-multiget>'


def same_answer(apps: tuple[Dav, Dav], method: str, path: str, body: str, depth: str | None = None) -> dict[str, Any]:
    ours, stock = apps
    a_status, a_headers, a_body, _ = ours(method, path, body, depth)
    b_status, b_headers, b_body, _ = stock(method, path, body, depth)
    assert a_status == b_status == 207, (a_status, b_status, a_body[:300], b_body[:300])
    assert a_headers["Content-Type"] == b_headers["Content-Type"]
    assert a_headers.get("DAV") == b_headers.get("DAV")
    assert a_body.startswith(STREAMED) and not b_body.startswith(STREAMED)  # answered by the layer, not Radicale
    mine, theirs = parsed(a_body), parsed(b_body)
    assert mine == theirs
    return mine


PROPFINDS = [
    ("<D:getetag/>", "<D:getcontenttype/>"),
    ("<D:resourcetype/>", "<D:getetag/>", "<D:displayname/>"),
    (
        "<D:getlastmodified/>",
        "<D:current-user-privilege-set/>",
        "<D:owner/>",
        "<D:supported-report-set/>",
        "<D:current-user-principal/>",
        "<D:principal-collection-set/>",
        "<C:calendar-data/>",
        "<C:max-resource-size/>",
        '<X:color xmlns:X="http://example.com/ns/"/>',
        "<C:supported-calendar-component-set/>",
        "<D:sync-token/>",
    ),
]


@pytest.mark.parametrize("props", PROPFINDS)
def test_propfind_depth1_is_radicales_answer(apps: tuple[Dav, Dav], calendar: str, props: tuple[str, ...]) -> None:
    answer = same_answer(apps, "PROPFIND", calendar, propfind(*props), depth="1")
    assert len(answer) == 5  # the collection and its four items


def test_sync_collection_initial_incremental_and_invalid_token(apps: tuple[Dav, Dav], calendar: str) -> None:
    _, stock = apps
    first = same_answer(apps, "REPORT", calendar, sync(props="<D:getetag/><D:getcontenttype/><D:displayname/>"))
    assert len(first) == 5  # four items and the token
    token = first["sync-token"]
    # Nothing changed: only the token.
    assert same_answer(apps, "REPORT", calendar, sync(token)) == {"sync-token": token}
    # One changed, one deleted, one added.
    status, _, _, _ = stock(
        "PUT", f"{calendar}ev-1.ics", event_ics("ev-1", summary="Moved"), **{"Content-Type": "text/calendar"}
    )
    assert status == 204
    assert stock("DELETE", f"{calendar}ev-2.ics")[0] == 200
    assert stock("PUT", f"{calendar}ev-9.ics", event_ics("ev-9"), **{"Content-Type": "text/calendar"})[0] == 201
    delta = same_answer(apps, "REPORT", calendar, sync(token))
    assert sorted(delta) == sorted([f"{calendar}ev-1.ics", f"{calendar}ev-2.ics", f"{calendar}ev-9.ics", "sync-token"])
    assert delta[f"{calendar}ev-2.ics"][0] == "HTTP/1.1 404 Not Found"
    # A token we never issued: Radicale's precondition, from either app.
    for app in apps:
        status, _, body, _ = app("REPORT", calendar, sync("http://radicale.org/ns/sync/nope-1"))
        assert status == 403
        assert ET.fromstring(body).find(D + "valid-sync-token") is not None


def test_multiget_is_radicales_answer_and_audited(
    apps: tuple[Dav, Dav], calendar: str, runtime: Runtime, people: People
) -> None:
    ours, _ = apps
    hrefs = [
        f"{calendar}ev-0.ics",
        f"{calendar}ev-1.ics",
        f"{calendar}todo-1.ics",
        f"{calendar}missing.ics",
        f"/dav/{people.other_fitter.username}/appointments/x.ics",  # not in this collection: 404
        "/elsewhere/x.ics",  # outside /dav: skipped
    ]
    answer = same_answer(apps, "REPORT", calendar, multiget(hrefs, "<D:getetag/><C:calendar-data/><D:owner/>"))
    assert answer[f"{calendar}missing.ics"][0] == "HTTP/1.1 404 Not Found"
    assert "BEGIN:VEVENT" in answer[f"{calendar}ev-0.ics"][1]["HTTP/1.1 200 OK"][C + "calendar-data"][1]
    before = _audited(runtime)
    status, _, _, _ = ours("REPORT", calendar, multiget(hrefs[:3]), None, **{"X-Request-Id": "multiget-req"})
    assert status == 207
    rows = _audited(runtime) - before
    assert rows == {("multiget-req", people.fitter.username)}
    # the two events are appointments; the to-do is not
    assert len(audit_trail(runtime, AuditRow.request_id == "multiget-req")) == 2


def test_a_multiget_whose_audit_fails_sends_no_data(apps: tuple[Dav, Dav], calendar: str, runtime: Runtime) -> None:
    ours, _ = apps
    refuse_audit_writes(runtime.engine)
    before = audit_row_count(runtime.engine)
    status, _, body, _ = ours("REPORT", calendar, multiget([f"{calendar}ev-0.ics", f"{calendar}ev-1.ics"]))
    assert status == 503
    assert b"VCALENDAR" not in body and b"ev-0" not in body
    assert audit_row_count(runtime.engine) == before
    # An ETag listing audits nothing, so it is answered as usual.
    assert ours("REPORT", calendar, sync())[0] == 207


def test_etag_listings_write_no_audit_rows(apps: tuple[Dav, Dav], calendar: str, runtime: Runtime) -> None:
    ours, _ = apps
    before = audit_row_count(runtime.engine)
    assert ours("PROPFIND", calendar, propfind("<D:getetag/>"), "1")[0] == 207
    assert ours("REPORT", calendar, sync())[0] == 207
    assert ours("REPORT", calendar, multiget([f"{calendar}ev-0.ics"], "<D:getetag/>"))[0] == 207
    assert audit_row_count(runtime.engine) == before


def _audited(runtime: Runtime) -> set[tuple[str | None, str | None]]:
    return {(a.request_id, a.actor) for a in audit_trail(runtime, AuditRow.channel == "caldav")}


def test_refusals_are_radicales(apps: tuple[Dav, Dav], calendar: str, runtime: Runtime, people: People) -> None:
    ours, stock = apps
    ours.app.sleep = lambda _s: None
    wrong = Dav(ours.app, people.fitter.username, "wrong-password")
    wrong_stock = Dav(stock.app, people.fitter.username, "wrong-password")
    for body, depth in ((propfind("<D:getetag/>"), "1"), (sync(), None), (multiget([f"{calendar}ev-0.ics"]), None)):
        method = "PROPFIND" if depth else "REPORT"
        a = wrong(method, calendar, body, depth)
        b = wrong_stock(method, calendar, body, depth)
        assert a[0] == b[0] == 401
        assert a[1]["WWW-Authenticate"] == b[1]["WWW-Authenticate"]
        assert a[2] == b[2]
        # Another fitter's calendar: refused as Radicale refuses it.
        other = Dav(ours.app, people.other_fitter.username, people.other_fitter.password)
        other_stock = Dav(stock.app, people.other_fitter.username, people.other_fitter.password)
        a = other(method, calendar, body, depth)
        b = other_stock(method, calendar, body, depth)
        assert a[0] == b[0] == 403
        assert a[2] == b[2]


def _insert_items(runtime: Runtime, collection: str, n: int, href: str, component: str, text: str) -> None:
    """``n`` items of one ``text`` written straight into the collection at path ``collection`` (no appointment):
    hrefs ``href.format(i)``, UIDs and ETags ``bulk-i``."""
    with runtime.engine.begin() as conn:
        collection_id = conn.scalar(select(DavCollectionRow.id).where(DavCollectionRow.path == collection))
        rows = [
            {
                "collection_id": collection_id,
                "href": href.format(i),
                "uid": f"bulk-{i}",
                "component": component,
                "text": text,
                "etag": f'"bulk-{i}"',
                "time_start": 0,
                "time_end": 1,
                "long_span": False,
                "appointment_id": None,
                "updated_at": utcnow(),
            }
            for i in range(n)
        ]
        conn.execute(insert(DavItemRow), rows)


def test_a_large_listing_is_streamed_in_chunks(apps: tuple[Dav, Dav], calendar: str, runtime: Runtime) -> None:
    ours, _ = apps
    n = listings._CHUNK * 3
    todo = "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:x\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    _insert_items(runtime, calendar.removeprefix("/dav/").strip("/"), n, "bulk-{:05d}.ics", "VTODO", todo)
    status, _, body, chunks = ours("PROPFIND", calendar, propfind("<D:getetag/>"), "1")
    assert status == 207
    assert chunks >= 3
    assert len(parsed(body)) == n + 5
    same_answer(apps, "REPORT", calendar, sync())


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_repeated_large_syncs_keep_memory_flat(live: LiveServer, people: People, runtime: Runtime) -> None:
    """Radicale's sync of a large calendar built the whole answer and every item: the server's memory rose
    with each one. Streamed, eight syncs of 20k items over the live server (8 threads) leave it flat."""
    fitter = people.fitter
    dav = dav_session(fitter.username, fitter.password)
    url = f"{live.base_url}/dav/{fitter.username}/appointments/"
    assert dav.request("PROPFIND", url, data=propfind("<D:getetag/>"), headers={"Depth": "1"}).status_code == 207
    n = 20_000
    _insert_items(
        runtime, f"{fitter.username}/appointments", n, "bulk-{:06d}@example.com.ics", "VEVENT", event_ics("bulk")
    )
    sizes = []
    for _ in range(8):
        response = dav.request("REPORT", url, data=sync(), headers={"Depth": "1"}, timeout=120)
        assert response.status_code == 207
        assert response.content.count(b"<response>") == n
        sizes.append(_rss_mb())
    assert sizes[-1] - sizes[0] < 15, sizes
