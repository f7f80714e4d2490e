"""A stored item larger than the PUT bound (``feeds.dav.MAX_RESOURCE_BYTES``) is still served over CalDAV.

The bound is Radicale's ``max_resource_size``: it bounds what a client may PUT (refused before the body is parsed,
403 ``C:max-resource-size``). Radicale's own file storage also skips files above it on every read, and our
storage and listings did the same, so an item stored when PUTs were bounded at ~800 KB, or written by a path
without that bound, dropped out of a phone's sync: missing from PROPFIND and the initial sync, 404 to GET,
multiget and an incremental sync. Real HTTP (requests and python-caldav) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import icalendar
import requests

from caldav_bridge.dav.collections import DavStore
from caldav_bridge.dav.records import NewItem
from caldav_bridge.dav.render import etag_of_text, utc_seconds
from caldav_bridge.runtime import Runtime
from feeds.dav import MAX_RESOURCE_BYTES
from storage_plugin.storage import dav_actor
from tests.caldav.conftest import client_for
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People
from tests.support.factories import appointment_body
from tests.support.live import LiveServer

D = "{DAV:}"
NS = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'
HREF = "large-vacation.ics"
#: A DESCRIPTION of 300 KB (folded in the text, escaped newlines included): above the bound of 256 KiB.
NOTES = ("Packing list line with some words in it.\n" * 7700)[:300_000]


def _vacation(uid: str) -> str:
    """Three weeks off (longer than an appointment may last: a calendar-only event, stored as written)."""
    event = icalendar.Event()
    event.add("UID", uid)
    event.add("DTSTAMP", datetime(2026, 11, 1, tzinfo=UTC))
    event.add("DTSTART", datetime(2026, 12, 1, 9, tzinfo=UTC))
    event.add("DTEND", datetime(2026, 12, 22, 9, tzinfo=UTC))
    event.add("SUMMARY", "Vacation")
    event.add("DESCRIPTION", NOTES)
    cal = icalendar.Calendar()
    cal.add("VERSION", "2.0")
    cal.add("PRODID", "-//tests//large//EN")
    cal.add_component(event)
    return cal.to_ical().decode()


def _store_large_item(runtime: Runtime, people: People) -> str:
    """Stores the vacation through the store (no PUT), as an earlier bound or another write path left it."""
    text = _vacation("large-vacation@test")
    assert len(text.encode()) > MAX_RESOURCE_BYTES
    start, end = datetime(2026, 12, 1, 9, tzinfo=UTC), datetime(2026, 12, 22, 9, tzinfo=UTC)
    item = NewItem("large-vacation@test", "VEVENT", text, etag_of_text(text), utc_seconds(start), utc_seconds(end))
    with runtime.uow() as uow:
        store = DavStore(uow, dav_actor(people.fitter.username))
        collection = store.collection(f"{people.fitter.username}/appointments")
        assert collection is not None
        stored, _ = store.upload(collection, HREF, item)
        uow.commit()
    return stored.etag


def _report(session: requests.Session, url: str, body: str) -> ET.Element:
    response = session.request(
        "REPORT", url, data=body.encode(), headers={"Depth": "1", "Content-Type": "application/xml"}, timeout=30
    )
    assert response.status_code == 207, response.text[:500]
    return ET.fromstring(response.content)


def _answers(root: ET.Element) -> dict[str, str]:
    """href (last segment) → the response's own status, or its first propstat's."""
    out = {}
    for response in root.findall(D + "response"):
        href = (response.findtext(D + "href") or "").rstrip("/").rsplit("/", 1)[-1]
        out[href] = response.findtext(D + "status") or response.findtext(f"{D}propstat/{D}status") or ""
    return out


def _description(text: str) -> str:
    return str(icalendar.Calendar.from_ical(text).walk("VEVENT")[0]["DESCRIPTION"])


def test_an_item_above_the_put_bound_stored_by_the_store_is_served(live: LiveServer, people: People) -> None:
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    session = dav_session(people.fitter.username, people.fitter.password)
    calendar = client_for(live, people.fitter.username, people.fitter.password).principal().calendars()[0]
    initial = calendar.objects_by_sync_token(load_objects=False)

    etag = _store_large_item(live.runtime, people)

    # GET
    got = session.get(url + HREF, timeout=30)
    assert got.status_code == 200
    assert got.headers["ETag"] == etag
    assert _description(got.text) == NOTES
    # PROPFIND Depth 1 (the listing a client starts from)
    listed = session.request(
        "PROPFIND",
        url,
        data=f'<?xml version="1.0"?><D:propfind {NS}><D:prop><D:getetag/></D:prop></D:propfind>'.encode(),
        headers={"Depth": "1"},
        timeout=30,
    )
    assert listed.status_code == 207
    assert _answers(ET.fromstring(listed.content)).get(HREF) == "HTTP/1.1 200 OK"
    # calendar-multiget with the data
    multiget = _report(
        session,
        url,
        f'<?xml version="1.0"?><C:calendar-multiget {NS}><D:prop><D:getetag/><C:calendar-data/></D:prop>'
        f"<D:href>/dav/{people.fitter.username}/appointments/{HREF}</D:href></C:calendar-multiget>",
    )
    assert _answers(multiget) == {HREF: "HTTP/1.1 200 OK"}
    data = multiget.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data") or ""
    assert _description(data) == NOTES
    # calendar-query over its days (Radicale's filtered read: get_filtered)
    query = _report(
        session,
        url,
        f'<?xml version="1.0"?><C:calendar-query {NS}><D:prop><D:getetag/></D:prop><C:filter>'
        '<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:time-range start="20261210T000000Z" end="20261211T000000Z"/></C:comp-filter></C:comp-filter>'
        "</C:filter></C:calendar-query>",
    )
    assert _answers(query) == {HREF: "HTTP/1.1 200 OK"}
    # sync-collection: an incremental sync from before it was stored, and an initial one (python-caldav)
    delta = calendar.objects_by_sync_token(sync_token=initial.sync_token, load_objects=True)
    assert [str(o.url).rsplit("/", 1)[-1] for o in delta] == [HREF]
    assert _description(next(iter(delta)).data) == NOTES
    everything = calendar.objects_by_sync_token(load_objects=False)
    assert HREF in [str(o.url).rsplit("/", 1)[-1] for o in everything]


def test_a_put_above_the_bound_is_still_refused_before_it_is_parsed(live: LiveServer, people: People) -> None:
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/put-large.ics"
    session = dav_session(people.fitter.username, people.fitter.password)
    body = _vacation("put-large@test").encode()
    put = session.put(url, data=body, headers={"Content-Type": "text/calendar"}, timeout=30)
    assert put.status_code == 403
    assert "max-resource-size" in put.text
    assert session.get(url, timeout=30).status_code == 404
    # the same event within the bound is stored
    small = event_ics("put-small@test", extra="DESCRIPTION:" + "x" * 1000 + "\r\n")
    assert session.put(url, data=small.encode(), headers={"Content-Type": "text/calendar"}, timeout=30).ok


def test_rest_and_ical_import_refuse_a_300_kb_description(live: LiveServer, people: People) -> None:
    """The canonical model bounds a description (8,000 characters): REST answers 422 and the import refuses the
    item, so neither writes an appointment whose item comes near the CalDAV bound."""
    api = live.client(people.admin.token)
    created = api.post(
        "/api/v1/appointments", json=appointment_body(people.fitter.calendar_id or "", description=NOTES)
    )
    assert created.status_code == 422, created.text[:500]
    assert created.headers["Content-Type"].startswith("application/problem+json")
    assert "description" in created.text
    ics = _vacation("import-large@test").replace("DTEND:20261222T090000Z", "DTEND:20261201T100000Z")
    imported = api.post(
        "/api/v1/import/ical",
        data=ics.encode(),
        headers={"Content-Type": "text/calendar"},
        params={"calendar_id": people.fitter.calendar_id},
    )
    assert imported.status_code == 200, imported.text[:500]
    (result,) = imported.json()["results"]
    assert result["status"] == "error", result
    assert [e["field"] for e in result["errors"]] == ["description"]
    listed = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id})
    assert listed.status_code == 200
    assert listed.json()["items"] == []
