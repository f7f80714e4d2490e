"""A byte-level lint of iCalendar feeds: what no parser checks and what broke Google in the wild.

CRLF only, lines of at most 75 octets, folds that never split a UTF-8 sequence, valid UTF-8, no
blank lines, one VCALENDAR with VERSION and PRODID, a VTIMEZONE (with TZOFFSETFROM/TO) for every
TZID used, no floating DATE-TIME outside VTIMEZONE, every VEVENT with UID and DTSTAMP, unique UIDs.
"""

from __future__ import annotations

import re

__all__ = ["lint"]

_DATE_TIME = re.compile(r"^\d{8}T\d{6}Z?$")
_TIME_PROPS = {"DTSTART", "DTEND", "DTSTAMP", "DUE", "RECURRENCE-ID", "CREATED", "LAST-MODIFIED", "EXDATE", "RDATE"}


def lint(data: bytes) -> list[str]:
    """Every problem found in ``data`` (empty: clean)."""
    problems: list[str] = []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(f"not UTF-8: {exc}")
    if not data.endswith(b"\r\n"):
        problems.append("does not end with CRLF")
    stripped = data.replace(b"\r\n", b"")
    if b"\n" in stripped:
        problems.append("bare LF")
    if b"\r" in stripped:
        problems.append("bare CR")
    physical = data.split(b"\r\n")[:-1]
    for number, line in enumerate(physical, 1):
        if len(line) > 75:
            problems.append(f"line {number}: {len(line)} octets (more than 75)")
        if not line:
            problems.append(f"line {number}: blank line")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number}: a fold splits a UTF-8 sequence")
        if any(b < 0x20 and b != 0x09 for b in line):
            problems.append(f"line {number}: control character")
    logical: list[str] = []
    for line in physical:
        text = line.decode("utf-8", errors="replace")
        if text[:1] in (" ", "\t") and logical:
            logical[-1] += text[1:]
        else:
            logical.append(text)
    problems += _structure(logical)
    return problems


def _split(line: str) -> tuple[str, dict[str, str], str]:
    head, _, value = line.partition(":")
    # a colon may sit inside a quoted parameter value; good enough for the properties checked here
    name, *params = head.split(";")
    return name.upper(), {k.upper(): v for k, _, v in (p.partition("=") for p in params)}, value


class _Walk:
    """The state of one pass over a calendar's logical lines (components open, ids seen, problems)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.stack: list[str] = []
        self.used_tzids: set[str] = set()
        self.defined_tzids: set[str] = set()
        self.uids: dict[str, int] = {}
        self.event: dict[str, str] = {}
        self.observance: set[str] = set()
        self.top: set[str] = set()

    def begin(self, value: str) -> None:
        self.stack.append(value)
        if value == "VEVENT":
            self.event = {}
        if value in ("STANDARD", "DAYLIGHT"):
            self.observance = set()

    def end(self, number: int, value: str) -> None:
        if not self.stack or self.stack[-1] != value:
            self.problems.append(f"logical line {number}: END:{value} does not close {self.stack[-1:] or 'anything'}")
        else:
            self.stack.pop()
        if value == "VEVENT":
            self.problems += [f"a VEVENT without {r}" for r in ("UID", "DTSTAMP", "DTSTART") if r not in self.event]
            if "UID" in self.event:
                self.uids[self.event["UID"]] = self.uids.get(self.event["UID"], 0) + 1
        if value in ("STANDARD", "DAYLIGHT") and not {"TZOFFSETFROM", "TZOFFSETTO", "DTSTART"} <= self.observance:
            self.problems.append("a VTIMEZONE observance without DTSTART, TZOFFSETFROM or TZOFFSETTO")

    def prop(self, number: int, name: str, params: dict[str, str], value: str) -> None:
        where = self.stack[-1] if self.stack else ""
        if where == "VCALENDAR":
            self.top.add(name)
        if where == "VEVENT":
            self.event[name] = value
        if where in ("STANDARD", "DAYLIGHT"):
            self.observance.add(name)
            if name in ("TZOFFSETFROM", "TZOFFSETTO") and not re.fullmatch(r"[+-]\d{4}(\d\d)?", value):
                self.problems.append(f"logical line {number}: malformed {name} {value!r}")
        if where == "VTIMEZONE" and name == "TZID":
            self.defined_tzids.add(value)
        if "TZID" in params:
            self.used_tzids.add(params["TZID"].strip('"'))
        inside_tz = "VTIMEZONE" in self.stack
        if name in _TIME_PROPS and not inside_tz and params.get("VALUE", "DATE-TIME") == "DATE-TIME":
            for part in value.split(","):
                if _DATE_TIME.match(part) and not part.endswith("Z") and "TZID" not in params:
                    self.problems.append(f"logical line {number}: floating time {name}:{value}")

    def finish(self) -> list[str]:
        problems = self.problems
        if self.stack:
            problems.append(f"unclosed components {self.stack}")
        problems += [f"no {required}" for required in ("VERSION", "PRODID") if required not in self.top]
        problems += [f"TZID {tzid} used without a VTIMEZONE" for tzid in sorted(self.used_tzids - self.defined_tzids)]
        problems += [f"UID {uid} appears {count} times" for uid, count in self.uids.items() if count > 1]
        return problems


def _structure(lines: list[str]) -> list[str]:
    walk = _Walk()
    if not lines or lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        walk.problems.append("not one VCALENDAR from the first line to the last")
    if sum(1 for line in lines if line == "BEGIN:VCALENDAR") != 1:
        walk.problems.append("more than one VCALENDAR")
    for number, line in enumerate(lines, 1):
        name, params, value = _split(line)
        if name == "BEGIN":
            walk.begin(value)
        elif name == "END":
            walk.end(number, value)
        else:
            walk.prop(number, name, params, value)
    return walk.finish()
