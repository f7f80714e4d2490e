"""PROPFIND Depth:1 reads no item text unless the request asks for it; an initial sync reads each once."""

from __future__ import annotations

import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event as sa_event

from tests.caldav.support import dav_session, event_ics
from tests.caldav.test_sync_expiry import sync
from tests.conftest import People
from tests.support.live import LiveServer

D = "{DAV:}"
PROPS = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{}</D:prop></D:propfind>'


@contextmanager
def texts_read(live: LiveServer) -> Iterator[list[str]]:
    """The SQL statements that read ``dav_items.text`` while the block runs (any thread)."""
    seen: list[str] = []
    lock = threading.Lock()

    def hook(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"(?<!length\()dav_items\.text\b", statement) and statement.lstrip().upper().startswith("SELECT"):
            with lock:
                seen.append(statement)

    sa_event.listen(live.runtime.engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        sa_event.remove(live.runtime.engine, "before_cursor_execute", hook)


def _propfind(dav: Any, url: str, body: str) -> dict[str, dict[str, str]]:
    response = dav.request("PROPFIND", url, data=body, headers={"Depth": "1"}, timeout=10)
    assert response.status_code == 207, response.text
    out: dict[str, dict[str, str]] = {}
    for r in ET.fromstring(response.content).findall(f"{D}response"):
        href = (r.findtext(f"{D}href") or "").rstrip("/").rsplit("/", 1)[-1]
        props = r.find(f"{D}propstat/{D}prop")
        out[href] = {p.tag.split("}")[1]: p.text or "" for p in (props if props is not None else [])}
    return out


def test_propfind_for_etags_reads_no_text(live: LiveServer, people: People) -> None:
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    etags = {}
    for n in range(3):
        put = dav.put(url + f"e{n}.ics", data=event_ics(f"e{n}@lazy"), timeout=10)
        assert put.status_code == 201
        etags[f"e{n}.ics"] = put.headers["ETag"]
    with texts_read(live) as seen:
        found = _propfind(dav, url, PROPS.format("<D:getetag/><D:getcontenttype/>"))
    assert seen == []
    assert {h: p["getetag"] for h, p in found.items() if h.endswith(".ics")} == etags
    assert found["e0.ics"]["getcontenttype"] == "text/calendar;charset=utf-8;component=VEVENT"
    # getcontentlength and allprop need the texts: they are read, and the lengths are right
    lengths = {h: str(len(dav.get(url + h, timeout=10).content)) for h in etags}
    with texts_read(live) as seen:
        found = _propfind(dav, url, PROPS.format("<D:getetag/><D:getcontentlength/>"))
    assert seen and {h: p["getcontentlength"] for h, p in found.items() if h in etags} == lengths
    allprop = '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
    assert {h: p["getcontentlength"] for h, p in _propfind(dav, url, allprop).items() if h in etags} == lengths


def test_initial_sync_reads_each_text_once(live: LiveServer, people: People) -> None:
    """The token's href list is read without texts; Radicale's REPORT then needs every text (it
    serialises items even for getetag), read once."""
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    for n in range(3):
        assert dav.put(url + f"s{n}.ics", data=event_ics(f"s{n}@lazy"), timeout=10).status_code == 201
    with texts_read(live) as seen:
        _, changed = sync(dav, url)
    assert len(seen) == 1 and set(changed) == {"s0.ics", "s1.ics", "s2.ics"}
