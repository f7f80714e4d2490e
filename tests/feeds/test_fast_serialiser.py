"""The fast VEVENT serialiser (``vevent_bytes``) against icalendar 7 (``vevent_bytes_reference``).

Hypothesis draws appointments with nasty text (non-ASCII, emoji, combining marks, commas, semicolons,
backslashes, carets, line breaks, long names), every privacy level, alarms, many zones (DST both
ways, half and quarter hours, UTC), all-day and multi-day. The fast bytes must be byte-identical to
icalendar's wherever icalendar keeps the data intact, and must always parse (icalendar) back to the
values shown: the summary, description and location as given (control characters dropped, line
breaks normalised). Whole feeds of such events pass every validator (icalendar, vobject, ical,
x-wr-timezone, the byte lint, and ical.js).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import icalendar
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from caldav_bridge.converters.ical import (
    EventOptions,
    description,
    location,
    summary,
    vevent_bytes,
    vevent_bytes_reference,
)
from caldav_bridge.model.appointment import Appointment
from caldav_bridge.model.feeds import Privacy
from tests.feeds.ics_lint import lint
from tests.feeds.samples import ZONES, expected_instants, feed_of
from tests.feeds.validators import icaljs_instants, validate_all

MORE_ZONES = (*ZONES, "UTC", "Asia/Kathmandu", "Pacific/Chatham", "Europe/London", "America/Sao_Paulo", "Europe/Dublin")
NASTY = (
    "Zoë",
    "Ångström",
    "日本語の予約",
    "😀👩‍👩‍👧‍👦",
    "e\u0301",
    ",",
    ";",
    "\\",
    "\\n",
    "\\N",
    "\\;",
    "^",
    "^n",
    ":",
    '"',
    "\n",
    "\r\n",
    "\r",
    "\t",
    " ",
    "\u2028",
    "\x85",
    "\x00",
    "\x07",
    "\x7f",
    "a" * 80,
    "ü" * 40,
)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

text = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=12)), max_size=12).map("".join)
name = text.map(lambda s: s[:200])
maybe_name = st.one_of(st.none(), name.map(lambda s: s[:40]))
when = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
#: Feeds checked by the validators: across New Year and both DST transitions of 2026 and 2027.
when_feed = st.datetimes(min_value=datetime(2025, 10, 2), max_value=datetime(2027, 12, 26), timezones=st.just(UTC))


# Every strategy appointments() draws from is made once, here (made in the composite, each was made and validated
# again for every example: a fifth of these tests' CPU); the draws and their order are as they were.
_MINUTES = st.integers(1, 3 * 24 * 60)
_UPDATED_SECONDS = st.integers(0, 10**7)
_UPDATED_MICROSECONDS = st.integers(0, 999_999)
_PLACES = st.one_of(st.none(), name, st.fixed_dictionaries({"name": name}), st.fixed_dictionaries({"address": name}))
_GUESTS = st.lists(st.fixed_dictionaries({"first_name": maybe_name, "last_name": maybe_name}), max_size=3)
_EMAILS = st.sampled_from(["jane@example.com", "o'neil+x@sub.example.org", "a" * 60 + "@" + "b" * 60 + ".example"])
_CONTACTS = st.fixed_dictionaries({"email": _EMAILS, "name": maybe_name}, optional={"guest_id": st.just("cust-1")})
_CLIENT = st.fixed_dictionaries(
    {},
    optional={
        "categories": st.lists(name.filter(bool), max_size=3),
        "organizer": _CONTACTS,
        "attendees": st.lists(_CONTACTS, max_size=3),
    },
)
_IDS = st.integers(0, 2**128 - 1)
_DESCRIPTIONS = st.one_of(st.none(), text)
_TYPES = st.sampled_from(["INITIAL", "FOLLOW_UP", "TECH_SETUP"])
_STATUSES = st.sampled_from(["INITIAL", "RESERVED", "BOOKED", "RESCHEDULED", "CANCELLED"])


@st.composite
def appointments(draw: st.DrawFn, starts: st.SearchStrategy[datetime] = when) -> Appointment:
    start = draw(starts).replace(microsecond=0)
    all_day = draw(st.booleans())
    minutes = draw(_MINUTES)
    created = draw(when)
    updated = created + timedelta(seconds=draw(_UPDATED_SECONDS), microseconds=draw(_UPDATED_MICROSECONDS))
    place = draw(_PLACES)
    guests = draw(_GUESTS)
    client = draw(_CLIENT)
    data = {
        "calendar": {"id": "cal-1", "name": "Frank"},
        "created_at": created,
        "updated_at": updated,
        "date_start": start,
        "date_end": start + timedelta(minutes=minutes),
        "id": str(uuid.UUID(int=draw(_IDS))),
        "name": draw(name),
        "description": draw(_DESCRIPTIONS),
        "guests": guests,
        "meta": {
            "type": draw(_TYPES),
            "all_day": all_day,
            "location": place,
            **client,
        },
        "status": draw(_STATUSES),
    }
    try:
        return Appointment.model_validate(data)
    except ValidationError:
        assume(False)
        raise


options = st.builds(
    EventOptions,
    privacy=st.sampled_from(list(Privacy)),
    timezone=st.sampled_from(MORE_ZONES),
    alarm_minutes=st.sampled_from([None, 0, 1, 15, 90, 1440, 10080]),
    url_template=st.sampled_from(
        ["", "https://cockpit.example/appointments/{id}", "https://c.example/a?x=1;y=2,z#{id}"]
    ),
)


def _shown_text(value: str) -> str:
    """What a TEXT value must read back as: control characters dropped, every line break a LF."""
    return _CONTROL.sub("", value).replace("\r\n", "\n").replace("\r", "\n")


def _event(data: bytes) -> icalendar.Event:
    cal = icalendar.Calendar.from_ical(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n" + data + b"END:VCALENDAR\r\n")
    (event,) = cal.events
    return event


def _texts(a: Appointment, privacy: Privacy) -> list[str]:
    return [summary(a, privacy), location(a) or "", description(a) or "", *(getattr(a.meta, "categories", None) or [])]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(a=appointments(), opts=options, sequence=st.integers(0, 1000))
def test_fast_bytes_equal_icalendars(a: Appointment, opts: EventOptions, sequence: int) -> None:
    fast = vevent_bytes(a, sequence, opts)
    reference = vevent_bytes_reference(a, sequence, opts)
    texts = _texts(a, opts.privacy)
    if not any("\\N" in t or _CONTROL.search(t) for t in texts):
        assert fast == reference
    # Always: CRLF lines of at most 75 octets, never split inside a UTF-8 sequence, and the values read back.
    lines = fast.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    for line in lines:
        line.decode("utf-8")
        assert not _CONTROL.search(line.decode())
    event = _event(fast)
    assert not event.errors
    assert str(event["SUMMARY"]) == _shown_text(summary(a, opts.privacy))
    assert str(event.uid) == str(a.id)
    assert a.updated_at.replace(microsecond=0) == event.DTSTAMP
    if opts.privacy is not Privacy.BUSY and location(a):
        assert str(event["LOCATION"]) == _shown_text(location(a) or "")
    if opts.privacy is Privacy.FULL and description(a):
        assert str(event["DESCRIPTION"]) == _shown_text(description(a) or "")
    else:
        assert "DESCRIPTION" not in event
    ref = event if reference == fast else _event(reference)  # the same bytes parse alike: parsed once
    assert [c.name for c in event.walk()] == [c.name for c in ref.walk()]
    assert set(event) == set(ref)
    for key in ("DTSTART", "DTEND", "DTSTAMP", "SEQUENCE", "STATUS", "TRANSP", "URL", "CREATED", "LAST-MODIFIED"):
        if key in ref:
            assert event.decoded(key) == ref.decoded(key), key
        else:
            assert key not in event, key


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(items=st.lists(appointments(when_feed), min_size=1, max_size=8, unique_by=lambda a: a.id), opts=options)
def test_feeds_of_nasty_events_pass_every_python_validator(items: list[Appointment], opts: EventOptions) -> None:
    data = feed_of(items, opts)
    assert lint(data) == []
    validate_all(data, expect=expected_instants(items, opts.timezone))


def test_feeds_of_nasty_events_pass_icaljs() -> None:
    """ical.js (a node process) on fixed nasty feeds: every nasty text in every privacy level and zone."""
    base = datetime(2026, 3, 28, 22, 30, tzinfo=UTC)
    feeds = {}
    expected = {}
    for z, zone in enumerate(MORE_ZONES):
        items = []
        for i, nasty in enumerate(NASTY):
            start = base + timedelta(hours=7 * i + z)
            items.append(
                Appointment.model_validate(
                    {
                        "calendar": {"id": "cal-1"},
                        "created_at": base,
                        "updated_at": base + timedelta(seconds=i),
                        "date_start": start,
                        "date_end": start + timedelta(minutes=45 if i % 4 else 60 * 24),
                        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{zone}/{i}")),
                        "name": ((nasty + " Termin ") * 3)[:200],
                        "description": nasty * 10,
                        "guests": [{"first_name": nasty + "x", "last_name": "Ö" + nasty}],
                        "meta": {"type": "FOLLOW_UP", "all_day": i % 4 == 0, "location": nasty + ", Köln"},
                        "status": "CANCELLED" if i % 5 == 0 else "BOOKED",
                    }
                )
            )
        for privacy in Privacy:
            data = feed_of(items, EventOptions(privacy=privacy, timezone=zone, alarm_minutes=15))
            feeds[f"{zone}/{privacy.value}"] = data
            expected[f"{zone}/{privacy.value}"] = validate_all(data, expect=expected_instants(items, zone))
    assert icaljs_instants(feeds) == expected


def test_a_feed_spanning_two_years_reads_alike_everywhere() -> None:
    """Was a strict xfail: icalendar's one-off VTIMEZONE observances (RDATE onsets) were read one hour
    off in the second year's summer by vobject and ical.js; the Outlook-style VTIMEZONE is read alike."""
    zone = "America/Denver"
    items = [
        Appointment.model_validate(
            {
                "calendar": {"id": "c"},
                "created_at": datetime(2025, 1, 1, tzinfo=UTC),
                "updated_at": datetime(2025, 1, 1, tzinfo=UTC),
                "date_start": datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=d),
                "date_end": datetime(2025, 1, 1, 1, tzinfo=UTC) + timedelta(days=d),
                "id": str(uuid.UUID(int=d)),
                "name": "x",
                "meta": {"type": "FOLLOW_UP"},
                "status": "BOOKED",
            }
        )
        for d in range(0, 730, 7)
    ]
    data = feed_of(items, EventOptions(timezone=zone))
    expected = expected_instants(items, zone)
    assert validate_all(data, expect=expected)
    assert icaljs_instants({zone: data})[zone] == expected
    # Many zones, windows and transitions: tests/feeds/test_vtimezones.py.
