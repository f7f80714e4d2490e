"""Crafted input on every other channel, SQLite and PostgreSQL: the same budget as tests/hostile/test_hostile_inputs.py.

OLS, the iCal feeds (tokens, query parameters), the calendar page, bookings, the self-booking pages and forms,
the interchange import over REST and the CLI (huge, deeply nested, many-record and hostile .ics files),
webhook registration, CalDAV REPORTs (time ranges, expand, sync tokens, multiget of thousands of hrefs) and
PROPFIND bodies (XML entity bombs). Each request gets its 4xx (or its ordinary answer), costs the server
less than CPU_BUDGET of CPU, and leaves the store as it was.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests

from caldav_bridge.converters.ical_items import IcalOptions
from caldav_bridge.runtime import Runtime
from config import Settings
from feeds.api.interchange import MAX_ITEMS
from tests.caldav.support import event_ics
from tests.converters.support import load_fixture
from tests.support.cli import in_process, process
from tests.support.cpu import CPU_BUDGET
from tests.support.hostile import Door, Request, count_parses, failures, fingerprint, record
from tests.support.live import LiveServer

CALDAV = "urn:ietf:params:xml:ns:caldav"


def _query(start: str, end: str, expand: bool = False) -> str:
    data = f'<C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>' if expand else ""
    return (
        f'<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="{CALDAV}">'
        f'<D:prop><D:getetag/>{data}</D:prop><C:filter><C:comp-filter name="VCALENDAR">'
        f'<C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter>'
        "</C:comp-filter></C:filter></C:calendar-query>"
    )


def _sync(token: str) -> str:
    return (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


def _multiget(hrefs: list[str]) -> str:
    return (
        f'<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="{CALDAV}">'
        "<D:prop><D:getetag/><C:calendar-data/></D:prop>"
        + "".join(f"<D:href>{h}</D:href>" for h in hrefs)
        + ("</C:calendar-multiget>")
    )


LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + ']><D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&lol9;</D:displayname></D:prop></D:propfind>'
)
EXTERNAL = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
    '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname>&ext;</D:displayname></D:prop></D:propfind>'
)

CALDAV_REPORTS: dict[str, tuple[Request, set[int]]] = {
    "time range over ten thousand years": (
        lambda d: d.dav("REPORT", _query("00010101T000000Z", "99991231T235959Z")),
        {207, 400, 403},
    ),
    "expand over ten thousand years": (
        lambda d: d.dav("REPORT", _query("00010101T000000Z", "99991231T235959Z", expand=True)),
        {207, 400, 403},
    ),
    "time range unreadable": (lambda d: d.dav("REPORT", _query("yesterday", "tomorrow")), {400, 403}),
    "time range backwards": (
        lambda d: d.dav("REPORT", _query("20271231T000000Z", "20260101T000000Z")),
        {207, 400, 403},
    ),
    "sync token garbage": (lambda d: d.dav("REPORT", _sync("not-a-token")), {400, 403}),
    "sync token from the future": (
        lambda d: d.dav("REPORT", _sync("http://radicale.org/ns/sync/00000000-99999999999999999999")),
        {400, 403},
    ),
    "sync token of 100 KB": (
        lambda d: d.dav("REPORT", _sync("http://radicale.org/ns/sync/" + "a" * 100_000)),
        {400, 403, 413},
    ),
    "multiget of five thousand hrefs": (
        lambda d: d.dav("REPORT", _multiget([f"/dav/x/appointments/{i}.ics" for i in range(5000)])),
        {207, 400, 403},
    ),
    "multiget of hrefs outside the collection": (
        lambda d: d.dav("REPORT", _multiget(["/dav/../../etc/passwd", "/dav/fitter.berlin/appointments/x.ics"] * 100)),
        {207, 400, 403},
    ),
    "REPORT of a nested 10k-deep filter": (
        lambda d: d.dav("REPORT", '<?xml version="1.0"?>' + "<a>" * 10_000 + "</a>" * 10_000),
        {400, 403, 415, 501},
    ),
    "PROPFIND entity expansion (billion laughs)": (lambda d: d.dav("PROPFIND", LAUGHS), {400, 403}),
    "PROPFIND external entity": (lambda d: d.dav("PROPFIND", EXTERNAL), {400, 403}),
    "PROPFIND not XML": (lambda d: d.dav("PROPFIND", "<D:propfind"), {400}),
}


def _ols(d: Door, method: str, path: str, **kwargs: Any) -> requests.Response:
    return d.api(method, "/ols" + path, **kwargs)


OLS: dict[str, tuple[Request, set[int]]] = {
    "OLS list with a cursor of garbage": (
        lambda d: _ols(d, "GET", "/appointments", params={"cursor": "%" * 500}),
        {400, 422},
    ),
    "OLS list with a limit of a billion": (
        lambda d: _ols(d, "GET", "/appointments", params={"limit": "1000000000"}),
        {400, 422},
    ),
    "OLS list with updated_since year zero": (
        lambda d: _ols(d, "GET", "/appointments", params={"updated_since": "0000-01-01T00:00:00Z"}),
        {400, 422},
    ),
    "OLS list with an unknown parameter": (
        lambda d: _ols(d, "GET", "/appointments", params={"x" * 5000: "1"}),
        {400, 422},
    ),
    "OLS opportunity of 64 KB": (
        lambda d: _ols(d, "GET", "/opportunities/" + "0" * 65_536 + "/appointments"),
        {400, 404, 414, 422},
    ),
    "OLS create nested 100k deep": (
        lambda d: _ols(
            d,
            "POST",
            "/appointments",
            data=b"{" * 1 + b'"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            headers={"Content-Type": "application/json"},
        ),
        {400, 413, 422},
    ),
    "OLS create with year zero": (
        lambda d: _ols(
            d,
            "POST",
            "/appointments",
            json={
                "calendar_id": d.people.fitter.calendar_id,
                "start": "0000-01-01T00:00:00Z",
                "end": "0000-01-01T01:00:00Z",
            },
        ),
        {400, 422},
    ),
    "OLS patch of an id of 64 KB": (
        lambda d: _ols(d, "PATCH", "/appointments/" + "z" * 65_536, json={"name": "x"}),
        {400, 404, 414, 422},
    ),
}

BOOKINGS: dict[str, tuple[Request, set[int]]] = {
    "booking for a century": (
        lambda d: d.api(
            "POST",
            "/api/v1/bookings/initial",
            token=d.people.dispatcher.token,
            json={"date_start": "2026-01-01T00:00:00Z", "date_end": "2126-01-01T00:00:00Z", "name": "x"},
        ),
        {400, 404, 409, 422},
    ),
    "booking nested 100k deep": (
        lambda d: d.api(
            "POST",
            "/api/v1/bookings/initial",
            token=d.people.dispatcher.token,
            data=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json"},
        ),
        {400, 413, 422},
    ),
    "booking with ten thousand guests": (
        lambda d: d.api(
            "POST",
            "/api/v1/bookings/initial",
            token=d.people.dispatcher.token,
            json={
                "date_start": "2026-12-01T09:00:00Z",
                "date_end": "2026-12-01T10:00:00Z",
                "name": "x",
                "guests": [{"id": f"g{i}", "first_name": "x" * 50} for i in range(10_000)],
            },
        ),
        {400, 413, 422},
    ),
    "tech-setup of an id of 64 KB": (
        lambda d: d.api(
            "POST", "/api/v1/bookings/" + "q" * 65_536 + "/tech-setup", token=d.people.dispatcher.token, json={}
        ),
        {400, 404, 414, 422},
    ),
    "self-booking page of a token of 64 KB": (
        lambda d: requests.get(d.live.base_url + "/book/" + "t" * 65_536, timeout=60),
        {400, 404, 414},
    ),
    "self-booking page with hostile query": (
        lambda d: requests.get(
            d.live.base_url + "/book/nope",
            params={"week": "9999-99-99", "tz": "../../etc/passwd", "lang": "x" * 5000},
            timeout=60,
        ),
        {400, 404},
    ),
    "self-booking hold form of a megabyte": (
        lambda d: requests.post(
            d.live.base_url + "/book/nope/hold", data={"start": "x" * 900_000, "first_name": "y" * 100_000}, timeout=60
        ),
        {400, 403, 404, 413},
    ),
    "self-booking confirm form with 10k fields": (
        lambda d: requests.post(
            d.live.base_url + "/book/nope/confirm", data={f"f{i}": "v" for i in range(10_000)}, timeout=60
        ),
        {400, 403, 404, 413},
    ),
    "manage page of a token of 64 KB": (
        lambda d: requests.get(d.live.base_url + "/manage/" + "m" * 65_536, timeout=60),
        {400, 404, 414},
    ),
    "manage cancel of garbage": (
        lambda d: requests.post(d.live.base_url + "/manage/%00%ff/cancel", data={"x": "y"}, timeout=60),
        {400, 403, 404},
    ),
}


def feeds_and_pages(secret: str) -> dict[str, tuple[Request, set[int]]]:
    return {
        "feed of a token of 64 KB": (
            lambda d: requests.get(d.live.base_url + "/feeds/" + "f" * 65_536 + ".ics", timeout=60),
            {400, 401, 404, 414},
        ),
        "feed of a token with NULs": (
            lambda d: requests.get(d.live.base_url + "/feeds/%00%00%ff.ics", timeout=60),
            {400, 401, 404},
        ),
        "feed for ten thousand years": (
            lambda d: requests.get(
                d.live.base_url + f"/feeds/{secret}.ics",
                params={"from": "0001-01-01", "to": "9999-12-31", "past_days": "99999999"},
                timeout=60,
            ),
            {200, 400, 422},
        ),
        "feed with 5,000 query parameters": (
            lambda d: requests.get(
                d.live.base_url + f"/feeds/{secret}.ics?" + "&".join(f"p{i}=1" for i in range(5000)), timeout=60
            ),
            {200, 400, 414, 431},
        ),
        "page with an impossible week": (
            lambda d: requests.get(
                d.live.base_url + f"/calendar/{secret}",
                params={"week": "9999-W99", "date": "0000-00-00", "view": "x" * 5000},
                timeout=60,
            ),
            {200, 400, 422},
        ),
        "page in a zone that is a path": (
            lambda d: requests.get(
                d.live.base_url + f"/calendar/{secret}", params={"tz": "../../etc/passwd"}, timeout=60
            ),
            {200, 400, 422},
        ),
        "page JSON for ten thousand years": (
            lambda d: requests.get(
                d.live.base_url + f"/calendar/{secret}.json",
                params={"from": "0001-01-01", "to": "9999-12-31"},
                timeout=60,
            ),
            {200, 400, 422},
        ),
        "page of a token of 64 KB": (
            lambda d: requests.get(d.live.base_url + "/calendar/" + "p" * 65_536, timeout=60),
            {400, 401, 404, 414},
        ),
    }


def _import(d: Door, fmt: str, body: bytes, content_type: str = "application/json", **params: str) -> requests.Response:
    return d.send("POST", f"/api/v1/import/{fmt}", body, content_type, params=params or None)


def _many(n: int) -> bytes:
    return json.dumps([{"id": f"r{i}", "start": "x"} for i in range(n)]).encode()


def _vevent(uid: str, extra: str) -> str:
    text = event_ics(uid, extra=extra)
    return text[text.index("BEGIN:VEVENT") : text.index("END:VCALENDAR")]


HOSTILE_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
    + "".join(_vevent(f"{i}@bad", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n") for i in range(200))
    + "END:VCALENDAR\r\n"
)
FLAT_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
    + "".join(_vevent(f"{i}@flat", "") for i in range(3_000))
    + "END:VCALENDAR\r\n"
)
LINES_ICS = event_ics("lines@import", extra="X-A:1\r\n" * 140_000)
#: One EXDATE line of 15,000 values, one RRULE of 80,000 BYMONTHDAY values: within the line bounds, each over a second.
DATES_ICS = event_ics(
    "dates@import",
    extra="RRULE:FREQ=DAILY\r\nEXDATE:"
    + ",".join(f"2027{n % 12 + 1:02d}{n % 28 + 1:02d}T{n % 24:02d}0000Z" for n in range(15_000))
    + "\r\n",
)
BYMONTHDAY_ICS = event_ics(
    "bymonthday@import",
    extra="RRULE:FREQ=MONTHLY;BYMONTHDAY=" + ",".join(str(n % 28 + 1) for n in range(80_000)) + "\r\n",
)
#: Rules no arithmetic check refuses (29 February on a Monday: once in 28 years) that never reach the window:
#: each scanned its years alone (1,000 of them: 1.8 s of CPU) before the file's scan budget (IcalOptions).
RARE_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
    + "".join(
        f"BEGIN:VEVENT\r\nUID:{i}@rare\r\nDTSTART:20261201T090000Z\r\n"
        "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO\r\nEND:VEVENT\r\n"
        for i in range(MAX_ITEMS)
    )
    + "END:VCALENDAR\r\n"
)
NESTED_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "BEGIN:VEVENT\r\n" * 20_000 + "END:VEVENT\r\n" * 20_000 + "END:VCALENDAR\r\n"
)

#: The most events a request may import, each a valid appointment (compact, within MAX_ICS_LINES).
MOST_ICS = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\n"
    + "".join(
        f"BEGIN:VEVENT\r\nUID:{i}@most\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T{9 + i % 8:02d}0000Z\r\n"
        f"DTEND:20261201T{9 + i % 8:02d}3000Z\r\nSUMMARY:Visit {i}\r\nEND:VEVENT\r\n"
        for i in range(MAX_ITEMS)
    )
    + "END:VCALENDAR\r\n"
)
MOST_RECORDS = json.dumps([{**load_fixture("blueprint.json"), "appointment_id": f"m{i}"} for i in range(MAX_ITEMS)])

#: Files refused on the counts of their raw bytes, before they are parsed (0.96 s and 3 s of CPU before).
ICS_OVER_PARSE_BOUNDS: dict[str, tuple[Request, set[int]]] = {
    "import of 3,000 VEVENTs (.ics)": (lambda d: _import(d, "ical", FLAT_ICS.encode(), "text/calendar"), {422}),
    "import of an event of 140,000 lines (.ics)": (
        lambda d: _import(d, "ical", LINES_ICS.encode(), "text/calendar"),
        {422},
    ),
    "import of an EXDATE line of 15,000 values (.ics)": (
        lambda d: _import(d, "ical", DATES_ICS.encode(), "text/calendar"),
        {422},
    ),
    "import of an RRULE of 80,000 BYMONTHDAY values (.ics)": (
        lambda d: _import(d, "ical", BYMONTHDAY_ICS.encode(), "text/calendar"),
        {422},
    ),
}

IMPORTS: dict[str, tuple[Request, set[int]]] = {
    "import nested 100k deep": (lambda d: _import(d, "ols", b"[" * 100_000 + b"]" * 100_000), {400, 413, 422}),
    "import of a megabyte and a half": (lambda d: _import(d, "ols", b'[{"id":"' + b"x" * 1_500_000 + b'"}]'), {413}),
    "import of 20,000 bad records, atomic": (
        lambda d: _import(d, "ols", _many(20_000), atomic="true"),
        {200, 400, 413, 422},
    ),
    "import of the most bad records a request may carry, atomic": (
        lambda d: _import(d, "ols", _many(MAX_ITEMS), atomic="true"),
        {422},
    ),
    "import of the most valid records a request may carry, dry run": (
        lambda d: _import(
            d, "blueprint", MOST_RECORDS.encode(), dry_run="true", calendar_id=str(d.people.fitter.calendar_id)
        ),
        {200},
    ),
    "import of the most valid events a request may carry (.ics), dry run": (
        lambda d: _import(
            d, "ical", MOST_ICS.encode(), "text/calendar", dry_run="true", calendar_id=str(d.people.fitter.calendar_id)
        ),
        {200},
    ),
    "import in an unknown format": (lambda d: _import(d, "x" * 5000, b"[]"), {400, 404, 414, 422}),
    "import of rules that never occur (.ics)": (
        lambda d: _import(d, "ical", HOSTILE_ICS.encode(), "text/calendar", atomic="true"),
        {200, 400, 413, 422},
    ),
    **ICS_OVER_PARSE_BOUNDS,
    "import of the most rules a request may carry, each once in 28 years (.ics)": (
        lambda d: _import(d, "ical", RARE_ICS.encode(), "text/calendar", atomic="true"),
        {422},
    ),
    "import of 20,000 nested VEVENTs (.ics)": (
        lambda d: _import(d, "ical", NESTED_ICS.encode(), "text/calendar"),
        {400, 413, 422},
    ),
    "webhook URL of 100 KB": (
        lambda d: d.api(
            "POST", "/api/v1/webhooks", token=d.people.admin.token, json={"url": "https://example.org/" + "a" * 100_000}
        ),
        {413, 422},
    ),
    "webhook with 10,000 events": (
        lambda d: d.api(
            "POST",
            "/api/v1/webhooks",
            token=d.people.admin.token,
            json={"url": "https://example.org/h", "events": ["x"] * 10_000},
        ),
        {413, 422},
    ),
    "webhook with credentials and a zero-padded loopback": (
        lambda d: d.api(
            "POST", "/api/v1/webhooks", token=d.people.admin.token, json={"url": "https://u:p@0177.0.0.01/"}
        ),
        {422},
    ),
}


def test_caldav_reports_and_propfind_bodies(live: LiveServer, door: Door) -> None:
    assert door.put(event_ics("seed@channels", extra="RRULE:FREQ=DAILY\r\n")).status_code == 201
    assert failures(live, door, CALDAV_REPORTS) == []


def test_ols(live: LiveServer, door: Door) -> None:
    assert failures(live, door, OLS) == []


def test_bookings_and_self_booking(live: LiveServer, door: Door) -> None:
    assert failures(live, door, BOOKINGS) == []


def test_feeds_and_the_calendar_page(live: LiveServer, door: Door) -> None:
    door.put(event_ics("feed@channels", extra="RRULE:FREQ=SECONDLY\r\n"))  # the worst stored event a feed may meet
    assert failures(live, door, feeds_and_pages(door.feed_secret("Hostile"))) == []


def test_interchange_import_and_webhooks(live: LiveServer, door: Door) -> None:
    assert failures(live, door, IMPORTS) == []


def test_ics_imports_over_the_parse_bounds_are_refused_before_parsing(
    live: LiveServer, door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = count_parses(monkeypatch)
    for case, (request, _) in ICS_OVER_PARSE_BOUNDS.items():
        answer = request(door)
        assert answer.status_code == 422, (case, answer.text[:300])
        [error] = answer.json()["errors"]
        assert error["field"] == "(body)", (case, error)
        assert "per request" in error["message"] or "per event" in error["message"], (case, error)
    assert parses == []


def test_rules_that_never_reach_the_window_share_one_scan_budget_per_file(door: Door) -> None:
    answer = _import(door, "ical", RARE_ICS.encode(), "text/calendar", atomic="true")
    assert answer.status_code == 422, answer.text[:300]
    reasons = [result["errors"][0]["message"] for result in answer.json()["results"]]
    assert len(reasons) == MAX_ITEMS
    assert "expansion budget of 6 spent" in reasons[0]  # the first series scanned its own years, in vain
    assert f"scanned {IcalOptions().max_scan_years} calendar years" in reasons[-1]  # the last ones were not scanned


CLI_FILES: dict[str, tuple[str, bytes]] = {
    # ijson's cost grew with the square of the nesting: minutes and gigabytes before feeds.cli.json_depth
    "nested array": ("ols", b"[" * 100_000 + b"]" * 100_000),
    "nested object": ("ols", b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
    "nested JSON lines": ("ols", b'{"a": 1}\n' + b"[" * 100_000 + b"\n"),
    "many bad records": ("ols", _many(20_000)),
    "never-occurring rules": ("ical", HOSTILE_ICS.encode()),
    "nested VEVENTs": ("ical", NESTED_ICS.encode()),
    "an event of 140,000 lines": ("ical", LINES_ICS.encode()),
    "an EXDATE line of 15,000 values": ("ical", DATES_ICS.encode()),
    "an RRULE of 80,000 BYMONTHDAY values": ("ical", BYMONTHDAY_ICS.encode()),
    "invalid UTF-8": ("ical", event_ics("u@cli", summary="M\udcfcller").encode("utf-8", "surrogateescape")),
    "not JSON": ("ols", b"\xff\xfe{{{"),
}

#: Files the CLI reads to the end, item by item (it streams a file of any size, where a request carries at most
#: MAX_ITEMS): their cost grows with their items, and on a slow machine 20,000 bad records alone cost the budget
#: (1.0-1.6 s of CPU on 2026-12-05's 2-core machine under load; ~0.4 s where the budget was set). Each is held to
#: the budget or, where it costs more, to LINEAR_SLACK times ten times what the same file with a tenth of the items
#: costs (the tenth carries the command's fixed ~0.05 s ten times over too: a margin, not a loophole): the machine's
#: speed cancels out, and a cost that grows faster than the items still fails. There, the tenth cost 0.2 s (a
#: budget of 4 s); with a scan of the earlier results per item made up to try it, 0.4 s, and the whole 17 s.
CLI_TENTHS: dict[str, bytes] = {"many bad records": _many(2_000)}
#: How far over ten tenths a whole file may cost (a measurement's noise; quadratic growth would be ten times over).
LINEAR_SLACK = 2.0


def _in_this_thread(path: Path, fmt: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """``appointment-service import FMT PATH --atomic`` run by ``feeds.cli.main`` in this thread: what it did (exit
    status, output), and this thread's CPU seconds meanwhile.

    That is the whole of the import's CPU: the command starts no thread of its own (no pool, no progress thread
    off a terminal, the runtime's fetch-log thread only with a feed fetch), and a thread it did start would fail
    the test here rather than go uncounted."""
    started: list[str] = []
    start = threading.Thread.start

    def counted(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    with mock.patch.object(threading.Thread, "start", counted):
        before = time.thread_time()
        done = in_process(["import", fmt, str(path), "--atomic"], env)
        seconds = time.thread_time() - before
    assert started == [], f"the import started threads whose CPU thread_time does not see: {started}"
    return done, seconds


def _cli_import(path: Path, fmt: str, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    """The import in this thread (``_in_this_thread``): what it did, and its CPU seconds; over the budget, run once
    more after a collection and the lesser counts, as ``least_server_cpu`` does for a request (a collection of
    this test process's heap, larger than the command's own, or other work landing in the one measurement is not
    the file's cost). Safe to repeat: an ``--atomic`` import that refuses writes nothing, and the caller's
    fingerprint, taken after both, says so."""
    done, seconds = _in_this_thread(path, fmt, env)
    if seconds < CPU_BUDGET:
        return done, seconds
    gc.collect()
    _, again = _in_this_thread(path, fmt, env)
    return done, min(seconds, again)


def _budget(case: str, fmt: str, cpu: float, folder: Path, env: dict[str, str]) -> float:
    """CPU_BUDGET; for a file of CLI_TENTHS over it, ten times its tenth's CPU, LINEAR_SLACK times over, if more."""
    tenth = CLI_TENTHS.get(case)
    if tenth is None or cpu < CPU_BUDGET:
        return CPU_BUDGET
    path = folder / "tenth"
    path.write_bytes(tenth)
    done, seconds = _in_this_thread(path, fmt, env)
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    return max(CPU_BUDGET, LINEAR_SLACK * 10 * seconds)


def _refusal_lines(done: subprocess.CompletedProcess[str], fmt: str) -> list[str]:
    """What the import wrote on standard error besides its progress lines (``import FMT: N items ...``)."""
    return [line for line in done.stderr.splitlines() if line.strip() and not line.startswith(f"import {fmt}: ")]


@pytest.mark.parametrize("case", list(CLI_FILES))
def test_cli_import_of_hostile_files(runtime: Runtime, settings: Settings, tmp_path: Path, case: str) -> None:
    """``appointment-service import`` of each file, run in-process (tests.support.cli: the same parser, handler,
    output and exit codes): a clear refusal (exit 1 or 2, one line), within the budget (the import's own CPU;
    for a file read to the end, ``CLI_TENTHS``), nothing written. What only a process shows (the exit status
    through the interpreter, start-up) is ``test_cli_import_refusal_as_a_process``'s."""
    fmt, body = CLI_FILES[case]
    path = tmp_path / "input"
    path.write_bytes(body)
    env = {"APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(), "APPOINTMENTS_DATA_DIR": settings.data_dir}
    dialect = runtime.engine.dialect.name
    before = fingerprint(runtime)
    done, cpu = _cli_import(path, fmt, env)
    record(dialect, f"CLI import: {case}", cpu, done.returncode, "cli")
    assert done.returncode in (1, 2), (done.returncode, done.stdout[-500:], done.stderr[-500:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    if done.returncode == 2:  # refused: one line says why, no progress line after it
        [refusal] = done.stderr.splitlines()
        assert refusal.startswith("appointment-service: error: "), refusal
    else:  # every item failed: each one a line of its own, then the summary, on standard output
        assert _refusal_lines(done, fmt) == [], done.stderr[-2000:]
        assert done.stdout.rstrip().endswith("(atomic: nothing was written)"), done.stdout[-500:]
    budget = _budget(case, fmt, cpu, tmp_path, env)
    assert cpu < budget, (cpu, budget)
    assert fingerprint(runtime) == before


def test_cli_import_refusal_as_a_process(runtime: Runtime, settings: Settings, tmp_path: Path) -> None:
    """What only a process shows, for the cheapest hostile file (``not JSON``): the exit status the shell sees and
    one line on standard error, no traceback, nothing written. Its CPU is the interpreter's start-up (~2 s on a
    slow machine), not the file's: the in-process test holds the file to the budget."""
    fmt, body = CLI_FILES["not JSON"]
    path = tmp_path / "input"
    path.write_bytes(body)
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": settings.resolved_database_url(),
        "APPOINTMENTS_DATA_DIR": settings.data_dir,
    }
    before = fingerprint(runtime)
    done = process(["import", fmt, str(path), "--atomic"], env)
    assert done.returncode == 2, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    [line] = done.stderr.splitlines()
    assert line.startswith("appointment-service: error: ") and "not JSON" in line, line
    assert done.stdout == ""
    assert fingerprint(runtime) == before
