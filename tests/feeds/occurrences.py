"""The occurrences of a feed in a window as four parsers read them: icalendar + recurring-ical-events, vobject
(dateutil's rruleset), the ``ical`` package (its timeline) and ical.js (node). Each returns a sorted list of
(UID, start, end, SUMMARY), a start or end being ``YYYY-MM-DD`` for a date and Unix seconds for a date-time,
so the four can be compared as they are."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
import vobject
from ical.calendar_stream import IcsCalendarStream

from tests.feeds.validators import NODE_DIR

__all__ = ["PARSERS", "Occurrence", "icaljs_occurrences", "read_all"]

Occurrence = tuple[str, str | int, str | int, str]


def _value(value: date | datetime) -> str | int:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time {value}"
        return int(value.timestamp())
    return value.isoformat()


def _instant(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _keep(found: list[Occurrence], low: datetime, high: datetime, uid: str, start: Any, end: Any, summary: Any) -> None:
    if _instant(start) < high and _instant(end) > low:
        found.append((uid, _value(start), _value(end), str(summary)))


def icalendar_occurrences(data: bytes, low: datetime, high: datetime) -> list[Occurrence]:
    calendar = icalendar.Calendar.from_ical(data)
    found: list[Occurrence] = []
    for event in recurring_ical_events.of(calendar).between(low - timedelta(days=2), high + timedelta(days=2)):
        _keep(found, low, high, str(event["UID"]), event.start, event.end, event.get("SUMMARY"))
    return sorted(found, key=str)


def vobject_occurrences(data: bytes, low: datetime, high: datetime) -> list[Occurrence]:
    """dateutil's rruleset of each series (RRULE, RDATE, EXDATE), with its overridden instances put in place
    of the ones their RECURRENCE-ID names (vobject leaves that to its caller).

    vobject keeps the zones it has seen in a process-wide map and prefers them to a feed's own VTIMEZONE: a
    zone met earlier in this process without its VTIMEZONE (a client's event read by python-caldav) would be
    used in the feed's place. The map is emptied first, so the feed is read as a fresh client reads it."""
    getattr(vobject.icalendar, "__tzidMap").clear()
    calendar = vobject.readOne(data.decode("utf-8"))
    events = list(getattr(calendar, "vevent_list", []))
    moved: dict[str, dict[Any, Any]] = {}
    for event in events:
        if hasattr(event, "recurrence_id"):
            moved.setdefault(event.uid.value, {})[event.recurrence_id.value] = event
    found: list[Occurrence] = []
    for event in events:
        uid, summary = event.uid.value, event.summary.value
        start, end = event.dtstart.value, event.dtend.value
        if hasattr(event, "recurrence_id"):
            _keep(found, low, high, uid, start, end, summary)
            continue
        if not (hasattr(event, "rrule") or hasattr(event, "rdate")):
            _keep(found, low, high, uid, start, end, summary)
            continue
        rules = event.getrruleset(addRDate=True)
        dated = not isinstance(start, datetime)
        a, b = low - timedelta(days=2), high + timedelta(days=2)
        if dated:
            a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
        for occurrence in rules.between(a, b, inc=True):
            begin = occurrence.date() if dated else occurrence
            if begin in moved.get(uid, {}):
                continue
            _keep(found, low, high, uid, begin, begin + (end - start), summary)
    return sorted(found, key=str)


def ical_occurrences(data: bytes, low: datetime, high: datetime) -> list[Occurrence]:
    calendar = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    found: list[Occurrence] = []
    for event in calendar.timeline_tz(UTC).overlapping(low - timedelta(days=2), high + timedelta(days=2)):
        _keep(found, low, high, str(event.uid), event.dtstart, event.dtend, event.summary)
    return sorted(found, key=str)


def icaljs_occurrences(data: bytes, low: datetime, high: datetime) -> list[Occurrence]:
    node = shutil.which("node")
    assert node, "node is required (installed with the machine; ical.js by `make test`)"
    assert (NODE_DIR / "node_modules" / "ical.js").exists(), "run `make test` (npm ci in tests/feeds/node)"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "feed.ics"
        path.write_bytes(data)
        result = subprocess.run(
            [
                node,
                str(NODE_DIR / "icaljs_occurrences.cjs"),
                str(path),
                str(int(low.timestamp())),
                str(int(high.timestamp())),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=NODE_DIR,
        )
    assert result.returncode == 0, result.stderr
    return sorted((tuple(o) for o in json.loads(result.stdout)), key=str)


PARSERS = {
    "icalendar+recurring-ical-events": icalendar_occurrences,
    "vobject": vobject_occurrences,
    "ical": ical_occurrences,
    "ical.js": icaljs_occurrences,
}


def read_all(data: bytes, low: datetime, high: datetime) -> dict[str, list[Occurrence]]:
    """Every parser's occurrences of ``data`` in ``[low, high)``."""
    return {name: parse(data, low, high) for name, parse in PARSERS.items()}
