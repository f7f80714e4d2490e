"""Free slots as pure functions over UTC intervals: working hours minus busy time and buffers.

Nothing here touches the database or the clock, so the properties the issue asks for (no slot
overlaps a busy interval, leaves working hours, or breaks a buffer) are tested directly with
hypothesis (``tests/scheduling/test_properties.py``).

Buffers: an appointment occupies ``[start - before, end + after)`` of its calendar, and two
occupied intervals may not overlap. So the gap between two appointments is at least
``after + before`` (a fitter's travel time after a visit plus any set-up time before the next).
The same buffered interval is what :class:`~caldav_bridge.scheduling.tables.SlotClaimRow` stores
and what PostgreSQL's exclusion constraint compares.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from caldav_bridge.scheduling.rules import WEEKDAYS, AvailabilityRules, TimeRange, parse_clock

__all__ = [
    "Interval",
    "SlotSpec",
    "buffered",
    "day_counts",
    "free_slots",
    "local_days",
    "merge",
    "overlaps",
    "subtract",
    "unfit_reason",
    "working_intervals",
]

Interval = tuple[datetime, datetime]
#: Candidate slots per working interval are bounded so that a bad rule cannot loop for long.
MAX_CANDIDATES = 100_000


def overlaps(a: Interval, b: Interval) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping and touching intervals joined; empty ones dropped."""
    result: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if result and start <= result[-1][1]:
            if end > result[-1][1]:
                result[-1] = (result[-1][0], end)
        else:
            result.append((start, end))
    return result


def subtract(base: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """``base`` minus ``cuts`` (both any order); the result is merged."""
    cut_list = merge(cuts)
    result: list[Interval] = []
    for start, end in merge(base):
        cursor = start
        for cut_start, cut_end in cut_list:
            if cut_end <= cursor or cut_start >= end:
                continue
            if cut_start > cursor:
                result.append((cursor, cut_start))
            cursor = max(cursor, cut_end)
            if cursor >= end:
                break
        if cursor < end:
            result.append((cursor, end))
    return result


def buffered(interval: Interval, before: timedelta, after: timedelta) -> Interval:
    return interval[0] - before, interval[1] + after


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date in ``zone`` that ``[start, end)`` touches."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date() if end > start else first
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _at(day: date, clock: str, zone: ZoneInfo) -> datetime:
    """Local wall-clock ``clock`` on ``day`` in ``zone``, in UTC.

    A time skipped by a DST change (02:30 on a spring-forward night) resolves with the offset in
    force before the change (fold=0), i.e. one hour later in wall-clock terms; an ambiguous one
    (fall-back night) is its first occurrence.
    """
    wall, extra_days = parse_clock(clock)
    naive = datetime.combine(day + timedelta(days=extra_days), wall)
    return naive.replace(tzinfo=zone).astimezone(UTC)


def working_intervals(
    rules: AvailabilityRules,
    exceptions: Mapping[date, Sequence[TimeRange]],
    zone: ZoneInfo,
    days: Iterable[date],
) -> list[Interval]:
    """Working hours minus breaks on ``days`` (local dates), in UTC; an exception replaces a day's hours."""
    spans: list[Interval] = []
    cuts: list[Interval] = []
    for day in days:
        weekday = WEEKDAYS[day.weekday()]
        hours = exceptions[day] if day in exceptions else rules.weekly_hours.get(weekday, [])  # type: ignore[call-overload]
        for r in hours:
            spans.append((_at(day, r.start, zone), _at(day, r.end, zone)))
        for r in rules.breaks.get(weekday, []):  # type: ignore[call-overload]
            cuts.append((_at(day, r.start, zone), _at(day, r.end, zone)))
    return subtract(spans, cuts)


@dataclass(frozen=True)
class SlotSpec:
    """What a slot must satisfy besides fitting into working time and missing busy time."""

    duration: timedelta
    step: timedelta
    before: timedelta = timedelta(0)
    after: timedelta = timedelta(0)
    #: Earliest start (now + minimum notice) and latest start (now + horizon).
    not_before: datetime | None = None
    not_after: datetime | None = None
    max_per_day: int | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))


def day_counts(busy: Iterable[Interval], zone: ZoneInfo) -> dict[date, int]:
    """How many busy appointments start on each local date."""
    counts: dict[date, int] = {}
    for start, _ in busy:
        day = start.astimezone(zone).date()
        counts[day] = counts.get(day, 0) + 1
    return counts


class _Busy:
    """Merged buffered busy intervals with a bisect lookup."""

    def __init__(self, busy: Iterable[Interval], spec: SlotSpec) -> None:
        self.intervals = merge(buffered(b, spec.before, spec.after) for b in busy)
        self.ends = [end for _, end in self.intervals]

    def hits(self, interval: Interval) -> bool:
        index = bisect_right(self.ends, interval[0])
        return index < len(self.intervals) and self.intervals[index][0] < interval[1]


def unfit_reason(
    slot: Interval,
    working: Sequence[Interval],
    busy: Sequence[Interval],
    spec: SlotSpec,
    counts: Mapping[date, int] | None = None,
) -> str | None:
    """Why ``slot`` cannot be booked, or ``None`` when it can (the check a booking repeats)."""
    start, end = slot
    if spec.not_before is not None and start < spec.not_before:
        return "the slot starts sooner than the minimum notice allows"
    if spec.not_after is not None and start > spec.not_after:
        return "the slot is beyond the booking horizon"
    if not any(w_start <= start and end <= w_end for w_start, w_end in working):
        return "the slot is outside working hours"
    if _Busy(busy, spec).hits(buffered(slot, spec.before, spec.after)):
        return "the slot overlaps another appointment or its buffer"
    if spec.max_per_day is not None:
        counts = day_counts(busy, spec.zone) if counts is None else counts
        if counts.get(start.astimezone(spec.zone).date(), 0) >= spec.max_per_day:
            return "the day already has the maximum number of appointments"
    return None


def free_slots(
    working: Sequence[Interval],
    busy: Sequence[Interval],
    spec: SlotSpec,
    window: Interval | None = None,
) -> list[Interval]:
    """Bookable slots: starts step from each working interval's start; each slot lies in working
    time, its buffered interval misses every buffered busy interval, it respects notice, horizon
    and the per-day maximum, and (if ``window`` is given) it lies inside ``window``.
    """
    if spec.duration <= timedelta(0) or spec.step <= timedelta(0):
        return []
    index = _Busy(busy, spec)
    counts = day_counts(busy, spec.zone) if spec.max_per_day is not None else {}
    slots: list[Interval] = []
    for w_start, w_end in merge(working):
        candidate = w_start
        for _ in range(MAX_CANDIDATES):
            end = candidate + spec.duration
            if end > w_end:
                break
            slot = (candidate, end)
            candidate += spec.step
            if window is not None and (slot[0] < window[0] or slot[1] > window[1]):
                continue
            if spec.not_before is not None and slot[0] < spec.not_before:
                continue
            if spec.not_after is not None and slot[0] > spec.not_after:
                break
            if index.hits(buffered(slot, spec.before, spec.after)):
                continue
            if spec.max_per_day is not None and counts.get(slot[0].astimezone(spec.zone).date(), 0) >= spec.max_per_day:
                continue
            slots.append(slot)
    return slots
