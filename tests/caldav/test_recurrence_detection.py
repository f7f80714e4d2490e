from caldav_bridge.dav.render import is_recurring

VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:America/Denver\r\nBEGIN:DAYLIGHT\r\nDTSTART:19700308T020000\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nTZOFFSETFROM:-0700\r\nTZOFFSETTO:-0600\r\nEND:DAYLIGHT\r\n"
    "END:VTIMEZONE\r\n"
)
EVENT = "BEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=America/Denver:20260601T090000\r\n{extra}END:VEVENT\r\n"


def test_a_vtimezone_rule_does_not_make_an_event_recurring() -> None:
    """Regression: Outlook-style VTIMEZONEs (with RRULE) opened every item's time range."""
    text = "BEGIN:VCALENDAR\r\n" + VTIMEZONE + EVENT.format(extra="") + "END:VCALENDAR\r\n"
    assert not is_recurring(text)


def test_an_event_rule_does() -> None:
    text = "BEGIN:VCALENDAR\r\n" + VTIMEZONE + EVENT.format(extra="RRULE:FREQ=WEEKLY\r\n") + "END:VCALENDAR\r\n"
    assert is_recurring(text)
    assert is_recurring(EVENT.format(extra="RDATE:20260608T090000\r\n"))
