"""Canonical appointments → iCalendar (RFC 5545, RFC 7986), built and serialised by icalendar 7.

Pure: no I/O, no clock, no randomness. The same appointment and options always give the same
bytes, which is what keeps feed ETags stable (Google reprocesses everything when a feed changes).

* :func:`vevent` / :func:`vevent_bytes`: one appointment as a VEVENT, at a privacy level.
* :func:`vtimezone` / :func:`vtimezones`: Outlook-style VTIMEZONEs (a yearly RRULE per observance) generated
  from IANA data (zoneinfo), exact for the feed's window.
* :func:`vcalendar`: a whole feed from already serialised VEVENTs (so a caller may cache them).
* :func:`single_event_calendar`: one appointment with its VTIMEZONE, full detail (CalDAV).

Mapping (``docs/feeds.md``): UID = appointment id; DTSTAMP and LAST-MODIFIED = ``updated_at``;
CREATED = ``created_at``; SEQUENCE = the stored sequence (+1 once cancelled); TRANSP TRANSPARENT when
cancelled or shown as free (``meta.show_as`` ``free``), else OPAQUE; STATUS INITIAL and
RESERVED → TENTATIVE, BOOKED and RESCHEDULED → CONFIRMED, CANCELLED → CANCELLED; times in the
calendar's zone with TZID (never floating); ``meta.all_day`` → DATE values; ``meta.location`` →
LOCATION; ``X-APPOINTMENT-TYPE`` = ``meta.type``; at ``full`` only, ``meta.categories`` → CATEGORIES,
``meta.organizer`` → ORGANIZER and ``meta.attendees`` → ATTENDEE (``mailto:``, CN, a guest's X-GUEST-ID).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import (
    Alarm,
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vCalAddress,
    vDuration,
    vRecur,
)
from icalendar.parser import param_value

from caldav_bridge.converters.disclosure import (
    TYPE_LABELS,
    Contact,
    Disclosed,
    description,
    disclose,
    guest_initials,
    location,
    summary,
)
from caldav_bridge.converters.ical_text import fold, guest_id_written, text, utc_stamp, when
from caldav_bridge.model.appointment import Appointment, AppointmentStatus, is_transparent, shows_as_free
from caldav_bridge.model.feeds import Privacy

__all__ = [
    "PRODID",
    "RENDER_VERSION",
    "TYPE_LABELS",
    "CalendarInfo",
    "EventOptions",
    "Privacy",
    "address_line",
    "all_day_dates",
    "contact_lines",
    "description",
    "event_dates",
    "guest_initials",
    "ical_status",
    "location",
    "single_event_calendar",
    "summary",
    "timezone_range",
    "vcalendar",
    "vevent",
    "vevent_bytes",
    "vevent_bytes_reference",
    "vevent_text",
    "vtimezone",
    "vtimezone_text",
    "vtimezones",
    "written_sequence",
]

PRODID = "-//Appointment Service//Feeds 1.0//EN"
#: Bumped whenever the rendering changes, so that cached bodies and ETags change with it.
#: 2: VEVENTs written by :func:`vevent_bytes` (the fast serialiser): a backslash followed by N in a text is
#: escaped like any backslash and control characters are dropped (icalendar made the one a line break and kept
#: the other).
#: 3: VTIMEZONEs in the Outlook style (one STANDARD and one DAYLIGHT from 1970 with a yearly RRULE, DTSTART the
#: wall time before the transition) instead of icalendar's ``Timezone.from_tzid`` (one-off onsets).
#: 4: at ``busy`` privacy no STATUS (a busy block has no status; cancelled appointments are not listed there).
#: 5: ``TRANSP:TRANSPARENT`` also for an appointment shown as free (``meta.show_as`` ``free``).
#: 6: at ``full`` CATEGORIES, ORGANIZER and ATTENDEE from ``meta``; an override's own title, notes and place.
RENDER_VERSION = "6"
_END = b"END:VCALENDAR\r\n"

_STATUS = {
    AppointmentStatus.INITIAL: "TENTATIVE",
    AppointmentStatus.RESERVED: "TENTATIVE",
    AppointmentStatus.BOOKED: "CONFIRMED",
    AppointmentStatus.RESCHEDULED: "CONFIRMED",
    AppointmentStatus.CANCELLED: "CANCELLED",
}


@dataclass(frozen=True)
class EventOptions:
    """How to render appointments: privacy, the zone of DTSTART/DTEND, an optional alarm and link."""

    privacy: Privacy = Privacy.FULL
    timezone: str = "UTC"
    alarm_minutes: int | None = None
    #: ``https://cockpit.example/appointments/{id}``; empty for no URL property.
    url_template: str = ""

    def key(self) -> str:
        """A string that changes whenever these options change the rendered bytes."""
        return "|".join((RENDER_VERSION, self.privacy, self.timezone, str(self.alarm_minutes), self.url_template))


@dataclass(frozen=True)
class CalendarInfo:
    """The VCALENDAR's own properties."""

    uid: str
    name: str
    description: str
    timezone: str
    refresh: timedelta = timedelta(hours=1)
    prodid: str = PRODID


def ical_status(status: AppointmentStatus) -> str:
    return _STATUS[status]


def all_day_dates(appointment: Appointment, timezone: str) -> tuple[date, date] | None:
    """The local dates (first, day after the last) in the calendar's ``timezone`` of an all-day
    appointment, ``None`` for a timed one. The one place that decides what is all-day and on which dates:
    the feed's DATE values and the calendar page's all-day row both come from here, in every viewer's zone.

    Today an appointment is all-day when ``meta.all_day`` is true (CalDAV all-day events arrive as
    midnight-to-midnight instants of the calendar's zone); its dates are those its instants touch there.
    """
    if getattr(appointment.meta, "all_day", None) is not True:
        return None
    zone = ZoneInfo(timezone)
    start, end = appointment.date_start.astimezone(zone), appointment.date_end.astimezone(zone)
    first = start.date()
    last = end.date() if end.time() == datetime.min.time() else end.date() + timedelta(days=1)
    return first, max(last, first + timedelta(days=1))


def event_dates(appointment: Appointment, timezone: str) -> tuple[date | datetime, date | datetime]:
    """DTSTART and DTEND: datetimes in ``timezone``, or local dates for an all-day appointment."""
    dates = all_day_dates(appointment, timezone)
    if dates is not None:
        return dates
    zone = ZoneInfo(timezone)
    start, end = appointment.date_start.astimezone(zone), appointment.date_end.astimezone(zone)
    # A wall-clock time that occurs twice (the hour repeated when DST ends) is the first
    # occurrence for RFC 5545 §3.3.5 and for icalendar, vobject and ical, but the second for
    # ical.js (Thunderbird): such times are written in UTC, which every client reads alike.
    return (_unambiguous(start), _unambiguous(end))


def _unambiguous(value: datetime) -> datetime:
    ambiguous = value.replace(fold=1 - value.fold).utcoffset() != value.utcoffset()
    return value.astimezone(UTC) if ambiguous else value


def written_sequence(appointment: Appointment, sequence: int) -> int:
    """The SEQUENCE every channel writes for ``appointment`` stored at revision ``sequence``: a cancellation is a
    revision of its own (RFC 5546), one more than the last reschedule (the stored one does not count it, see
    ``services.appointments._status_revises``)."""
    return sequence + (1 if appointment.status is AppointmentStatus.CANCELLED else 0)


def vevent(appointment: Appointment, sequence: int, options: EventOptions, *, member: str | None = None) -> Event:
    """One appointment as a VEVENT at ``options.privacy`` (what it shows: :func:`.disclosure.disclose`;
    ``member``: on a team calendar, the member's label, :func:`.disclosure.member_labels`)."""
    cancelled = appointment.status is AppointmentStatus.CANCELLED
    shown = disclose(appointment, options.privacy, member)
    start, end = event_dates(appointment, options.timezone)
    event = Event()
    event.add("UID", str(appointment.id))
    event.add("DTSTAMP", appointment.updated_at)
    event.add("DTSTART", start)
    event.add("DTEND", end)
    event.add("SUMMARY", shown.title)
    event.add("SEQUENCE", written_sequence(appointment, sequence))
    if shown.status is not None:
        event.add("STATUS", ical_status(shown.status))
    event.add("TRANSP", "TRANSPARENT" if is_transparent(appointment) else "OPAQUE")
    if options.privacy is Privacy.BUSY:
        event.add("CLASS", "PRIVATE")
    else:
        event.add("CREATED", appointment.created_at)
        event.add("LAST-MODIFIED", appointment.updated_at)
        if shown.location:
            event.add("LOCATION", shown.location)
        if options.url_template:
            event.add("URL", options.url_template.replace("{id}", str(appointment.id)))
    if shown.type is not None:
        event.add("X-APPOINTMENT-TYPE", shown.type)
    if shown.description:
        event.add("DESCRIPTION", shown.description)
    if options.privacy is Privacy.FULL:
        event.add("X-APPOINTMENT-STATUS", appointment.status.value)
    _add_contacts(event, shown)
    if options.alarm_minutes is not None and not cancelled:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", shown.title)
        alarm.add("TRIGGER", timedelta(minutes=-options.alarm_minutes))
        event.add_component(alarm)
    return event


#: The parameter naming the guest an attendee is (``converters.ical_parse.GUEST_ID_PARAM``).
_GUEST_ID = "X-GUEST-ID"


def _add_contacts(event: Event, shown: Disclosed) -> None:
    """CATEGORIES, ORGANIZER and ATTENDEEs of what is shown (``full`` only)."""
    if shown.categories:
        event.add("CATEGORIES", list(shown.categories))
    if shown.organizer is not None:
        event.add("ORGANIZER", _address(shown.organizer))
    for attendee in shown.attendees:
        event.add("ATTENDEE", _address(attendee))


def _address(contact: Contact) -> vCalAddress:
    address = vCalAddress("mailto:" + contact.email)
    if contact.name:
        address.params["CN"] = contact.name
    if contact.guest_id:
        address.params[_GUEST_ID] = guest_id_written(contact.guest_id)
    return address


def address_line(name: str, contact: Contact) -> str:
    """``name`` (ORGANIZER, ATTENDEE) of ``contact`` as icalendar writes :func:`_address` (parameters sorted;
    CN quoted also for a space or an apostrophe), folded, with CRLF."""
    params = ""
    if contact.name:
        params = ";CN=" + param_value(contact.name, always_quote=" " in contact.name or "'" in contact.name)
    if contact.guest_id:
        params += f";{_GUEST_ID}=" + param_value(guest_id_written(contact.guest_id))
    return fold(name + params + ":mailto:" + contact.email)


def contact_lines(shown: Disclosed) -> list[str]:
    """The ATTENDEE lines of what is shown (``full`` only), in order."""
    return [address_line("ATTENDEE", a) for a in shown.attendees]


def vevent_bytes_reference(
    appointment: Appointment, sequence: int, options: EventOptions, *, member: str | None = None
) -> bytes:
    """:func:`vevent`, serialised by icalendar 7: the reference :func:`vevent_bytes` is tested against."""
    return vevent(appointment, sequence, options, member=member).to_ical()


# --------------------------------------------------------------------------- the fast serialiser
#
# Why hand-written, and how it stays equal to icalendar: see caldav_bridge.converters.ical_text.


@lru_cache(maxsize=64)
def _trigger(minutes: int) -> str:
    return vDuration(timedelta(minutes=-minutes)).to_ical().decode()


def vevent_bytes(appointment: Appointment, sequence: int, options: EventOptions, *, member: str | None = None) -> bytes:
    """:func:`vevent`, serialised: CRLF, folded at 75 octets; the same bytes as
    :func:`vevent_bytes_reference` (icalendar) but about 15x faster (see :mod:`.ical_text`)."""
    return vevent_text(appointment, sequence, options, member=member).encode()


def vevent_text(
    appointment: Appointment,
    sequence: int,
    options: EventOptions,
    *,
    uid: str | None = None,
    own_description: bool = False,
    attendees: Sequence[str] | None = None,
    member: str | None = None,
    cancelled_transparent: bool = True,
) -> str:
    """The text of :func:`vevent_bytes`, with what a CalDAV object differs in (:mod:`caldav_bridge.dav.render`).

    ``uid`` replaces the appointment id as UID; ``own_description`` writes the appointment's own
    description (the feeds add the customers' names to it); ``attendees`` are serialised ATTENDEE
    lines (CRLF-terminated, folded) replacing those of ``meta.attendees`` (:func:`contact_lines`), placed where
    icalendar's property order puts them; ``member`` as for :func:`vevent`; ``cancelled_transparent`` False
    writes TRANSP from ``meta.show_as`` alone (a CalDAV object: its TRANSP is read back as ``meta.show_as``, the
    cancellation is its STATUS).
    """
    cancelled = appointment.status is AppointmentStatus.CANCELLED
    start, end = event_dates(appointment, options.timezone)
    privacy = options.privacy
    shown = disclose(appointment, privacy, member)
    title = text(shown.title)
    ident = str(appointment.id)
    out = [
        "BEGIN:VEVENT\r\n",
        fold("SUMMARY:" + title),
        fold(when("DTSTART", start)),
        fold(when("DTEND", end)),
        "DTSTAMP:" + utc_stamp(appointment.updated_at) + "\r\n",
        fold("UID:" + text(uid if uid is not None else ident)),
        f"SEQUENCE:{written_sequence(appointment, sequence)}\r\n",
        *(contact_lines(shown) if attendees is None else attendees),
    ]
    if shown.categories:
        out.append(fold("CATEGORIES:" + ",".join(text(c) for c in shown.categories)))
    if privacy is Privacy.BUSY:
        out.append("CLASS:PRIVATE\r\n")
    else:
        out.append("CREATED:" + utc_stamp(appointment.created_at) + "\r\n")
    note = appointment.description if own_description and privacy is Privacy.FULL else shown.description
    if note:
        out.append(fold("DESCRIPTION:" + text(note)))
    if privacy is not Privacy.BUSY:
        out.append("LAST-MODIFIED:" + utc_stamp(appointment.updated_at) + "\r\n")
        if shown.location:
            out.append(fold("LOCATION:" + text(shown.location)))
    if shown.organizer is not None:
        out.append(address_line("ORGANIZER", shown.organizer))
    if shown.status is not None:
        out.append("STATUS:" + ical_status(shown.status) + "\r\n")
    transparent = is_transparent(appointment) if cancelled_transparent else shows_as_free(appointment)
    out.append("TRANSP:TRANSPARENT\r\n" if transparent else "TRANSP:OPAQUE\r\n")
    if privacy is not Privacy.BUSY and options.url_template:
        out.append(fold("URL:" + options.url_template.replace("{id}", ident)))
    if privacy is Privacy.FULL:
        out.append(fold("X-APPOINTMENT-STATUS:" + text(appointment.status.value)))
    if shown.type is not None:
        out.append(fold("X-APPOINTMENT-TYPE:" + text(shown.type)))
    if options.alarm_minutes is not None and not cancelled:
        out.append("BEGIN:VALARM\r\nACTION:DISPLAY\r\n")
        out.append(fold("DESCRIPTION:" + title))
        out.append("TRIGGER:" + _trigger(options.alarm_minutes) + "\r\nEND:VALARM\r\n")
    out.append("END:VEVENT\r\n")
    return "".join(out)


def timezone_range(starts: Iterable[date], ends: Iterable[date]) -> tuple[date, date]:
    """Whole calendar years covering every date given: VTIMEZONEs change only when the years do."""
    first, last = min(starts), max(ends)
    return date(first.year, 1, 1), date(last.year + 1, 1, 1)


# --------------------------------------------------------------------------- VTIMEZONEs
#
# Outlook/Exchange-compatible VTIMEZONEs ("zoneinfo-outlook" style, as tzurl.org publishes them): one
# STANDARD and one DAYLIGHT observance starting in 1970 with a yearly RRULE (BYMONTH, BYDAY=2SU / -1SU),
# DTSTART the local wall time *before* the transition (RFC 5545 §3.6.5, in TZOFFSETFROM terms). Outlook
# reduces every VTIMEZONE to one yearly rule anyway, and vobject and ical.js misread icalendar's one-off
# observances (``Timezone.from_tzid``: RDATE onsets, DAYLIGHT DTSTART after the jump) in a second year.
# The rule is derived from the zone's real transitions (zoneinfo) over the window plus a margin and is
# used only when it reproduces every one of them exactly; otherwise (a zone whose rules change inside
# the window, or whose dates follow no weekday rule) each transition is written as an explicit observance.

_MARGIN = timedelta(days=2)
_DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class _State:
    offset: timedelta
    name: str
    dst: bool


@dataclass(frozen=True)
class _Transition:
    at: datetime  # UTC
    before: _State
    after: _State

    @property
    def wall(self) -> datetime:
        """The local wall time just before the transition (naive), in the old offset."""
        return (self.at + self.before.offset).replace(tzinfo=None)


def _state(zone: ZoneInfo, at: datetime) -> _State:
    local = at.astimezone(zone)
    return _State(local.utcoffset() or timedelta(0), local.tzname() or "", bool(local.dst()))


def _transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    """Every change of offset, name or DST flag in ``(start, end]`` (UTC), to the second."""
    out = []
    here, state = start, _state(zone, start)
    while here < end:
        step = min(here + _DAY, end)
        following = _state(zone, step)
        if following != state:
            low, high = here, step  # state(low) == state, state(high) != state
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                middle = middle.replace(microsecond=0)
                if _state(zone, middle) == state:
                    low = middle
                else:
                    high = middle
            after = _state(zone, high)
            out.append(_Transition(high, state, after))
            # look again from the transition: a second change within the same day is not lost
            here, state = high, after
            continue
        here = step
    return out


def _weeks(day: date) -> frozenset[int]:
    """The BYDAY week numbers ``day`` is: its n-th weekday of the month, and -1 if also the last."""
    weeks = {(day.day - 1) // 7 + 1}
    if (day + timedelta(days=7)).month != day.month:
        weeks.add(-1)
    return frozenset(weeks)


def _nth_weekday(year: int, month: int, weekday: int, week: int) -> date:
    if week > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (week - 1))
    last = date(year + month // 12, month % 12 + 1, 1) - _DAY
    return last - timedelta(days=(last.weekday() - weekday) % 7)


_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class _Rule:
    """A yearly transition: the ``week``-th (or last, -1) ``weekday`` of ``month`` at wall time ``time``."""

    month: int
    weekday: int
    week: int
    time: timedelta
    before: _State
    after: _State

    def onset(self, year: int) -> datetime:
        """The transition of ``year`` as a naive local wall time (before it)."""
        day = _nth_weekday(year, self.month, self.weekday, self.week)
        return datetime(day.year, day.month, day.day) + self.time

    def utc(self, year: int) -> datetime:
        return (self.onset(year) - self.before.offset).replace(tzinfo=UTC)


def _rule(transitions: list[_Transition]) -> _Rule | None:
    """The one yearly rule every transition in ``transitions`` follows, if there is one."""
    if not transitions:
        return None
    first = transitions[0]
    walls = [t.wall for t in transitions]
    if any(t.before != first.before or t.after != first.after for t in transitions):
        return None
    if len({(w.month, w.weekday(), w.time()) for w in walls}) != 1:
        return None
    weeks = frozenset.intersection(*(_weeks(w.date()) for w in walls))
    if not weeks:
        return None
    wall = walls[0]
    week = -1 if -1 in weeks else min(weeks)
    time = wall - datetime(wall.year, wall.month, wall.day)
    return _Rule(wall.month, wall.weekday(), week, time, first.before, first.after)


@dataclass(frozen=True)
class _Observance:
    daylight: bool
    start: datetime  # DTSTART: the local wall time before the onset
    before: _State
    after: _State
    rrule: str | None = None  # the yearly rule; without it, one onset
    rdate: bool = False  # repeat DTSTART as RDATE: ical (Python) ignores an observance without RRULE or RDATE


@lru_cache(maxsize=256)
def _plan(tzid: str, first: date, last: date) -> tuple[_Observance, ...]:
    """The observances of ``tzid``'s VTIMEZONE, exact for ``[first, last)``."""
    zone = ZoneInfo(tzid)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) - _MARGIN
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + _MARGIN
    end = max(end, start + timedelta(days=366))  # a whole year at least: both transitions of a yearly rule
    transitions = _transitions(zone, start, end)
    if not transitions:
        state = _state(zone, start)
        return (_Observance(False, _EPOCH, state, state),)
    a, b = _rule(transitions[0::2]), _rule(transitions[1::2])
    if a is not None and b is not None and a.before == b.after and a.after == b.before:
        years = range(start.year - 1, end.year + 2)
        predicted = sorted(r.utc(y) for r in (a, b) for y in years if start < r.utc(y) <= end)
        if predicted == [t.at for t in transitions]:
            return tuple(
                _Observance(
                    rule.after.offset > rule.before.offset,
                    rule.onset(1970),
                    rule.before,
                    rule.after,
                    f"FREQ=YEARLY;BYMONTH={rule.month};BYDAY={rule.week}{_BYDAY[rule.weekday]}",
                )
                for rule in sorted((a, b), key=lambda r: r.after.offset)
            )
    # No single yearly rule (the zone's rules change inside the window, or follow no weekday): the
    # state before the window from 1970, then every transition as an observance of its own (DTSTART and
    # the same RDATE, as vzic writes one-off onsets). Rare, and not what Outlook reduces to one rule.
    initial = transitions[0].before
    onsets = (
        _Observance(
            t.after.offset > t.before.offset or (t.after.offset == t.before.offset and t.after.dst),
            t.wall,
            t.before,
            t.after,
            rdate=True,
        )
        for t in transitions
    )
    return (_Observance(False, _EPOCH, initial, initial, rdate=True), *onsets)


def vtimezone(tzid: str, first: date, last: date) -> Timezone:
    """An Outlook-compatible VTIMEZONE for ``tzid``, exact for ``[first, last)`` (see the note above)."""
    tz = Timezone()
    tz.add("TZID", tzid)
    for plan in _plan(tzid, first, last):
        observance = TimezoneDaylight() if plan.daylight else TimezoneStandard()
        observance.add("DTSTART", plan.start)
        if plan.rrule is not None:
            observance.add("RRULE", vRecur.from_ical(plan.rrule))
        if plan.rdate:
            observance.add("RDATE", plan.start)
        observance.add("TZNAME", plan.after.name)
        observance.add("TZOFFSETFROM", plan.before.offset)
        observance.add("TZOFFSETTO", plan.after.offset)
        tz.add_component(observance)
    return tz


@lru_cache(maxsize=512)
def vtimezone_text(tzid: str, first: date, last: date) -> str:
    """:func:`vtimezone` serialised (CRLF), cached: it depends only on its arguments and IANA data."""
    return vtimezone(tzid, first, last).to_ical().decode()


def vtimezones(tzids: Iterable[str], first: date, last: date) -> list[Timezone]:
    """VTIMEZONEs from IANA data for ``tzids`` (UTC needs none: it is written with ``Z``)."""
    return [vtimezone(tzid, first, last) for tzid in sorted(set(tzids)) if tzid != "UTC"]


def vcalendar(info: CalendarInfo, events: Iterable[bytes], timezones: Sequence[Timezone] = ()) -> bytes:
    """A METHOD:PUBLISH VCALENDAR around serialised VEVENTs (from :func:`vevent_bytes`)."""
    cal = Calendar.new(
        prodid=info.prodid,
        uid=info.uid,
        name=info.name,
        description=info.description,
        method="PUBLISH",
        calscale="GREGORIAN",
        refresh_interval=info.refresh,
    )
    cal["REFRESH-INTERVAL"].params["VALUE"] = "DURATION"  # required by RFC 7986 §5.7
    cal.add("X-PUBLISHED-TTL", vDuration(info.refresh))
    cal.add("X-WR-TIMEZONE", info.timezone)
    for tz in timezones:
        cal.add_component(tz)
    head = cal.to_ical()
    assert head.endswith(_END)
    return head[: -len(_END)] + b"".join(events) + _END


def single_event_calendar(
    appointment: Appointment, sequence: int, timezone: str, *, method: str | None = None
) -> bytes:
    """One appointment at full detail with the VTIMEZONE it uses (a CalDAV object resource)."""
    options = EventOptions(privacy=Privacy.FULL, timezone=timezone)
    event = vevent(appointment, sequence, options)
    cal = Calendar()  # not Calendar.new(): that adds a random UID, and this must be deterministic
    cal.add("VERSION", "2.0")
    cal.add("PRODID", PRODID)
    if method:
        cal.add("METHOD", method)
    start, end = event_dates(appointment, timezone)
    if isinstance(start, datetime) and isinstance(end, datetime):
        first, last = timezone_range([start.date()], [end.date()])
        for tz in vtimezones([timezone], first, last):
            cal.add_component(tz)
    cal.add_component(event)
    return cal.to_ical()
