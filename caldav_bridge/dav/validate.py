"""Calendar data checked before anything parses it further or takes a lock (RFC 4791 5.3.2.1).

A CalDAV PUT body passes :func:`check_calendar_body` before Radicale reads it: a recurrence rule
that never occurs, or whose expansion costs more than a fixed budget, is refused with
``CALDAV:valid-calendar-data`` (403), as is text that is silently rewritten otherwise. Nothing is
written for a refused body.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import icalendar

from caldav_bridge.dav.errors import DavError
from caldav_bridge.model.recurrence import (
    CHECK_OCCURRENCES,
    CHECK_YEARS,
    Meter,
    RuleRefused,
    check_rule,
    parse_rule,
)

__all__ = ["BODY_YEARS", "check_calendar_body"]

#: Years of calendar all the rules of one body may scan together (see :data:`CHECK_YEARS`).
BODY_YEARS = 3 * CHECK_YEARS
_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
_VALID = "C:valid-calendar-data"


def _refuse(detail: str) -> DavError:
    return DavError(403, detail, _VALID)


def _components(calendar: Any) -> Iterator[Any]:
    for component in calendar.subcomponents:
        if component.name in _COMPONENTS:
            yield component


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(0))
    raise ValueError(f"not a date or date-time: {value!r}")


def _rule_texts(component: Any) -> Iterator[str]:
    for name in ("RRULE", "EXRULE"):
        raw = component.get(name)
        for rule in raw if isinstance(raw, list) else ([raw] if raw is not None else []):
            yield rule.to_ical().decode() if hasattr(rule, "to_ical") else str(rule)


def _parsed(text: str, start: datetime) -> Any:
    try:
        return parse_rule(text, start)
    except ValueError:
        # dateutil refuses a local DTSTART with a UTC UNTIL and the like; clients send such mixes,
        # and Radicale reads them in wall-clock time: so is the cost checked then.
        return parse_rule(text, start.replace(tzinfo=None))


def _check_rules(component: Any, meter: Meter) -> None:
    texts = list(_rule_texts(component))
    if not texts:
        return
    if component.get("DTSTART") is None:
        raise _refuse(f"a recurring {component.name} needs DTSTART")
    start = _as_datetime(component.decoded("DTSTART"))
    for text in texts:
        try:
            rule = _parsed(text, start)
        except ValueError as exc:
            raise _refuse(f"the recurrence rule {text!r} cannot be read: {exc}") from exc
        budget = Meter(left=min(CHECK_YEARS, meter.left - meter.spent))
        try:
            check_rule(rule, budget, occurrences=CHECK_OCCURRENCES)
        except RuleRefused as exc:
            raise _refuse(f"{exc}: {text}") from exc
        finally:
            meter.spent += budget.spent
        if meter.spent >= meter.left:
            raise _refuse("the recurrence rules of this calendar object cost more than the expansion budget")


def check_calendar_body(body: bytes) -> None:
    """Refuse a PUT body (iCalendar) that is costly to expand or would be stored other than it says.

    Bodies that are not iCalendar (vCards, unparseable text) are left to the DAV server's own
    checks.

    Raises:
        DavError: 403 ``CALDAV:valid-calendar-data`` with the reason.
    """
    if b"BEGIN:VCALENDAR" not in body[:4096].upper():
        return
    try:
        calendar = icalendar.Calendar.from_ical(body.decode("utf-8"))
    except Exception:  # unreadable: Radicale answers 400 valid-calendar-data itself
        return
    meter = Meter(left=BODY_YEARS)
    for component in _components(calendar):
        _check_rules(component, meter)
