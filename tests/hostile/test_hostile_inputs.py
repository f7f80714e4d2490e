"""Hostile input on every door, SQLite and PostgreSQL: each request gets its 4xx (or is stored when it
is harmless), costs the server less than CPU_BUDGET of CPU, and a refused one leaves the store as it was.

A fixed corpus of known-bad iCalendar (CalDAV PUT), JSON (REST) and headers, then hypothesis-generated
recurrence rules and iCalendar bodies with bounded example counts (the whole module runs in well under
a minute per database). The server's CPU is measured over its threads (tests.support.cpu).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caldav_bridge.converters.ical_shape import MAX_DATES
from feeds.dav import MAX_RESOURCE_BYTES
from tests.caldav.support import event_ics
from tests.support.cpu import CPU_BUDGET, least_server_cpu
from tests.support.hostile import Door, Request, count_parses, failures, record, tried
from tests.support.live import LiveServer


def rule_ics(rule: str, uid: str | None = None, start: str = "20261201T090000") -> str:
    return event_ics(uid or f"{uuid.uuid4()}@hostile", start=start, end=start[:9] + "100000", extra=f"RRULE:{rule}\r\n")


def moved_series(moved: int) -> str:
    """A daily series and ``moved`` of its occurrences moved by an hour, each with a note."""
    text = event_ics(f"{uuid.uuid4()}@series", start="20261201T090000", extra="RRULE:FREQ=DAILY\r\n")
    uid = text.split("UID:", 1)[1].split("\r\n", 1)[0]
    days = [(date(2026, 12, 2) + timedelta(days=n)).strftime("%Y%m%d") for n in range(moved)]
    overrides = "".join(
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID:{day}T160000Z\r\n"
        f"DTSTART:{day}T170000Z\r\nDTEND:{day}T180000Z\r\nDESCRIPTION:{'Moved; bring the kit. ' * 20}\r\n"
        "END:VEVENT\r\n"
        for day in days
    )
    return text.replace("END:VCALENDAR", overrides + "END:VCALENDAR")


def exdate_line(values: int) -> str:
    """A daily series with one EXDATE line of ``values`` comma-separated date-times (one a day from 2027)."""
    stamps = ",".join(f"{date(2027, 1, 1) + timedelta(days=n):%Y%m%d}T090000" for n in range(values))
    return rule_ics("FREQ=DAILY").replace("RRULE:", f"EXDATE;TZID=America/Denver:{stamps}\r\nRRULE:")


# --------------------------------------------------------------------------- the fixed corpus

OVER_PARSE_BOUNDS: dict[str, tuple[Request, set[int]]] = {
    "a hundred thousand short lines": (
        lambda d: d.put(event_ics("lines@hostile", extra="X-A:1\r\n" * 100_000)),
        {403},
    ),
    "a thousand alarms": (
        lambda d: d.put(event_ics("many@hostile", extra="BEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n" * 1000)),
        {403},
    ),
    "a series with 600 moved occurrences": (lambda d: d.put(moved_series(600)), {403}),
    # ~0.9 µs of CPU a byte of property values (0.74 s for 800 KB before feeds.dav.MAX_RESOURCE_BYTES)
    "a value of 300 KB": (lambda d: d.put(event_ics("wide@hostile", extra="X-A:" + "y" * 300_000 + "\r\n")), {403}),
    # one line, 15,000 values (~1.05 s of CPU before ical_shape.MAX_DATES: parsed, stored and compared)
    "an EXDATE line of 15,000 values": (lambda d: d.put(exdate_line(15_000)), {403}),
    # 0.56 s of CPU in the pre-parse check alone before ical_shape.MAX_RULE_VALUES, then Radicale and the store
    "an RRULE of 80,000 BYMONTHDAY values": (
        lambda d: d.put(rule_ics("FREQ=MONTHLY;BYMONTHDAY=" + ",".join(str(n % 28 + 1) for n in range(80_000)))),
        {403},
    ),
}

ICALENDAR: dict[str, tuple[Request, set[int]]] = {
    "rule never occurs (secondly)": (lambda d: d.put(rule_ics("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30")), {403}),
    "rule never occurs (daily)": (lambda d: d.put(rule_ics("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")), {403}),
    "rule never occurs (weekly, 31 April)": (lambda d: d.put(rule_ics("FREQ=WEEKLY;BYMONTH=4;BYMONTHDAY=31")), {403}),
    "rule never occurs with COUNT": (lambda d: d.put(rule_ics("FREQ=DAILY;COUNT=5;BYMONTH=2;BYMONTHDAY=30")), {403}),
    "rule a million times": (lambda d: d.put(rule_ics("FREQ=SECONDLY;COUNT=1000000")), {400, 403}),
    "rule secondly for ten years": (lambda d: d.put(rule_ics("FREQ=SECONDLY;UNTIL=20361201T000000Z")), {400, 403}),
    "rule every second filtered to one an hour": (
        lambda d: d.put(rule_ics("FREQ=SECONDLY;BYMINUTE=0;BYSECOND=0")),
        {403},
    ),
    "rule interval zero": (lambda d: d.put(rule_ics("FREQ=DAILY;INTERVAL=0")), {400, 403}),
    "rule unreadable": (lambda d: d.put(rule_ics("FREQ=FORTNIGHTLY;BYDAY=XX")), {400, 403}),
    "exrule never occurs": (
        lambda d: d.put(rule_ics("FREQ=WEEKLY").replace("RRULE:", "EXRULE:FREQ=DAILY;BYMONTHDAY=32\r\nRRULE:")),
        {400, 403},
    ),
    "year zero": (
        lambda d: d.put(
            event_ics("y0@hostile")
            .replace("DTSTART;TZID=America/Denver:20261201T090000", "DTSTART:00000101")
            .replace("DTEND;TZID=America/Denver:20261201T100000\r\n", "")
        ),
        {400, 403},
    ),
    "unknown TZID": (lambda d: d.put(event_ics("tz@hostile", tzid="Mars/Base")), {403}),
    "TZID path": (lambda d: d.put(event_ics("tz2@hostile", tzid="../../etc/passwd")), {403}),
    "not UTF-8": (
        lambda d: d.put(event_ics("l1@hostile", summary="M\udcfcller").encode("utf-8", "surrogateescape")),
        {400},
    ),
    # found by test_generated_icalendar: vobject read it, icalendar could not; Radicale scanned the rule to the year
    # 9999 (12 s of CPU) before the store refused the body
    "an unreadable alarm beside a rule that never occurs": (
        lambda d: d.put(
            event_ics(
                "alarm@hostile",
                extra="BEGIN:VALARM\r\nDTSTART:00000101\r\nEND:VALARM\r\nRRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2\r\n",
            )
        ),
        {400},
    ),
    "not iCalendar": (lambda d: d.put("BEGIN:VCALENDAR\r\nthis is not ical\r\n"), {400}),
    "no component": (lambda d: d.put("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"), {400}),
    "DTEND before DTSTART": (
        lambda d: d.put(event_ics("back@hostile", start="20261201T100000", end="20261201T090000")),
        {403},
    ),
    "near the body limit": (
        lambda d: d.put(event_ics("big@hostile", extra="DESCRIPTION:" + "x" * 70 + "\r\n" + " y\r\n" * 300_000)),
        {403, 413},
    ),
    # Cost per content line and per component, not per byte: 7.5 s and 0.23 s of CPU before the bounds of
    # caldav_bridge.dav.validate (test_bodies_over_the_parse_bounds_are_refused_before_any_parse).
    **OVER_PARSE_BOUNDS,
    "over the body limit": (lambda d: d.put("BEGIN:VCALENDAR\r\n" + "X" * 2_000_000), {413}),
    "If-Match of a thousand tags": (
        lambda d: d.put(event_ics("im@hostile"), **{"If-Match": ", ".join(f'"{i}"' for i in range(1000))}),
        {412},
    ),
}

JSON_AND_HEADERS: dict[str, tuple[Request, set[int]]] = {
    "malformed JSON": (
        lambda d: d.api("POST", "/api/v1/appointments", data=b"{", headers={"Content-Type": "application/json"}),
        {400},
    ),
    "JSON nested 100k deep": (
        lambda d: d.api(
            "POST",
            "/api/v1/appointments",
            data=b"[" * 100_000 + b"]" * 100_000,
            headers={"Content-Type": "application/json"},
        ),
        {400, 413, 422},
    ),
    "name of a megabyte": (
        lambda d: d.api("POST", "/api/v1/appointments", json={"name": "x" * 1_100_000}),
        {413, 422},
    ),
    "year zero in JSON": (
        lambda d: d.api(
            "POST",
            "/api/v1/appointments",
            json={
                "calendar": {"id": d.people.fitter.calendar_id},
                "date_start": "0000-01-01T00:00:00Z",
                "date_end": "0000-01-01T01:00:00Z",
                "name": "x",
                "meta": {"type": "FOLLOW_UP"},
            },
        ),
        {422},
    ),
    "ten thousand guests": (
        lambda d: d.api(
            "POST",
            "/api/v1/appointments",
            json={
                "calendar": {"id": d.people.fitter.calendar_id},
                "date_start": "2026-12-01T09:00:00Z",
                "date_end": "2026-12-01T10:00:00Z",
                "name": "x",
                "meta": {"type": "FOLLOW_UP"},
                "guests": [{"id": f"g{i}"} for i in range(10_000)],
            },
        ),
        {413, 422},
    ),
    "availability for a century": (
        lambda d: d.api(
            "GET",
            "/api/v1/availability",
            params={
                "calendar_id": d.people.fitter.calendar_id,
                "type": "FOLLOW_UP",
                "from": "2026-01-01T00:00:00Z",
                "to": "2126-01-01T00:00:00Z",
            },
        ),
        {422},
    ),
    "webhook to the metadata service": (
        lambda d: d.api(
            "POST", "/api/v1/webhooks", token=d.people.admin.token, json={"url": "https://169.254.169.254/"}
        ),
        {422},
    ),
    "webhook to decimal loopback": (
        lambda d: d.api("POST", "/api/v1/webhooks", token=d.people.admin.token, json={"url": "https://2130706433/"}),
        {422},
    ),
    "bearer token of 64 KB": (lambda d: d.api("GET", "/api/v1/appointments", token="x" * 65_536), {400, 401, 431}),
    "basic user name of 64 KB": (
        lambda d: requests.request("PROPFIND", d.dav_url, auth=("u" * 65_536, "p"), timeout=60),
        {400, 401, 431},
    ),
    "unknown calendar filter": (
        lambda d: d.api("GET", "/api/v1/appointments", params={"calendar_id": "nope" * 100}),
        {403, 404, 422},
    ),
    "cursor garbage": (lambda d: d.api("GET", "/api/v1/appointments", params={"cursor": "%%%" * 1000}), {400, 422}),
}


def test_known_bad_icalendar(live: LiveServer, door: Door) -> None:
    assert failures(live, door, ICALENDAR) == []


def test_bodies_over_the_parse_bounds_are_refused_before_any_parse(
    live: LiveServer, door: Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused on the counts of the raw bytes (caldav_bridge.converters.ical_shape): not one parse."""
    parses = count_parses(monkeypatch)
    for case, (request, _) in OVER_PARSE_BOUNDS.items():
        answer = request(door)
        assert answer.status_code == 403, (case, answer.text[:300])
        bounds = (
            "content lines (at most 2,000)",
            "(at most 100,",
            f"at most {MAX_RESOURCE_BYTES} bytes",
            f"values (at most {MAX_DATES:,})",
        )
        assert any(bound in answer.text for bound in bounds), (case, answer.text[:300])
    assert parses == []
    accepted = door.put(moved_series(99))  # the most moved occurrences an item may have: stored
    assert accepted.status_code == 201, accepted.text[:300]
    assert parses
    most = tried(live, lambda: door.put(exdate_line(MAX_DATES)), "an EXDATE line of the most values an item may have")
    assert most.status == 201, most.response.text[:300]
    assert most.cpu_seconds < CPU_BUDGET, most.cpu_seconds


def test_known_bad_json_and_headers(live: LiveServer, door: Door) -> None:
    assert failures(live, door, JSON_AND_HEADERS) == []


# --------------------------------------------------------------------------- generated

FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY"]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


@st.composite
def hostile_rules(draw: st.DrawFn) -> str:
    parts = [f"FREQ={draw(st.sampled_from(FREQS))}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 1000))}")
    if draw(st.booleans()):
        parts.append("BYMONTH=" + ",".join(map(str, draw(st.sets(st.integers(1, 12), min_size=1, max_size=3)))))
    if draw(st.booleans()):
        parts.append(
            "BYMONTHDAY=" + ",".join(map(str, draw(st.sets(st.integers(-31, 31).filter(bool), min_size=1, max_size=3))))
        )
    if draw(st.booleans()):
        parts.append(
            "BYYEARDAY="
            + ",".join(map(str, draw(st.sets(st.integers(-366, 366).filter(bool), min_size=1, max_size=2))))
        )
    if draw(st.booleans()):
        parts.append(
            "BYWEEKNO=" + ",".join(map(str, draw(st.sets(st.integers(-53, 53).filter(bool), min_size=1, max_size=2))))
        )
    if draw(st.booleans()):
        nth = draw(st.sampled_from(["", "1", "-1", "5", "53"]))
        parts.append("BYDAY=" + ",".join(nth + d for d in draw(st.sets(st.sampled_from(DAYS), min_size=1, max_size=2))))
    for name, top in (("BYHOUR", 23), ("BYMINUTE", 59), ("BYSECOND", 59)):
        if draw(st.integers(0, 3)) == 0:
            parts.append(f"{name}=" + ",".join(map(str, draw(st.sets(st.integers(0, top), min_size=1, max_size=2)))))
    if draw(st.booleans()):
        parts.append(f"BYSETPOS={draw(st.sampled_from([1, -1, 2, 366]))}")
    ending = draw(st.sampled_from(["", "COUNT", "UNTIL"]))
    if ending == "COUNT":
        parts.append(f"COUNT={draw(st.integers(1, 20_000))}")
    elif ending == "UNTIL":
        parts.append(f"UNTIL={draw(st.integers(2026, 2200))}0101T000000Z")
    return ";".join(draw(st.permutations(parts)))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(rule=hostile_rules(), start_year=st.integers(1970, 2040))
def test_generated_recurrence_rules(live: LiveServer, door: Door, rule: str, start_year: int) -> None:
    answer = tried(
        live, lambda: door.put(rule_ics(rule, start=f"{start_year}1201T090000")), f"PUT {rule} from {start_year}"
    )
    assert answer.status in {201, 204, 400, 403}, (rule, answer.response.text[:300])
    assert answer.cpu_seconds < CPU_BUDGET, (rule, answer.cpu_seconds)
    if answer.status >= 400:
        assert not answer.store_changed, rule
        return
    window = {
        "calendar_id": door.people.fitter.calendar_id,
        "type": "FOLLOW_UP",
        "from": "2026-12-07T00:00:00Z",
        "to": "2026-12-21T00:00:00Z",
    }
    slots, seconds = least_server_cpu(lambda: door.api("GET", "/api/v1/availability", params=window))
    assert slots.status_code == 200, slots.text[:300]
    record(live.runtime.engine.dialect.name, f"availability over {rule}", seconds, slots.status_code, "example")
    assert seconds < CPU_BUDGET, (rule, "availability", seconds)


LINES = st.sampled_from(
    [
        "DTSTART:00000101",
        "DTSTART;TZID=Nowhere/City:20261201T090000",
        "DTSTART;VALUE=DATE:20261301",
        "DTSTART:99991231T235959Z",
        "DTEND:19000101T000000Z",
        "DURATION:P9999W",
        "DURATION:-PT1H",
        "RRULE:FREQ=SECONDLY",
        "RRULE:FREQ=DAILY;BYMONTHDAY=31;BYMONTH=2",
        "RDATE:20261201T090000Z,20261202T090000Z",
        "EXDATE;TZID=Mars/Base:20261201T090000",
        "RECURRENCE-ID:20261201T090000Z",
        "ATTENDEE;X-GUEST-ID=someone-else:urn:x-guest:someone-else",
        "X-APPOINTMENT-TYPE:" + "A" * 300,
        "STATUS:CANCELLED",
        "SUMMARY:" + "\u202e" * 50,
        "BEGIN:VALARM",
        "END:VALARM",
        "UID:",
    ]
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(extra=st.lists(LINES, max_size=6), uid=st.uuids())
def test_generated_icalendar(live: LiveServer, door: Door, extra: list[str], uid: uuid.UUID) -> None:
    body = event_ics(f"{uid}@gen", extra="".join(line + "\r\n" for line in extra))
    answer = tried(live, lambda: door.put(body), "PUT with " + " | ".join(line[:40] for line in extra))
    assert answer.status in {201, 204, 400, 403, 409}, (extra, answer.response.text[:300])
    assert answer.cpu_seconds < CPU_BUDGET, (extra, answer.cpu_seconds)
    if answer.status >= 400:
        assert not answer.store_changed, extra
