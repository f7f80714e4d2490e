"""The calendar page's content: one week of a feed's appointments, in the viewer's zone, at the token's privacy.

The same token, window and privacy rules as the iCal feed (:mod:`caldav_bridge.services.feed_serving`);
the HTML itself is the edge's (``feeds/templates/calendar_page.html``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from caldav_bridge.clock import utcnow
from caldav_bridge.converters.ical import TYPE_LABELS, location, summary
from caldav_bridge.errors import FieldError, ValidationFailed
from caldav_bridge.model.appointment import Appointment, AppointmentStatus
from caldav_bridge.model.feeds import Privacy
from caldav_bridge.services.feed_serving import (
    Client,
    FeedContext,
    RateLimited,
    calendar_ids_of,
    check_rate,
    record_fetch,
    record_refusal,
    window_of,
)
from caldav_bridge.services.feed_tokens import resolve
from caldav_bridge.services.mapping import appointment_from_row
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["PageDay", "PageEvent", "PageQuery", "WeekPage", "calendar_page", "parse_page_query"]

_STATUS_LABELS = {
    AppointmentStatus.INITIAL: "Tentative",
    AppointmentStatus.RESERVED: "Reserved",
    AppointmentStatus.BOOKED: "Booked",
    AppointmentStatus.RESCHEDULED: "Rescheduled",
    AppointmentStatus.CANCELLED: "Cancelled",
}


@dataclass(frozen=True)
class PageQuery:
    """What the viewer asked for: a week (any day in it; default this week) and a zone (default the calendar's)."""

    week: date | None = None
    timezone: str | None = None
    view: str = "week"


@dataclass(frozen=True)
class PageEvent:
    id: str
    title: str
    start: datetime  # in the viewer's zone
    end: datetime
    time_label: str  # "09:00-10:00", "All day", "until 14:00", ...
    status: str
    status_label: str
    type_label: str | None
    location: str | None
    cancelled: bool
    all_day: bool


@dataclass
class PageDay:
    day: date
    is_today: bool
    events: list[PageEvent] = field(default_factory=list)


@dataclass(frozen=True)
class WeekPage:
    calendar_name: str
    timezone: str
    calendar_timezone: str
    privacy: Privacy
    view: str
    week_start: date
    days: list[PageDay]
    previous_week: date | None
    next_week: date | None
    this_week: date
    window_start: date
    window_end: date

    @property
    def count(self) -> int:
        return len({e.id for d in self.days for e in d.events})


def parse_page_query(week: str | None, timezone: str | None, view: str | None) -> PageQuery:
    """Validate the query string; bad values are a :class:`ValidationFailed` naming the parameter."""
    errors = []
    day = None
    if week:
        try:
            day = date.fromisoformat(week)
        except ValueError:
            errors.append(FieldError("week", "a date such as 2026-12-07"))
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(FieldError("tz", f"unknown IANA time zone {timezone[:64]!r}"))
    if view not in (None, "", "week", "agenda"):
        errors.append(FieldError("view", "'week' or 'agenda'"))
    if errors:
        raise ValidationFailed(errors)
    return PageQuery(day, timezone or None, view or "week")


def calendar_page(
    uow: UnitOfWork, ctx: FeedContext, secret: str, client: Client, query: PageQuery, *, now: datetime | None = None
) -> WeekPage:
    """One week of the calendar behind ``secret``; records the fetch. NotFound / RateLimited as for feeds."""
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
        zone_name = query.timezone or resolved.timezone
        zone = ZoneInfo(zone_name)
        today = now.astimezone(zone).date()
        monday = _monday(query.week or today)
        first_week, last_week = (
            _monday(window.start.astimezone(zone).date()),
            _monday(window.end.astimezone(zone).date()),
        )
        monday = min(max(monday, first_week), last_week)
        start = datetime.combine(monday, time(), zone)
        end = datetime.combine(monday + timedelta(days=7), time(), zone)
        rows = uow.feeds.shown(
            calendar_ids_of(uow, resolved), max(start, window.start), min(end, window.end), window.cancelled_since
        )
        days = [PageDay(monday + timedelta(days=i), monday + timedelta(days=i) == today) for i in range(7)]
        for row in rows:
            appointment = appointment_from_row(row)
            event = _event(appointment, resolved.privacy, zone)
            for day in days:
                day_start = datetime.combine(day.day, time(), zone)
                if event.start < day_start + timedelta(days=1) and event.end > day_start:
                    day.events.append(_label(event, day_start))
        shown = [r.id for r in rows] if resolved.privacy is Privacy.FULL else []
        record_fetch(uow, token, resolved, client, 200, now, count=len(rows), appointment_ids=shown, what="page")
        uow.commit()
    return WeekPage(
        calendar_name=resolved.calendar_name,
        timezone=zone_name,
        calendar_timezone=resolved.timezone,
        privacy=resolved.privacy,
        view=query.view,
        week_start=monday,
        days=days,
        previous_week=monday - timedelta(days=7) if monday > first_week else None,
        next_week=monday + timedelta(days=7) if monday < last_week else None,
        this_week=_monday(today),
        window_start=window.start.astimezone(zone).date(),
        window_end=window.end.astimezone(zone).date(),
    )


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _event(appointment: Appointment, privacy: Privacy, zone: ZoneInfo) -> PageEvent:
    all_day = getattr(appointment.meta, "all_day", None) is True
    start, end = appointment.date_start.astimezone(zone), appointment.date_end.astimezone(zone)
    if all_day:
        start = datetime.combine(start.date(), time(), zone)
        end_day = end.date() if end.time() == time() else end.date() + timedelta(days=1)
        end = datetime.combine(max(end_day, start.date() + timedelta(days=1)), time(), zone)
    title = summary(appointment, privacy)
    if privacy is Privacy.FULL:
        names = [" ".join(n for n in (g.first_name, g.last_name) if n) for g in appointment.guests]
        names = [n for n in names if n]
        if names:
            title = f"{title} ({', '.join(names)})" if not any(n in title for n in names) else title
    return PageEvent(
        id=str(appointment.id),
        title=title,
        start=start,
        end=end,
        time_label="",
        status=appointment.status.value,
        status_label=_STATUS_LABELS[appointment.status],
        type_label=None if privacy is Privacy.BUSY else TYPE_LABELS.get(appointment.meta.type, None),
        location=None if privacy is Privacy.BUSY else location(appointment),
        cancelled=appointment.status is AppointmentStatus.CANCELLED,
        all_day=all_day,
    )


def _label(event: PageEvent, day_start: datetime) -> PageEvent:
    """``event`` with the time label it has on the day starting at ``day_start``."""
    day_end = day_start + timedelta(days=1)
    if event.all_day or (event.start <= day_start and event.end >= day_end):
        label = "All day"
    elif event.start < day_start:
        label = f"until {event.end:%H:%M}"
    elif event.end > day_end:
        label = f"from {event.start:%H:%M}"
    else:
        label = f"{event.start:%H:%M}\u2013{event.end:%H:%M}"  # an en dash
    return replace(event, time_label=label)
