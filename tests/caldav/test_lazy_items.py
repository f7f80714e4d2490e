"""PROPFIND Depth:1 reads no item text unless the request asks for it; nor does an initial sync for ETags."""

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


def test_initial_sync_reads_no_text(live: LiveServer, people: People) -> None:
    """An initial sync asking for ETags is answered from the item listing (storage_plugin.listings):
    no text is read (Radicale's own REPORT serialised every item, even for getetag)."""
    url = f"{live.base_url}/dav/{people.fitter.username}/appointments/"
    dav = dav_session(people.fitter.username, people.fitter.password)
    for n in range(3):
        assert dav.put(url + f"s{n}.ics", data=event_ics(f"s{n}@lazy"), timeout=10).status_code == 201
    with texts_read(live) as seen:
        _, changed = sync(dav, url)
    assert seen == [] and set(changed) == {"s0.ics", "s1.ics", "s2.ics"}


def test_standalone_radicale_reads_depth1_texts_under_the_lock(tmp_path: Any) -> None:
    """Radicale without feeds.dav cannot say what a PROPFIND asks for: a Depth:1 discover then reads the
    texts in its own transaction (read lazily after the lock, a concurrent delete would fail the answer)."""
    from radicale import config as radicale_config
    from radicale import item as radicale_item
    from radicale import storage as radicale_storage

    from storage_plugin import request_state
    from storage_plugin.storage import LazyItem

    configuration = radicale_config.load()
    configuration.update(
        {"storage": {"type": "storage_plugin", "url": f"sqlite:///{tmp_path}/standalone.db"}}, "test", privileged=True
    )
    store = radicale_storage.load(configuration)
    request_state.local.request = None  # no wrapper: no request info at all
    with store.acquire_lock("w", "alice"):
        collection, _, _ = store.create_collection("/alice/cal/", props={"tag": "VCALENDAR"})
        item = radicale_item.Item(collection_path="alice/cal", text=event_ics("standalone@lazy"))
        collection.upload("standalone.ics", item)
    with store.acquire_lock("r", "alice"):
        found = list(store.discover("/alice/cal/", depth="1"))
    items = [i for i in found if isinstance(i, radicale_item.Item)]
    assert [i.href for i in items] == ["standalone.ics"]
    assert not isinstance(items[0], LazyItem) and "UID:standalone@lazy" in items[0].serialize()
