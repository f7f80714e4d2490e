"""What an iCalendar text will cost to parse, counted before anything parses it.

The parsers (icalendar, and Radicale's vobject) spend their time per content line and per component, not per
byte: 700 KB of ``X-A:1`` lines cost seconds of CPU on a CalDAV PUT, a folded 700 KB DESCRIPTION milliseconds.
And per listed value: one EXDATE or RDATE line may hold thousands of comma-separated dates (15,000 in a 240 KB
PUT cost ~1.05 s of CPU, every one parsed, stored and compared), an RRULE thousands of BYxxx values (80,000
BYMONTHDAY values cost 0.56 s to check alone, then Radicale and the store read the rule again).
:func:`shape` counts the lines, components and such values with a few linear scans of the raw bytes (no Python
loop per line), so callers can refuse a body before the parse (``caldav_bridge.dav.validate``, the ``.ics``
import), against :data:`MAX_DATES` and :data:`MAX_RULE_VALUES`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_DATES", "MAX_RULE_VALUES", "IcalShape", "shape"]

#: EXDATE and RDATE values (all lines together) one calendar object may carry: a fitter's series has at most a
#: few hundred exceptions; 1,000 cost ~0.1 s of a CalDAV PUT's CPU, 15,000 (the most 256 KiB hold) ~1.05 s.
MAX_DATES = 1_000
#: Values of the BYxxx lists of the RRULE and EXRULE lines of one calendar object, all together (a rule has a few;
#: BYYEARDAY at most 732 meaningful ones): 80,000 BYMONTHDAY values fit in a PUT and cost ~1.5 s.
MAX_RULE_VALUES = 1_000

_BEGIN_END = re.compile(rb"^(BEGIN|END):([A-Za-z0-9-]*)", re.MULTILINE | re.IGNORECASE)
#: Components that are calendar objects of their own (each one an event, task or note to read).
_OBJECTS = frozenset({b"VEVENT", b"VTODO", b"VJOURNAL"})
#: A fold as icalendar and vobject undo it (a line break, then a space or tab): a name may be folded anywhere.
_FOLD = re.compile(rb"(?:\r?\n)+[ \t]")
#: The value part of a listed-value property (an optional vCard-style group, as vobject reads one).
_DATES = re.compile(rb"^(?:[A-Za-z0-9-]+\.)?(?:EXDATE|RDATE)[;:][^\r\n]*", re.MULTILINE | re.IGNORECASE)
_RULES = re.compile(rb"^(?:[A-Za-z0-9-]+\.)?(?:RRULE|EXRULE)[;:][^\r\n]*", re.MULTILINE | re.IGNORECASE)


@dataclass(frozen=True)
class IcalShape:
    """Attributes:
    lines: content lines, after unfolding (a line continued on the next with a leading space or tab is one).
    objects: VEVENT, VTODO and VJOURNAL components (an event's moved occurrences each count).
    events: VEVENT components alone.
    depth: the deepest BEGIN/END nesting (VCALENDAR > VEVENT > VALARM is three).
    dates: EXDATE and RDATE values, all lines together (each line's commas and one; a comma in a quoted
        parameter counts too, so a count is never below what the parsers read).
    rule_values: RRULE and EXRULE lines' commas and one each (a BYxxx list of n values counts n).
    """

    lines: int
    objects: int
    events: int
    depth: int
    dates: int = 0
    rule_values: int = 0


def _listed(pattern: re.Pattern[bytes], unfolded: bytes) -> int:
    found = pattern.findall(unfolded)
    return len(found) + sum(line.count(b",") for line in found)


def shape(text: str | bytes) -> IcalShape:
    """The counts of ``text`` (lines ending in LF, CRLF or nothing; an unbalanced END is not an error here)."""
    raw = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    breaks = raw.count(b"\n")
    continued = raw.count(b"\n ") + raw.count(b"\n\t")
    lines = breaks - continued + (0 if raw.endswith(b"\n") or not raw else 1)
    depth = deepest = objects = events = 0
    for match in _BEGIN_END.finditer(raw):
        if match.group(1).upper() == b"BEGIN":
            depth += 1
            deepest = max(deepest, depth)
            name = match.group(2).upper()
            objects += name in _OBJECTS
            events += name == b"VEVENT"
        else:
            depth -= 1
    unfolded = _FOLD.sub(b"", raw)
    return IcalShape(
        lines=lines,
        objects=objects,
        events=events,
        depth=deepest,
        dates=_listed(_DATES, unfolded),
        rule_values=_listed(_RULES, unfolded),
    )
