"""The calendar page's content: a week (or a day) of a feed's appointments on a time grid, in the viewer's zone.

The same token, window, rate limit and fetch records as the iCal feed (:mod:`caldav_bridge.services.feed_serving`),
and the same privacy rule (:mod:`caldav_bridge.converters.disclosure`): the page lists exactly the
appointments the feed at the token's level lists and shows of each exactly what the feed shows. All-day
appointments sit on their calendar-local dates (:func:`caldav_bridge.converters.ical.all_day_dates`) in
every viewer's zone. The HTML is the edge's (``feeds/templates/calendar_page.html``); :func:`page_json`
is the same page as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.disclosure import TYPE_LABELS, disclose, member_labels
from caldav_bridge.converters.ical import all_day_dates
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.appointment import EARLIEST, LATEST, Appointment, AppointmentStatus, shows_as_free
from caldav_bridge.model.feeds import Privacy
from caldav_bridge.model.series import TooManyOccurrences, occurrences_of
from caldav_bridge.scheduling.intervals import Interval, local_days, working_intervals
from caldav_bridge.scheduling.queries import SchedulingQueries
from caldav_bridge.scheduling.rules import DEFAULT_RULES
from caldav_bridge.services.feed_serving import (
    Client,
    FeedContext,
    RateLimited,
    Window,
    calendar_ids_of,
    check_rate,
    member_names_of,
    record_fetch,
    record_refusal,
    window_of,
)
from caldav_bridge.services.feed_tokens import Resolved, resolve
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.services.week_grid import Block, Hours, Placed, Segment, bands, free_time, hours_for, lay_out
from caldav_bridge.store.uow import UnitOfWork

__all__ = [
    "VIEWS",
    "Member",
    "Outside",
    "PageDay",
    "PageEvent",
    "PageQuery",
    "WeekPage",
    "calendar_page",
    "page_json",
    "parse_page_query",
]

VIEWS = ("week", "day", "agenda")
_STATUS_LABELS = {
    AppointmentStatus.INITIAL: "Tentative",
    AppointmentStatus.RESERVED: "Reserved",
    AppointmentStatus.BOOKED: "Booked",
    AppointmentStatus.RESCHEDULED: "Rescheduled",
    AppointmentStatus.CANCELLED: "Cancelled",
}
_DASH = "\u2013"


@dataclass(frozen=True)
class PageQuery:
    """What the viewer asked for: a date (any day of the week; default today), a zone (default the
    calendar's) and a view."""

    week: date | None = None
    timezone: str | None = None
    view: str = "week"
    day: date | None = None

    @property
    def anchor(self) -> date | None:
        return self.day or self.week


@dataclass(frozen=True)
class PageEvent:
    """An appointment as the page shows it: what its privacy level discloses, its times in both zones."""

    id: str
    title: str
    status: str | None  # None at busy privacy
    status_label: str | None
    type: str | None
    type_label: str | None
    location: str | None
    description: str | None
    cancelled: bool
    start: datetime  # in the viewer's zone
    end: datetime
    local_start: datetime  # in the calendar's zone
    local_end: datetime
    #: Calendar-local dates [first, day after last) of an all-day appointment; None when timed.
    dates: tuple[date, date] | None
    #: The calendar it is on (a team's page shows its members' too: only one calendar's can conflict).
    calendar_id: str = ""
    #: On a team's page: the member it belongs to, as the privacy level names them (also leading ``title``),
    #: and the member's place among the team's labelled members (for a colour beside the label).
    member: str | None = None
    member_index: int | None = None
    #: Shown as free (``meta.show_as`` ``free``, ``TRANSP:TRANSPARENT``, as the feed says at every level): listed
    #: but occupying no time, as availability counts it: never a conflict, and its time stays free time.
    transparent: bool = False

    @property
    def all_day(self) -> bool:
        return self.dates is not None

    @property
    def occupies(self) -> bool:
        """Whether it takes the fitter's time (for conflicts and free time): neither cancelled nor shown as free."""
        return not (self.cancelled or self.transparent)

    @property
    def zones_differ(self) -> bool:
        return self.start.utcoffset() != self.local_start.utcoffset() or (
            self.end.utcoffset() != self.local_end.utcoffset()
        )


@dataclass(frozen=True)
class DayItem:
    """An appointment in a day's all-day row (an all-day appointment, or one that takes the whole day)."""

    event: PageEvent
    label: str


@dataclass(frozen=True)
class GridItem:
    """An appointment's part on a day's grid."""

    event: PageEvent
    label: str  # viewer's zone
    fitter_label: str | None  # the calendar's zone, when its offset differs
    block: Block
    column: int
    columns: int
    conflict: bool


@dataclass
class PageDay:
    day: date
    is_today: bool
    #: "in", "partial" or "out": how much of the day lies inside the page's window.
    coverage: str
    all_day: list[DayItem] = field(default_factory=list)
    timed: list[GridItem] = field(default_factory=list)
    working: list[Block] = field(default_factory=list)
    free: list[Block] = field(default_factory=list)
    collapsed: bool = False

    @property
    def events(self) -> list[PageEvent]:
        return [i.event for i in self.all_day] + [i.event for i in self.timed]


@dataclass(frozen=True)
class Outside:
    """The asked-for period lies outside the window: nothing is shown, the nearest period inside is offered."""

    requested: date
    nearest: date


@dataclass(frozen=True)
class HourLabel:
    hour: int
    label: str
    fitter_label: str | None


@dataclass(frozen=True)
class Member:
    """A team member as the page labels them (their place among the members picks their colour)."""

    label: str
    index: int


@dataclass(frozen=True)
class WeekPage:
    calendar_name: str
    timezone: str
    calendar_timezone: str
    privacy: Privacy
    view: str
    start: date  # first day shown (a Monday for week and agenda)
    days: list[PageDay]
    hours: Hours
    hour_labels: list[HourLabel]
    previous: date | None
    next: date | None
    today: date
    window_start: date
    window_end: date
    outside: Outside | None = None
    now_day: date | None = None
    now_top: float | None = None
    #: A team's members, as the privacy level names them (none at ``busy``, none for a fitter's own calendar).
    members: list[Member] = field(default_factory=list)

    @property
    def week_start(self) -> date:
        return self.start

    @property
    def count(self) -> int:
        return len({e.id for d in self.days for e in d.events})

    @property
    def zones_differ(self) -> bool:
        return any(h.fitter_label for h in self.hour_labels) or any(e.zones_differ for d in self.days for e in d.events)

    @property
    def conflicts(self) -> int:
        return len({i.event.id for d in self.days for i in d.timed if i.conflict})


def parse_page_query(week: str | None, timezone: str | None, view: str | None, day: str | None = None) -> PageQuery:
    """Validate the query string; bad values are a :class:`ValidationFailed` naming the parameter."""
    errors = []
    dates: dict[str, date | None] = {"week": None, "day": None}
    for name, value in (("week", week), ("day", day)):
        if value:
            try:
                asked = date.fromisoformat(value)
            except ValueError:
                errors.append(FieldError(name, "a date such as 2026-12-07"))
                continue
            if not EARLIEST.date() <= asked < LATEST.date():  # the page's frame is shifted by days
                errors.append(FieldError(name, f"a date from {EARLIEST.year} to {LATEST.year - 1}"))
            dates[name] = asked
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("tz", f"unknown IANA time zone {timezone[:64]!r}"))
    if view not in (None, "", *VIEWS):
        errors.append(FieldError("view", "'week', 'day' or 'agenda'"))
    if errors:
        raise ValidationFailed(errors)
    return PageQuery(dates["week"], timezone or None, view or "week", dates["day"])


@dataclass(frozen=True)
class _Frame:
    """The period shown, in the viewer's zone, and where it lies against the window."""

    zone: ZoneInfo
    today: date
    start: date
    length: int  # days
    first: date  # the window's first and last dates in the viewer's zone
    last: date

    @property
    def step(self) -> timedelta:
        return timedelta(days=self.length)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.length)]

    def at(self, day: date) -> datetime:
        return datetime.combine(day, time(), self.zone)

    @property
    def outside(self) -> Outside | None:
        end = self.start + self.step
        if end > self.first and self.start <= self.last:
            return None
        nearest = min(max(self.start, self.first), self.last)
        return Outside(self.start, _monday(nearest) if self.length == 7 else nearest)


def calendar_page(
    uow: UnitOfWork, ctx: FeedContext, secret: str, client: Client, query: PageQuery, *, now: datetime | None = None
) -> WeekPage:
    """The week or day of the calendar behind ``secret``; records the fetch. NotFound / RateLimited as for feeds."""
    try:
        check_rate(ctx.limiter, secret)
    except RateLimited as exc:
        if getattr(exc, "first_refusal", False):
            record_refusal(uow, secret, client)
        raise
    now = now or utcnow()
    window = window_of(ctx.config, now)
    with uow:
        resolved, token = resolve(uow, secret)
        frame = _frame(query, resolved.timezone, window, now)
        shown: list[Appointment] = []
        days: list[PageDay] = []
        hours = Hours(8, 18)
        labels: dict[str, str] = {}
        if frame.outside is None:
            shown = _appointments(uow, resolved, frame, window)
            working = _working(uow, resolved, frame)
            labels = member_labels(member_names_of(uow, resolved), resolved.privacy)
            days, hours = _days(frame, window, shown, working, resolved, labels)
        ids = [str(a.id) for a in shown] if resolved.privacy is Privacy.FULL else []
        record_fetch(uow, token, resolved, client, 200, now, count=len(shown), appointment_ids=ids, what="page")
        uow.commit()
    page = _page(query, resolved, frame, days, hours, now)
    members = [Member(labels[k], i) for i, k in enumerate(sorted(labels))]  # a colour per member, kept week to week
    return replace(page, members=sorted(members, key=lambda m: m.label))


def _frame(query: PageQuery, calendar_zone: str, window: Window, now: datetime) -> _Frame:
    zone = ZoneInfo(query.timezone or calendar_zone)
    today = now.astimezone(zone).date()
    anchor = query.anchor or today
    length = 1 if query.view == "day" else 7
    start = anchor if length == 1 else _monday(anchor)
    first = window.start.astimezone(zone).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(zone).date()
    return _Frame(zone, today, start, length, first, last)


def _appointments(uow: UnitOfWork, resolved: Resolved, frame: _Frame, window: Window) -> list[Appointment]:
    """What the feed lists, inside the frame (a day more on each side: all-day ones are on calendar dates)."""
    start = max(frame.at(frame.start - timedelta(days=1)), window.start)
    end = min(frame.at(frame.start + frame.step + timedelta(days=1)), window.end)
    if start >= end:
        return []
    cancelled_since = window.listed_cancelled_since(resolved.privacy)
    rows = uow.feeds.shown(calendar_ids_of(uow, resolved), start, end, cancelled_since)
    shown: list[Appointment] = []
    for row in rows:
        appointment = appointment_from_row(row)
        try:  # a series: each of its occurrences in the frame
            shown.extend(copy for _, copy in occurrences_of(appointment, row.calendar.timezone, start, end))
        except TooManyOccurrences:
            shown.append(appointment)
    return sorted(shown, key=lambda a: (a.date_start, str(a.id)))


def _working(uow: UnitOfWork, resolved: Resolved, frame: _Frame) -> list[Interval]:
    """The calendar's working hours (its scheduling rules, else its team's, else the defaults) over the frame."""
    calendar = uow.calendars.get(resolved.calendar_id)
    if calendar is None:
        return []
    queries = uow.repo(SchedulingQueries)
    rules = queries.rules_of(calendar) or DEFAULT_RULES
    zone = ZoneInfo(resolved.timezone)
    days = local_days(frame.at(frame.start - timedelta(days=1)), frame.at(frame.start + frame.step), zone)
    return working_intervals(rules, queries.exceptions_of(calendar), zone, days)


def _event(
    appointment: Appointment, privacy: Privacy, zone: ZoneInfo, calendar_zone: str, labels: dict[str, str]
) -> PageEvent:
    shown = disclose(appointment, privacy, labels.get(appointment.calendar.id))
    local = ZoneInfo(calendar_zone)
    return PageEvent(
        id=str(appointment.id),
        title=shown.title,
        status=shown.status.value if shown.status else None,
        status_label=_STATUS_LABELS[shown.status] if shown.status else None,
        type=shown.type,
        type_label=TYPE_LABELS.get(shown.type) if shown.type else None,
        location=shown.location,
        description=shown.description,
        cancelled=shown.cancelled,
        start=appointment.date_start.astimezone(zone),
        end=appointment.date_end.astimezone(zone),
        local_start=appointment.date_start.astimezone(local),
        local_end=appointment.date_end.astimezone(local),
        dates=all_day_dates(appointment, calendar_zone),
        calendar_id=appointment.calendar.id,
        member=shown.member,
        member_index=sorted(labels).index(appointment.calendar.id) if shown.member else None,
        transparent=shows_as_free(appointment),
    )


def _days(
    frame: _Frame,
    window: Window,
    shown: list[Appointment],
    working: list[Interval],
    resolved: Resolved,
    labels: dict[str, str],
) -> tuple[list[PageDay], Hours]:
    events = [_event(a, resolved.privacy, frame.zone, resolved.timezone, labels) for a in shown]
    starts = [frame.at(d) for d in frame.days]
    timed = [e for e in events if not e.all_day]
    hours = hours_for([*((e.start, e.end) for e in timed if not _whole_day(e, starts)), *working], starts)
    days = []
    for day, day_start in zip(frame.days, starts, strict=True):
        day_end = frame.at(day + timedelta(days=1))
        page_day = PageDay(day, day == frame.today, _coverage(day_start, day_end, window))
        segments: list[Segment[PageEvent]] = []
        for event in events:
            _place(event, page_day, day_start, day_end, segments)
        page_day.timed = [_grid_item(p, day_start, day_end) for p in lay_out(segments, day_start, hours)]
        page_day.working = bands(working, day_start, hours)
        busy = [(s.start, s.end) for s in segments if s.busy]
        busy += [(day_start, day_end) for i in page_day.all_day if not i.event.all_day and i.event.occupies]
        page_day.free = bands(free_time(working, busy), day_start, hours)
        # an empty weekend day collapses; one outside the window stays, to say so (never "no appointments")
        page_day.collapsed = day.weekday() >= 5 and page_day.coverage == "in" and not page_day.events
        page_day.collapsed = page_day.collapsed and not page_day.working
        days.append(page_day)
    return days, hours


def _whole_day(event: PageEvent, starts: list[datetime]) -> bool:
    """A timed appointment that covers some shown day completely (it goes to that day's all-day row)."""
    return any(event.start <= s and event.end >= s + timedelta(days=1) for s in starts)


def _place(
    event: PageEvent, day: PageDay, day_start: datetime, day_end: datetime, segments: list[Segment[PageEvent]]
) -> None:
    """Put ``event`` into the day's all-day row or onto its grid, if it is on that day at all."""
    if event.dates is not None:
        if event.dates[0] <= day.day < event.dates[1]:
            day.all_day.append(DayItem(event, "All day"))
        return
    if event.end <= day_start or event.start >= day_end:
        return
    if event.start <= day_start and event.end >= day_end:
        day.all_day.append(DayItem(event, "All day"))
        return
    part = (max(event.start, day_start), min(event.end, day_end))
    segments.append(Segment(event, *part, busy=event.occupies, owner=event.calendar_id))


def _grid_item(placed: Placed[PageEvent], day_start: datetime, day_end: datetime) -> GridItem:
    event = placed.segment.item
    fitter = None
    if event.zones_differ:
        fitter = _label(event.local_start, event.local_end, day_start.astimezone(event.local_start.tzinfo), None)
    return GridItem(
        event=event,
        label=_label(event.start, event.end, day_start, day_end),
        fitter_label=fitter,
        block=placed.block,
        column=placed.column,
        columns=placed.columns,
        conflict=placed.conflict,
    )


def _label(start: datetime, end: datetime, day_start: datetime, day_end: datetime | None) -> str:
    """``09:00-10:00`` (an en dash); ``until 14:00`` / ``from 22:00`` for a part of an appointment crossing midnight."""
    if day_end is not None and start < day_start:
        return f"until {end:%H:%M}"
    if day_end is not None and end > day_end:
        return f"from {start:%H:%M}"
    return f"{start:%H:%M}{_DASH}{end:%H:%M}"


def _coverage(day_start: datetime, day_end: datetime, window: Window) -> str:
    if day_end <= window.start or day_start >= window.end:
        return "out"
    if day_start < window.start or day_end > window.end:
        return "partial"
    return "in"


def _hour_labels(frame: _Frame, hours: Hours, calendar_zone: str) -> list[HourLabel]:
    """The grid's hour labels in the viewer's zone, with the calendar's wall time when its offset differs
    (on the first shown day)."""
    local = ZoneInfo(calendar_zone)
    day_start = frame.at(frame.start)
    labels = []
    for hour in range(hours.first, hours.last):
        moment = day_start + timedelta(hours=hour)
        there = moment.astimezone(local)
        fitter = f"{there:%H:%M}" if there.utcoffset() != moment.utcoffset() else None
        labels.append(HourLabel(hour, f"{hour:02d}:00", fitter))
    return labels


def _page(
    query: PageQuery, resolved: Resolved, frame: _Frame, days: list[PageDay], hours: Hours, now: datetime
) -> WeekPage:
    outside = frame.outside
    viewer_now = now.astimezone(frame.zone)
    now_top = None
    if frame.start <= viewer_now.date() < frame.start + frame.step:
        minutes = viewer_now.hour * 60 + viewer_now.minute - hours.first * 60
        if 0 <= minutes <= hours.minutes:
            now_top = round(minutes * 100 / hours.minutes, 4)
    return WeekPage(
        calendar_name=resolved.calendar_name,
        timezone=frame.zone.key,
        calendar_timezone=resolved.timezone,
        privacy=resolved.privacy,
        view=query.view,
        start=frame.start,
        days=days,
        hours=hours,
        hour_labels=_hour_labels(frame, hours, resolved.timezone),
        previous=frame.start - frame.step if outside is None and frame.start > frame.first else None,
        next=frame.start + frame.step if outside is None and frame.start + frame.step <= frame.last else None,
        today=_monday(frame.today) if frame.length == 7 else frame.today,
        window_start=frame.first,
        window_end=frame.last,
        outside=outside,
        now_day=viewer_now.date() if now_top is not None else None,
        now_top=now_top,
    )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --------------------------------------------------------------------------- JSON


def _event_json(event: PageEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "title": event.title,
        "status": event.status,
        "type": event.type,
        "location": event.location,
        "description": event.description,
        "cancelled": event.cancelled,
        "transparent": event.transparent,
        "start": event.start.isoformat(),
        "end": event.end.isoformat(),
        "calendar_start": event.local_start.isoformat(),
        "calendar_end": event.local_end.isoformat(),
        "all_day": [d.isoformat() for d in event.dates] if event.dates else None,
        "member": event.member,
    }


def _block_json(block: Block) -> dict[str, Any]:
    return {"start": block.start.isoformat(), "end": block.end.isoformat(), "top": block.top, "height": block.height}


def _day_json(day: PageDay) -> dict[str, Any]:
    return {
        "date": day.day.isoformat(),
        "today": day.is_today,
        "coverage": day.coverage,
        "collapsed": day.collapsed,
        "all_day": [{**_event_json(i.event), "label": i.label} for i in day.all_day],
        "timed": [
            {
                **_event_json(i.event),
                "label": i.label,
                "calendar_label": i.fitter_label,
                **{k: v for k, v in _block_json(i.block).items() if k in ("top", "height")},
                "column": i.column,
                "columns": i.columns,
                "conflict": i.conflict,
            }
            for i in day.timed
        ],
        "working": [_block_json(b) for b in day.working],
        "free": [_block_json(b) for b in day.free],
    }


def page_json(page: WeekPage) -> dict[str, Any]:
    """The page as JSON: the same content the HTML shows (and no more than the feed at that privacy)."""
    return {
        "calendar": {"name": page.calendar_name, "timezone": page.calendar_timezone},
        "timezone": page.timezone,
        "privacy": page.privacy.value,
        "view": page.view,
        "start": page.start.isoformat(),
        "hours": {"first": page.hours.first, "last": page.hours.last},
        "window": {"start": page.window_start.isoformat(), "end": page.window_end.isoformat()},
        "outside": None
        if page.outside is None
        else {"requested": page.outside.requested.isoformat(), "nearest": page.outside.nearest.isoformat()},
        "previous": page.previous.isoformat() if page.previous else None,
        "next": page.next.isoformat() if page.next else None,
        "now": {"date": page.now_day.isoformat(), "top": page.now_top} if page.now_day else None,
        "members": [m.label for m in page.members],
        "days": [_day_json(d) for d in page.days],
    }
