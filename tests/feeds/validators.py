"""Every validator the feeds must pass, in one place: icalendar 7, vobject, ical, x-wr-timezone,
ical.js (node) and the byte lint. Each returns the instants it read, so tests can compare them."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import icalendar
import vobject
import x_wr_timezone
from ical.calendar_stream import IcsCalendarStream

from tests.feeds.ics_lint import lint

__all__ = ["NODE_DIR", "Instants", "icalendar_and_x_wr_instants", "icaljs_instants", "validate_all"]

NODE_DIR = Path(__file__).parent / "node"
#: uid -> (start, end) as UTC datetimes (all-day: midnight UTC of the date, for comparison only)
Instants = dict[str, tuple[datetime, datetime]]


def _utc(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"floating time {value}"
        return value.astimezone(UTC)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def icalendar_and_x_wr_instants(data: bytes) -> tuple[Instants, Instants]:
    """What icalendar and x-wr-timezone read, from one parse: x-wr-timezone reads icalendar's own ``Calendar``
    (``to_standard`` copies what it changes), so parsing the bytes for it again parsed the same calendar twice (the
    dearest part of the feed tests)."""
    cal = icalendar.Calendar.from_ical(data)
    return _icalendar_read(cal), _x_wr_read(cal)


def _icalendar_read(cal: icalendar.Calendar) -> Instants:
    assert not cal.errors, cal.errors
    assert cal.get("VERSION") == "2.0" and cal.get("PRODID")
    assert not cal.get_missing_tzids(), cal.get_missing_tzids()
    out: Instants = {}
    for event in cal.events:
        assert not event.errors, event.errors
        assert event.uid and event.DTSTAMP is not None
        start, end = event.start, event.end
        assert end > start, (event.uid, start, end)
        out[str(event.uid)] = (_utc(start), _utc(end))
    return out


def vobject_instants(data: bytes) -> Instants:
    cal = vobject.readOne(data.decode("utf-8"), validate=True)
    out: Instants = {}
    for event in getattr(cal, "vevent_list", []):
        out[event.uid.value] = (_utc(event.dtstart.value), _utc(event.dtend.value))
    return out


def ical_instants(data: bytes) -> Instants:
    cal = IcsCalendarStream.calendar_from_ics(data.decode("utf-8"))
    out: Instants = {}
    for e in cal.events:
        assert e.dtstart is not None and e.dtend is not None, e.uid  # the feeds always write both
        out[str(e.uid)] = (_utc(e.dtstart), _utc(e.dtend))
    return out


def _x_wr_read(cal: icalendar.Calendar) -> Instants:
    standard = x_wr_timezone.to_standard(cal)
    return {str(e.uid): (_utc(e.start), _utc(e.end)) for e in standard.events}


def icaljs_instants(feeds: dict[str, bytes]) -> dict[str, Instants]:
    """Parse several feeds with ical.js in one node process; name -> instants."""
    node = shutil.which("node")
    assert node, "node is required (installed with the machine; ical.js by `make test`)"
    assert (NODE_DIR / "node_modules" / "ical.js").exists(), "run `make test` (npm ci in tests/feeds/node)"
    with tempfile.TemporaryDirectory() as tmp:
        paths: dict[str, str] = {}
        for name, data in feeds.items():
            file = Path(tmp) / f"{len(paths)}.ics"
            file.write_bytes(data)
            paths[str(file)] = name
        result = subprocess.run(
            [node, str(NODE_DIR / "icaljs_check.cjs"), *paths],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=NODE_DIR,
        )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    out: dict[str, Instants] = {}
    for path, name in paths.items():
        entry = parsed[path]
        assert "error" not in entry, f"ical.js rejected {name}: {entry['error']}"
        out[name] = {
            uid: (datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC))
            for uid, (s, e, is_date, _summary) in entry["events"].items()
        }
    return out


def validate_all(data: bytes, *, expect: Instants | None = None) -> Instants:
    """Run every Python validator on ``data``; all must agree on every event's instants.

    (ical.js runs separately, batched, through :func:`icaljs_instants`.)
    """
    problems = lint(data)
    assert not problems, problems[:20]
    reference, by_x_wr = icalendar_and_x_wr_instants(data)
    for name, got in (("vobject", vobject_instants(data)), ("ical", ical_instants(data)), ("x-wr-timezone", by_x_wr)):
        assert got == reference, f"{name} reads other instants: {_diff(reference, got)}"
    if expect is not None:
        assert reference == expect, _diff(expect, reference)
    return reference


def _diff(a: Instants, b: Instants) -> str:
    keys = sorted(set(a) | set(b))
    return "; ".join(f"{k}: {a.get(k)} != {b.get(k)}" for k in keys if a.get(k) != b.get(k))[:2000]
