"""The customer's invitation as iTIP (RFC 5546): ``METHOD:REQUEST`` for a booking and each move, with
one stable UID and a growing SEQUENCE so the customer's calendar updates its event; ``METHOD:CANCEL``
to remove it. Summary and location name the company only, never the nature of the appointment."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event, vCalAddress, vText

__all__ = ["invitation"]


def invitation(
    *,
    uid: str,
    sequence: int,
    method: str,
    start: datetime,
    end: datetime,
    stamp: datetime,
    company: str,
    organizer_email: str,
    attendee_email: str,
    attendee_name: str,
    location: str | None = None,
) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//Appointment Service//self-booking//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp)
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", f"Appointment: {company}")
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if location:
        event.add("location", location)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(company)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["cn"] = vText(attendee_name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("ACCEPTED")
    event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    return cal.to_ical()
