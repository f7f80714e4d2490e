"""The calendar page's time grid as pure functions: where a block sits on a day and how wide it is.

A day column shows the hours ``[first, last)`` of the viewer's wall clock; a block's ``top`` and ``height``
are percentages of that span, so the HTML (and any other renderer of the page's JSON) only has to scale
them. Overlapping blocks of one day share the width side by side (``column`` of ``columns``); two
appointments that occupy time (``busy``: neither cancelled nor shown as free) and overlap are a *conflict*.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from math import ceil, floor
from typing import Generic, TypeVar

from caldav_bridge.scheduling.intervals import Interval, merge, subtract

__all__ = ["Block", "Hours", "Placed", "Segment", "bands", "free_time", "hours_for", "lay_out", "position"]

T = TypeVar("T")
#: The hours a grid shows at least (viewer's wall clock); working hours and appointments widen it.
DEFAULT_HOURS = (8, 18)
#: Free time shorter than this is not marked as free.
MIN_FREE = timedelta(minutes=15)


@dataclass(frozen=True)
class Hours:
    """The visible part of a day: from ``first`` o'clock to ``last`` o'clock (24: midnight after)."""

    first: int
    last: int

    @property
    def minutes(self) -> int:
        return (self.last - self.first) * 60


@dataclass(frozen=True)
class Segment(Generic[T]):
    """The part of ``item`` on one day (viewer's zone): ``[start, end)``; ``busy`` counts for conflicts, with
    the other busy segments of the same ``owner`` (a team's page shows several fitters: theirs never conflict)."""

    item: T
    start: datetime
    end: datetime
    busy: bool
    owner: str = ""


@dataclass(frozen=True)
class Block:
    """A positioned interval: ``top`` and ``height`` in percent of the visible hours."""

    start: datetime
    end: datetime
    top: float
    height: float


@dataclass(frozen=True)
class Placed(Generic[T]):
    """A segment on the grid: its block, its column among ``columns`` side by side, and whether it conflicts."""

    segment: Segment[T]
    block: Block
    column: int
    columns: int
    conflict: bool


def _minute_of_day(moment: datetime, day_start: datetime) -> int:
    """Wall-clock minutes since the day's midnight (1440 for the next midnight), so blocks meet the hour lines."""
    if moment.date() > day_start.date():
        return 1440
    return moment.hour * 60 + moment.minute


def position(start: datetime, end: datetime, day_start: datetime, hours: Hours) -> Block:
    """``[start, end)`` (inside the day starting at ``day_start``, same zone) as a block of ``hours``."""
    low, high = hours.first * 60, hours.last * 60
    a = min(max(_minute_of_day(start, day_start), low), high)
    b = min(max(_minute_of_day(end, day_start), low), high)
    span = hours.minutes
    return Block(start, end, round((a - low) * 100 / span, 4), round(max(b - a, 0) * 100 / span, 4))


def hours_for(intervals: Iterable[tuple[datetime, datetime]], day_starts: Sequence[datetime]) -> Hours:
    """The whole hours covering :data:`DEFAULT_HOURS` and every interval's part on any of the days."""
    first, last = DEFAULT_HOURS
    for start, end in intervals:
        for day_start in day_starts:
            day_end = datetime.combine(day_start.date() + timedelta(days=1), time(), day_start.tzinfo)
            if start >= day_end or end <= day_start:
                continue
            a = _minute_of_day(max(start, day_start).astimezone(day_start.tzinfo), day_start)
            b = _minute_of_day(min(end, day_end).astimezone(day_start.tzinfo), day_start)
            first, last = min(first, floor(a / 60)), max(last, ceil(b / 60))
    return Hours(max(first, 0), min(last, 24))


def bands(intervals: Iterable[Interval], day_start: datetime, hours: Hours) -> list[Block]:
    """``intervals`` (UTC or any zone) clipped to the day and positioned; empty parts dropped."""
    zone = day_start.tzinfo
    day_end = datetime.combine(day_start.date() + timedelta(days=1), time(), zone)
    out = []
    for start, end in merge(intervals):
        a, b = max(start.astimezone(zone), day_start), min(end.astimezone(zone), day_end)
        if a < b:
            block = position(a, b, day_start, hours)
            if block.height > 0:
                out.append(block)
    return out


def free_time(working: Iterable[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """Working time not taken by anything busy, in pieces of at least :data:`MIN_FREE`."""
    return [(a, b) for a, b in subtract(working, busy) if b - a >= MIN_FREE]


def lay_out(segments: Sequence[Segment[T]], day_start: datetime, hours: Hours) -> list[Placed[T]]:
    """Blocks of one day, overlapping ones side by side; busy ones overlapping another busy one of the same owner
    conflict."""
    ordered = sorted(segments, key=lambda s: (s.start, -(s.end - s.start).total_seconds()))
    conflicts = _conflicts(ordered)
    placed: list[Placed[T]] = []
    for cluster in _clusters(ordered):
        ends: list[datetime] = []  # per column, where its last block ends
        columns = []
        for segment in cluster:
            free = next((i for i, end in enumerate(ends) if end <= segment.start), None)
            if free is None:
                ends.append(segment.end)
                free = len(ends) - 1
            else:
                ends[free] = segment.end
            columns.append(free)
        for segment, column in zip(cluster, columns, strict=True):
            block = position(segment.start, segment.end, day_start, hours)
            placed.append(Placed(segment, block, column, len(ends), id(segment) in conflicts))
    return placed


def _clusters(ordered: Sequence[Segment[T]]) -> list[list[Segment[T]]]:
    """Runs of segments (sorted by start) that overlap one another, directly or through others."""
    clusters: list[list[Segment[T]]] = []
    end: datetime | None = None
    for segment in ordered:
        if end is None or segment.start >= end:
            clusters.append([])
            end = segment.end
        clusters[-1].append(segment)
        end = max(end, segment.end)
    return clusters


def _conflicts(ordered: Sequence[Segment[T]]) -> set[int]:
    """Ids of the busy segments (sorted by start) that overlap another busy segment of the same owner."""
    found: set[int] = set()
    active: list[Segment[T]] = []
    for segment in (s for s in ordered if s.busy):
        active = [a for a in active if a.end > segment.start]
        clashing = [a for a in active if a.owner == segment.owner]
        if clashing:
            found.add(id(segment))
            found.update(id(a) for a in clashing)
        active.append(segment)
    return found
