"""The fast fresh CalDAV item (``dav.render.fresh_text``) is byte for byte icalendar's (``fresh_reference``).

Hypothesis over nasty texts (commas, semicolons, backslashes, line breaks, non-ASCII, long lines), many
zones (DST, half-hour offsets, southern hemisphere, UTC), every status and type, all-day appointments,
guests with and without names or ids, and UIDs other than the appointment id. As for the feeds'
serialiser, two inputs icalendar corrupts are left out of the byte comparison (a backslash followed by
N, control characters); for them the fast text must still read back as the appointment says.
"""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from caldav_bridge.converters.ical import location
from caldav_bridge.converters.ical_parse import GUEST_URN
from caldav_bridge.converters.ical_read import parse_calendar
from caldav_bridge.dav.render import etag_of_text, fresh_reference, fresh_text, render_event
from caldav_bridge.model.appointment import Appointment
from tests.feeds.test_fast_serialiser import _CONTROL, MORE_ZONES, _shown_text
from tests.feeds.test_fast_serialiser import appointments as feed_appointments

guest_id = st.one_of(
    st.none(),
    st.sampled_from(["003000000000001AAA", "p-1", "a b", "x;y", "x,y", "o'neil", "ü", "g:1", "^"]),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=20),
)


#: The feeds' appointments and a list of guest ids of each length they have guests (0-3), made once.
_FEED_APPOINTMENTS = feed_appointments()
_GUEST_IDS = {n: st.lists(guest_id, min_size=n, max_size=n) for n in range(4)}


@st.composite
def appointments(draw: st.DrawFn) -> Appointment:
    """The feeds' nasty appointments (texts, zones, all-day, locations, names), their guests with ids."""
    a = draw(_FEED_APPOINTMENTS)
    ids = draw(_GUEST_IDS[len(a.guests)])
    guests = [g.model_copy(update={"id": gid}) for g, gid in zip(a.guests, ids, strict=True)]
    return a.model_copy(update={"guests": guests})


def _corrupted_by_icalendar(a: Appointment) -> bool:
    texts = [a.name, a.description or "", location(a) or "", *(getattr(a.meta, "categories", None) or [])]
    contacts = [getattr(a.meta, "organizer", None) or {}, *(getattr(a.meta, "attendees", None) or [])]
    # a backslash in a CN: icalendar's parser reads "\\;" in a quoted parameter as an escaped ";"
    names = [c.get("name") or "" for c in contacts]
    return any("\\N" in t or _CONTROL.search(t) for t in texts) or any("\\" in n for n in names)


#: Found by the property: an attendee named a backslash, written CN=\:mailto:… (plain icalendar misreads it).
_NAMED_BACKSLASH = Appointment.model_validate(
    {
        "id": "00000000-0000-0000-0000-000000000000",
        "calendar": {"id": "cal-1", "name": "Frank"},
        "date_start": "2025-01-01T00:00:00.000Z",
        "date_end": "2025-01-01T00:01:00.000Z",
        "name": "",
        "meta": {
            "type": "INITIAL",
            "organizer": {"email": "jane@example.com", "name": None},
            "attendees": [{"email": "jane@example.com", "name": "\\"}],
        },
        "status": "INITIAL",
        "created_at": "2025-01-01T00:00:00.000Z",
        "updated_at": "2025-01-01T00:00:00.000Z",
    }
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@example(a=_NAMED_BACKSLASH, zone="America/Denver", sequence=0, uid=None)
@given(
    a=appointments(),
    zone=st.sampled_from(MORE_ZONES),
    sequence=st.integers(0, 1000),
    uid=st.one_of(st.none(), st.just(""), st.sampled_from(["other-uid@client", "a,b;c", "ü" * 50])),
)
def test_fast_fresh_text_equals_icalendars(a: Appointment, zone: str, sequence: int, uid: str | None) -> None:
    fast = fresh_text(a, zone, sequence, uid)
    if not _corrupted_by_icalendar(a):
        assert fast == fresh_reference(a, zone, sequence, uid)
    lines = fast.encode().split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    # read as the service reads a text (icalendar, parameter values as written): plain icalendar reads a CN ending in
    # a backslash as hiding the ":" after it (CN=\:mailto:…), which the attendees below would fail on
    calendar = parse_calendar(fast)
    (event,) = calendar.events
    assert str(event["SUMMARY"]) == _shown_text(a.name)
    assert str(event["UID"]) == (uid or str(a.id))
    if a.description and _shown_text(a.description):
        assert str(event["DESCRIPTION"]) == _shown_text(a.description)
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    ids = list(dict.fromkeys(g.id for g in a.guests if g.id))
    # meta.attendees first (one naming a guest only if it is one, once), then the guests not among them
    listed = [c for c in getattr(a.meta, "attendees", None) or [] if not c.get("guest_id") or c["guest_id"] in ids]
    listed = [
        c
        for i, c in enumerate(listed)
        if not c.get("guest_id") or c["guest_id"] not in {d.get("guest_id") for d in listed[:i]}
    ]
    expected = ["mailto:" + c["email"] for c in listed]
    guests = [gid for gid in ids if gid not in {c.get("guest_id") for c in listed}]
    expected += [GUEST_URN + gid for gid in guests]
    # a guest id is percent-encoded where a backslash, a blank or a "%" would not survive a parser
    assert [unquote(str(p)) if str(p).startswith(GUEST_URN) else str(p) for p in attendees] == expected
    named = [unquote(str(p.params["X-GUEST-ID"])) for p in attendees if "X-GUEST-ID" in p.params]
    assert named == [c["guest_id"] for c in listed if c.get("guest_id")] + guests


def test_render_event_without_base_text_is_the_fast_text() -> None:
    a = Appointment.model_validate(
        {
            "id": "6f1c2d3e-0000-4000-8000-000000000001",
            "calendar": {"id": "c1", "name": "C"},
            "date_start": "2026-10-25T00:30:00.000Z",  # 02:30 in Berlin: the repeated hour (written in UTC)
            "date_end": "2026-10-25T02:00:00.000Z",
            "name": "Fitting, with; odd \\ text",
            "description": "Line 1\nLine 2, ü",
            "guests": [{"id": "p1", "first_name": "Jane", "last_name": "O'Doe"}, {"id": "p2"}, {"first_name": "x"}],
            "meta": {"type": "FOLLOW_UP"},
            "status": "BOOKED",
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-02T00:00:00.000Z",
        }
    )
    for zone in ("Europe/Berlin", "UTC", "America/St_Johns"):
        text = render_event(a, zone=zone, sequence=2)
        assert text == fresh_reference(a, zone, 2) == fresh_text(a, zone, 2)
        assert etag_of_text(text).startswith('"')
    # An unknown zone falls back to UTC, as before.
    assert render_event(a, zone="Mars/Olympus", sequence=0) == fresh_reference(a, "UTC", 0)
