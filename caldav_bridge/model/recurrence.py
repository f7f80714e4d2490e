"""Recurrence rules (RFC 5545 RRULE/EXRULE) expanded at a bounded cost.

python-dateutil expands a rule from its DTSTART, and between two occurrences it may scan without
limit: ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`` walks day by day to the year 9999 (seconds of CPU)
before it says that nothing comes; ``UNTIL`` is only compared with occurrences it found. Here:

- :func:`metered` builds a rule whose scan is counted (every calendar year dateutil enters costs
  one unit of a :class:`Meter`, at most a few hundred dateutil steps) and stops with
  :class:`Exhausted` when the meter is spent;
- :func:`moved_to` restarts a rule (without COUNT) at the period that contains a given moment,
  so an occurrence a query asks for costs the same whether the rule began yesterday or ten years
  ago (the periods, not the occurrences, are counted from DTSTART, arithmetically);
- :func:`check_rule` says, before a rule is stored, whether it ever occurs and whether its whole
  expansion (a finite rule) or its first occurrence (an infinite one) fits a budget;
- :func:`never_occurs` says, arithmetically and at once, whether the month and day filters exclude every day.

A rule is expanded in the wall-clock time of its DTSTART, as dateutil does. Its UNTIL is read by
:func:`parse_rule`, the one reader every caller (the PUT's checks, the series' expansion for REST, the calendar page
and availability, the .ics import and export) goes through: RFC 5545 wants UNTIL in UTC when DTSTART has a zone and
floating otherwise, and clients mix them (older Outlook and Thunderbird send a DATE or a floating UNTIL with a TZID
DTSTART, Exchange a UTC one with an all-day DTSTART), which dateutil refuses. UNTIL is inclusive; a floating UNTIL is
read in DTSTART's zone, a DATE means through that day there; a UTC UNTIL with a floating (or all-day) DTSTART is read on
DTSTART's floating clock, as the UTC wall-clock time (the caller that knows the calendar's zone gives DTSTART in it,
and the UTC UNTIL stays an instant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.rrule import (  # type: ignore[import-untyped]
    DAILY,
    HOURLY,
    MINUTELY,
    MONTHLY,
    SECONDLY,
    WEEKLY,
    YEARLY,
    rrule,
    rrulestr,
    weekday,
)

__all__ = [
    "CHECK_OCCURRENCES",
    "CHECK_YEARS",
    "Exhausted",
    "Meter",
    "RuleRefused",
    "check_rule",
    "metered",
    "moved_to",
    "never_occurs",
    "parse_rule",
]

#: A rule stored over CalDAV must show its first occurrence (infinite rules) or end (finite
#: ones) within this many calendar years of scanning.
CHECK_YEARS = 100
#: A finite rule may have at most this many occurrences (Radicale's max_vevent_rrule_occurrence).
CHECK_OCCURRENCES = 10_000

_SECONDS = {SECONDLY: 1, MINUTELY: 60, HOURLY: 3600}


class Exhausted(Exception):
    """The meter of a rule's expansion is spent."""


class RuleRefused(ValueError):
    """A recurrence rule that is not stored: it never occurs, or costs more than the budget."""


@dataclass
class Meter:
    """Units of work left for the expansion of one or more rules (one unit: a year scanned)."""

    left: int
    spent: int = field(default=0)

    def spend(self, units: int = 1) -> None:
        self.spent += units
        if self.spent > self.left:
            raise Exhausted(f"expansion budget of {self.left} spent")


class _MeteredRule(rrule):
    """A dateutil rule that charges its meter for every year its expansion enters.

    dateutil reads ``_byweekno`` once when an expansion starts and once (up to four times when
    BYWEEKNO is given) whenever it enters another year; that read is the meter's hook.
    """

    meter: Meter | None = None

    @property
    def _byweekno(self) -> Any:
        if self.meter is not None:
            self.meter.spend()
        return self.__dict__["_byweekno_value"]

    @_byweekno.setter
    def _byweekno(self, value: Any) -> None:
        self.__dict__["_byweekno_value"] = value


#: UNTIL's value: a DATE, a floating DATE-TIME, or a UTC one.
_UNTIL = re.compile(r"(?:^|;)\s*UNTIL\s*=\s*(?P<day>\d{8})(?P<clock>T\d{6})?(?P<utc>Z)?\s*(?=;|$)", re.IGNORECASE)


def _until_like_dtstart(text: str, dtstart: datetime) -> str:
    """``text`` with its UNTIL in the form dateutil takes with ``dtstart``: UTC when DTSTART has a zone (a floating
    UNTIL read in that zone, a DATE through the end of that day there), floating when DTSTART is floating (a UTC
    UNTIL's wall-clock time). A rule without UNTIL, or one already in that form, is returned as it is."""
    found = _UNTIL.search(text)
    if found is None:
        return text
    day, clock, utc = found.group("day"), found.group("clock"), found.group("utc")
    aware = dtstart.tzinfo is not None
    if aware == bool(utc):
        return text
    if not aware:
        value = day + (clock or "T000000").upper()
    else:
        if clock:
            local = datetime.strptime(day + clock.upper(), "%Y%m%dT%H%M%S")
        else:  # through that day: its last second (occurrences fall on whole seconds)
            local = datetime.strptime(day, "%Y%m%d") + timedelta(days=1, seconds=-1)
        try:
            value = local.replace(tzinfo=dtstart.tzinfo).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        except OverflowError as exc:
            raise ValueError(f"UNTIL {day} lies beyond the calendar's end") from exc
    return f"{text[: found.start('day')]}{value}{text[found.end() :]}"


def parse_rule(text: str, dtstart: datetime) -> rrule:
    """The dateutil rule of an RRULE/EXRULE value (``ValueError`` when it cannot be read).

    ``INTERVAL=0``, which dateutil reads as 1, is refused (RFC 5545: a positive integer). An UNTIL whose form does
    not match DTSTART's (a DATE or floating time with a zoned DTSTART, a UTC time with a floating or all-day one) is
    read as the module's docstring says, not refused.
    """
    if re.search(r"(?:^|;)\s*INTERVAL\s*=\s*0*(?:;|$)", text.upper()):
        raise ValueError("INTERVAL must be a positive integer")
    rule = rrulestr(_until_like_dtstart(text, dtstart), dtstart=dtstart, ignoretz=False, forceset=False)
    if not isinstance(rule, rrule):
        raise ValueError(f"not a single recurrence rule: {text!r}")
    return rule


def _explicit(rule: rrule, dtstart: datetime) -> dict[str, Any]:
    """Every parameter of ``rule`` spelled out, so that the rule means the same from another DTSTART.

    dateutil fills what a rule leaves out from DTSTART (the day of a MONTHLY rule, the time of a
    DAILY one...); moved to another start, those must stay the original's.
    """
    monthdays = tuple(rule._bymonthday) + tuple(rule._bynmonthday)
    weekdays = [weekday(d) for d in rule._byweekday or ()] + [weekday(d, n) for d, n in rule._bynweekday or ()]
    return {
        "freq": rule._freq,
        "dtstart": dtstart,
        "interval": rule._interval,
        "wkst": rule._wkst,
        "count": rule._count,
        "until": rule._until,
        "bysetpos": rule._bysetpos,
        "bymonth": rule._bymonth,
        "bymonthday": monthdays or None,
        "byyearday": rule._byyearday,
        "byeaster": rule._byeaster,
        "byweekno": rule.__dict__.get("_byweekno_value", rule.__dict__.get("_byweekno")),
        "byweekday": weekdays or None,
        "byhour": rule._byhour,
        "byminute": rule._byminute,
        "bysecond": rule._bysecond,
    }


def metered(rule: rrule, meter: Meter, dtstart: datetime | None = None) -> rrule:
    """``rule`` (from ``dtstart``, default its own) with every year of its expansion charged to ``meter``."""
    copy = _MeteredRule(**_explicit(rule, dtstart or rule._dtstart))
    copy.meter = meter
    return copy


def moved_to(rule: rrule, moment: datetime) -> datetime | None:
    """A start for ``rule`` at the beginning of its period containing ``moment`` (None: keep DTSTART).

    The rule from that start (with its parameters spelled out, see :func:`metered`) has exactly the
    original's occurrences from that start on. Rules with COUNT keep DTSTART (the count runs from
    there), as do moments before DTSTART. ``moment`` is compared in the wall-clock time of DTSTART.
    """
    start: datetime = rule._dtstart
    zone = start.tzinfo
    if rule._count is not None:
        return None
    local = moment.astimezone(zone) if (zone is not None and moment.tzinfo is not None) else moment
    naive_start, naive_moment = start.replace(tzinfo=None), local.replace(tzinfo=None)
    if naive_moment <= naive_start:
        return None
    freq, interval = rule._freq, rule._interval
    if freq in _SECONDS:
        step = timedelta(seconds=_SECONDS[freq] * interval)
        moved = naive_start + step * ((naive_moment - naive_start) // step)
    elif freq in (DAILY, WEEKLY):
        anchor = naive_start.replace(hour=0, minute=0, second=0, microsecond=0)
        if freq == WEEKLY:  # the first day of DTSTART's week (dateutil's weekly periods)
            anchor -= timedelta(days=(anchor.weekday() - rule._wkst) % 7)
        step = timedelta(days=interval * (7 if freq == WEEKLY else 1))
        moved = anchor + step * ((naive_moment - anchor) // step)
    elif freq == MONTHLY:
        months = (naive_moment.year - naive_start.year) * 12 + naive_moment.month - naive_start.month
        index = naive_start.year * 12 + naive_start.month - 1 + months // interval * interval
        moved = datetime(index // 12, index % 12 + 1, 1)
    elif freq == YEARLY:
        years = naive_moment.year - naive_start.year
        moved = datetime(naive_start.year + years // interval * interval, 1, 1)
    else:  # pragma: no cover - dateutil knows no other frequency
        return None
    return moved.replace(tzinfo=zone) if moved > naive_start else None


#: The most days each month has (February: in a leap year).
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_length(month: int, leap: bool) -> int:
    return 29 if (month == 2 and leap) else (28 if month == 2 else _MONTH_DAYS[month - 1])


def never_occurs(rule: rrule) -> bool:
    """Whether the rule's month and day filters exclude every day of every year (it never occurs).

    Arithmetic, without expanding: an occurrence must lie in one of BYMONTH's months and on one of
    BYMONTHDAY's days (counted from either end of the month) and on one of BYYEARDAY's days (counted
    from either end of the year). ``FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`` is refused here at once
    instead of by a scan of a hundred years (tens of milliseconds of CPU, during which every other
    request of the process waits for the interpreter).
    """
    months = tuple(rule._bymonth or range(1, 13))
    monthdays = set(rule._bymonthday or ()) | set(rule._bynmonthday or ())
    yeardays = tuple(rule._byyearday or ())
    for leap in (False, True):
        wanted = {y if y > 0 else 365 + leap + y + 1 for y in yeardays}
        for month in months:
            length = _month_length(month, leap)
            before = sum(_month_length(m, leap) for m in range(1, month))  # days of the year before the month
            for day in range(1, length + 1):
                if monthdays and day not in monthdays and day - length - 1 not in monthdays:
                    continue
                if wanted and before + day not in wanted:
                    continue
                return False
    return True


def check_rule(rule: rrule, meter: Meter, *, occurrences: int = CHECK_OCCURRENCES) -> None:
    """Refuse ``rule`` unless it occurs, and its expansion fits ``meter`` and ``occurrences``.

    A finite rule (COUNT or UNTIL) is expanded to its end; an infinite one to its first occurrence.

    Raises:
        RuleRefused: with the reason.
    """
    if rule._freq in _SECONDS and any(
        (
            rule._bysetpos,
            rule._bymonth,
            rule._bymonthday,
            rule._bynmonthday,
            rule._byyearday,
            rule._bynweekday,
            rule._byeaster,
            rule.__dict__.get("_byweekno", rule.__dict__.get("_byweekno_value")),
        )
    ):
        # dateutil steps such a rule second by second (or minute by minute) through days that cannot
        # match; a rule more frequent than daily gains nothing from those filters in a calendar.
        raise RuleRefused(
            "a rule repeating more often than daily may filter only by weekday (without ordinal), hour, minute"
            " and second"
        )
    if rule._freq == SECONDLY and (rule._byhour or rule._byminute):
        # dateutil steps through every second of the day to find the hours and minutes asked for: one a minute
        # (BYMINUTE=0;BYSECOND=0) cost ~8 ms of CPU a day of window, 0.75 s a 92-day listing.
        raise RuleRefused(
            "a rule repeating every second may not filter by hour or minute: write it as MINUTELY, HOURLY or DAILY"
        )
    if never_occurs(rule):
        raise RuleRefused("the recurrence rule never occurs")
    finite = rule._count is not None or rule._until is not None
    found = 0
    try:
        for _ in metered(rule, meter):
            found += 1
            if not finite:
                return
            if found > occurrences:
                raise RuleRefused(f"the recurrence rule has more than {occurrences} occurrences")
    except Exhausted as exc:
        what = "its last occurrence" if found else "any occurrence"
        raise RuleRefused(
            f"the recurrence rule does not reach {what} within the expansion budget "
            f"(about {meter.left} years of calendar)"
        ) from exc
    if not found:
        raise RuleRefused("the recurrence rule never occurs")
