"""A CalDAV PUT parses its body once: the store reads the pre-parse check's parse of the body instead of parsing the
text Radicale stores (vobject's re-serialisation), when :func:`~caldav_bridge.converters.ical_same.same_content` says
icalendar reads both alike. These tests hold that judgement to what the store reads: for every body here, either it
is judged not the same (the store parses the stored text, as before), or the event, its series and its client meta
read from the body's parse equal those read from the stored text's. The bodies Radicale changes in meaning
(Evolution's EXDATE dates, Lightning's DURATION:PT0S, control characters) must be judged not the same; the ordinary
ones (re-ordered, re-folded, CN unquoted) the same, or nothing would be saved.
"""

from __future__ import annotations

from typing import Any

import icalendar
import pytest
from radicale import item as radicale_item

from caldav_bridge.converters.ical_parse import (
    IcalParseError,
    ParsedText,
    VEvents,
    client_meta,
    event_in,
    read_vevents,
    series_in,
)
from caldav_bridge.converters.ical_same import same_content
from caldav_bridge.dav.validate import check_calendar_body

DENVER_STANDARD = (
    "BEGIN:STANDARD\r\nTZOFFSETFROM:-0600\r\nTZOFFSETTO:-0700\r\nTZNAME:MST\r\nDTSTART:19701101T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\n"
)
DENVER_DAYLIGHT = (
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0600\r\nTZNAME:MDT\r\nDTSTART:19700308T020000\r\n"
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\n"
)
#: STANDARD before DAYLIGHT, as vobject writes them (and this service renders them).
DENVER_TZ = "BEGIN:VTIMEZONE\r\nTZID:America/Denver\r\n" + DENVER_STANDARD + DENVER_DAYLIGHT + "END:VTIMEZONE\r\n"
BERLIN_WINDOWS_TZ = (
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\n"
    "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def calendar(*events: str, zones: str = DENVER_TZ, head: str = "") -> str:
    header = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
    return header + head + zones + "".join(events) + "END:VCALENDAR\r\n"


def vevent(*lines: str, uid: str = "u-1") -> str:
    stamp = () if any(line.startswith("DTSTAMP") for line in lines) else ("DTSTAMP:20300101T000000Z",)
    return "BEGIN:VEVENT\r\n" + "".join(line + "\r\n" for line in (f"UID:{uid}", *stamp, *lines)) + "END:VEVENT\r\n"


APPLE = calendar(
    vevent(
        "DTSTAMP:20300101T000000Z",
        "SUMMARY:Fitting\\, left ear\\; Jane",
        "DTSTART;TZID=America/Denver:20300107T090000",
        "DTEND;TZID=America/Denver:20300107T100000",
        'ATTENDEE;CN="Jane Doe";CUTYPE=INDIVIDUAL;X-GUEST-ID=cust-1;PARTSTAT=ACCEPTED:urn:x-guest:cust-1',
        'ATTENDEE;CN="Doe, John";ROLE=OPT-PARTICIPANT:mailto:john@example.com',
        'ORGANIZER;CN="Fitter One":mailto:fitter@example.com',
        "LOCATION:Room 2\\, Main St. 5",
        "CATEGORIES:Fitting,Follow-up",
        "DESCRIPTION:Bring the audiogram.\\nAnd the old aids.",
        "TRANSP:OPAQUE",
        "STATUS:CONFIRMED",
        "X-APPOINTMENT-TYPE:INITIAL",
        "X-APPOINTMENT-STATUS:BOOKED",
        "RRULE:FREQ=WEEKLY;COUNT=6",
        "EXDATE;TZID=America/Denver:20300114T090000",
        "SEQUENCE:2",
        "COMMENT;LANGUAGE=en:" + "x" * 200,
    ),
    vevent(
        "DTSTAMP:20300101T000000Z",
        "RECURRENCE-ID;TZID=America/Denver:20300121T090000",
        "DTSTART;TZID=America/Denver:20300121T110000",
        "DTEND;TZID=America/Denver:20300121T120000",
        "SUMMARY:Fitting (moved)",
    ),
)

#: Bodies the store may read from the body's parse (whichever way they are judged, they must read alike).
BODIES: dict[str, str] = {
    "apple": APPLE,
    "lf_only": APPLE.replace("\r\n", "\n"),
    "folded": APPLE.replace("Bring the audiogram.", "Bring the\r\n  audiogram."),
    "all_day": calendar(vevent("DTSTART;VALUE=DATE:20300107", "DTEND;VALUE=DATE:20300108", "SUMMARY:Off")),
    "floating": calendar(vevent("DTSTART:20300107T090000", "DURATION:PT45M", "SUMMARY:Floating", "TRANSP:TRANSPARENT")),
    "utc": calendar(vevent("DTSTART:20300107T160000Z", "DTEND:20300107T170000Z", "SUMMARY:UTC")),
    "windows_zone": calendar(
        vevent(
            "DTSTART;TZID=W. Europe Standard Time:20300107T090000",
            "DTEND;TZID=W. Europe Standard Time:20300107T100000",
            "RRULE:FREQ=DAILY;COUNT=3",
            "SUMMARY:Berlin",
        ),
        zones=BERLIN_WINDOWS_TZ,
    ),
    "unescaped_semicolon": APPLE.replace("left ear\\; Jane", "left ear; Jane"),
    "daylight_first": APPLE.replace(DENVER_STANDARD + DENVER_DAYLIGHT, DENVER_DAYLIGHT + DENVER_STANDARD),
    "no_dtstamp": APPLE.replace("DTSTAMP:20300101T000000Z\r\n", ""),
    "blank_lines": APPLE.replace("SUMMARY:Fitting", "\r\nSUMMARY:Fitting"),
    "backslashes": calendar(
        vevent(
            "DTSTART:20300107T160000Z",
            "DTEND:20300107T170000Z",
            "SUMMARY:a\\b c\\\\d \\N e\\;f",
            'ATTENDEE;CN="a\\b";X-GUEST-ID=g\\1:mailto:x@example.com',
        )
    ),
    "caret_param": calendar(
        vevent(
            "DTSTART:20300107T160000Z",
            "DTEND:20300107T170000Z",
            "SUMMARY:caret",
            'ATTENDEE;CN="Jane ^\'Q^\' Doe";X-GUEST-ID="cust-2":mailto:q@example.com',
        )
    ),
    "spaced_param": calendar(
        vevent(
            "DTSTART:20300107T160000Z",
            "DTEND:20300107T170000Z",
            'ATTENDEE;CN=" Jane ";X-GUEST-ID=" cust-3":mailto:s@example.com',
        )
    ),
    "lowercase": calendar(vevent("dtstart:20300107T160000Z", "dtend:20300107T170000Z", "summary:lower")),
    "evolution_exdate": calendar(
        vevent(
            "DTSTART;TZID=America/Denver:20300107T090000",
            "DTEND;TZID=America/Denver:20300107T100000",
            "RRULE:FREQ=DAILY;COUNT=5",
            "EXDATE;VALUE=DATE:20300109",
            "SUMMARY:Evolution",
        )
    ),
    "floating_exdate": calendar(
        vevent(
            "DTSTART;TZID=America/Denver:20300107T090000",
            "DTEND;TZID=America/Denver:20300107T100000",
            "RRULE:FREQ=DAILY;COUNT=5",
            "EXDATE:20300109T090000",
            "SUMMARY:floating EXDATE",
        )
    ),
    "lightning_duration": calendar(
        vevent(
            "DTSTART:20300107T160000Z",
            "DTEND:20300107T170000Z",
            "DURATION:PT0S",
            "SUMMARY:Lightning",
        )
    ),
    "control_chars": calendar(vevent("DTSTART:20300107T160000Z", "DTEND:20300107T170000Z", "SUMMARY:bell\x07 here")),
    "tzid_trailing_space": calendar(
        vevent(
            "DTSTART;TZID=America/Denver :20300107T090000",
            "DTEND;TZID=America/Denver :20300107T100000",
            "SUMMARY:Outlook",
        )
    ),
    "escaped_newline_upper": calendar(
        vevent("DTSTART:20300107T160000Z", "DTEND:20300107T170000Z", "DESCRIPTION:one\\Ntwo")
    ),
    "x_wr_timezone": calendar(
        vevent("DTSTART:20300107T090000", "DTEND:20300107T100000", "SUMMARY:wr"),
        zones="",
        head="X-WR-TIMEZONE:Europe/Berlin\r\n",
    ),
}

#: Bodies whose meaning Radicale or vobject changes before storing them: never read from the body's parse.
CHANGED = (
    "evolution_exdate",
    "floating_exdate",
    "lightning_duration",
    "control_chars",
    "tzid_trailing_space",
    "no_dtstamp",
)
#: Bodies whose parse the store must use (else the PUT parses twice again).
SAVED = ("apple", "lf_only", "folded", "all_day", "floating", "utc", "windows_zone", "blank_lines", "x_wr_timezone")


def stored_text(body: str) -> str:
    """What Radicale stores of a PUT body (``radicale.app.put``: read, checked and sanitised, serialised)."""
    items = radicale_item.read_components(body)
    radicale_item.check_and_sanitize_items(items, max_vevent_rrule_occurrence=100, tag="VCALENDAR")
    item = radicale_item.Item(collection_path="fitter/appointments", vobject_item=items[0])
    item.prepare()
    return item.serialize()


def reading(vevents: VEvents) -> tuple[Any, ...]:
    """Everything the store reads of a PUT's text (appointment_sync.item_written)."""
    try:
        event = event_in(vevents, "America/Denver")
    except IcalParseError as exc:
        return ("refused", str(exc))
    series = series_in(vevents, "America/Denver")
    return event, client_meta(event), None if series is None else series.to_json()


@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_body_judged_the_same_reads_as_the_stored_text(name: str) -> None:
    body = BODIES[name]
    checked = check_calendar_body(body.encode(), "text/calendar")
    assert checked is not None and checked.text == body
    stored = stored_text(body)
    judged_same = same_content(body, stored)
    assert judged_same == (name in SAVED) or name not in (*CHANGED, *SAVED), (name, judged_same)
    from_stored = reading(read_vevents(stored))
    # read_vevents reads the body's parse exactly when judged the same
    assert reading(read_vevents(stored, checked)) == from_stored
    if judged_same:
        assert reading(VEvents(checked.calendar, tuple(checked.calendar.walk("VEVENT")), read_vevents(body).zones)) == (
            from_stored
        )


def test_the_body_parse_is_read_only_when_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = stored_text(APPLE)
    checked = check_calendar_body(APPLE.encode(), "text/calendar")
    assert checked is not None
    parses: list[str] = []
    parse = icalendar.Calendar.from_ical

    def counting(text: str, multiple: bool = False) -> Any:
        parses.append(text)
        return parse(text, True) if multiple else parse(text)

    monkeypatch.setattr(icalendar.Calendar, "from_ical", staticmethod(counting))
    assert read_vevents(stored, checked).calendar is checked.calendar and parses == []
    other = ParsedText(APPLE.replace("SUMMARY:Fitting", "SUMMARY:Other"), checked.calendar)
    assert read_vevents(stored, other).calendar is not checked.calendar and parses == [stored]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a quoted value that needs its quotes, or whose quotes change it, is compared as written
        ('ATTENDEE;CN="Doe, Jane":mailto:a@b.c', "ATTENDEE;CN=Doe, Jane:mailto:a@b.c"),
        ('ATTENDEE;CN=" Jane":mailto:a@b.c', "ATTENDEE;CN= Jane:mailto:a@b.c"),
        ('ATTENDEE;CN="^\'x":mailto:a@b.c', "ATTENDEE;CN=^'x:mailto:a@b.c"),
        # quotes in a value are the value's
        ('DESCRIPTION:say="hi"', "DESCRIPTION:say=hi"),
        # a component boundary out of place, or a line moved between components
        ("SUMMARY:x\r\nBEGIN;X=1:VALARM", "BEGIN;X=1:VALARM\r\nSUMMARY:x"),
        # the order of one property's lines, or of one parameter's values, in any case
        ("ATTENDEE:mailto:a@b.c\r\nATTENDEE:mailto:d@e.f", "ATTENDEE:mailto:d@e.f\r\nATTENDEE:mailto:a@b.c"),
        ("ATTENDEE:mailto:a@b.c\r\nattendee:mailto:d@e.f", "attendee:mailto:d@e.f\r\nATTENDEE:mailto:a@b.c"),
        ("ATTENDEE;CN=a;cn=b:mailto:a@b.c", "ATTENDEE;cn=b;CN=a:mailto:a@b.c"),
        # a parameter's value, however written
        ("ATTENDEE;CN=a:mailto:a@b.c", "ATTENDEE;CN=b:mailto:a@b.c"),
    ],
)
def test_differences_icalendar_sees_are_not_the_same(a: str, b: str) -> None:
    def wrap(lines: str) -> str:
        return f"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\n{lines}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

    assert not same_content(wrap(a), wrap(b))


def test_what_vobject_rewrites_and_icalendar_does_not_see_is_the_same() -> None:
    body = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:a long sum\r\n mary\r\n"
        'ATTENDEE;X-GUEST-ID=g1;CN="Jane Doe":urn:x-guest:g1\r\n'
        "ATTENDEE:mailto:b@c.d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    rewritten = (
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;CN=Jane Doe;X-GUEST-ID=g1:urn:x-guest:g1\r\nATTENDEE:mailto:b@c.d"
        "\r\nSUMMARY:a long summary\r\nUID:u\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert same_content(body, rewritten)
    assert not same_content(body, rewritten.replace("Jane Doe", "Jane Doe2"))
