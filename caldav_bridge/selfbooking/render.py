"""A queued message as an email: the template in the customer's locale, times in the customer's zone,
and for confirmations, moves and cancellations the iTIP invitation (``text/calendar``, also attached
as ``invite.ics``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_timezone_name

from caldav_bridge.model.timestamps import parse_timestamp
from caldav_bridge.selfbooking.itip import invitation
from caldav_bridge.selfbooking.keys import manage_secret
from caldav_bridge.selfbooking.tables import CustomerBookingRow, CustomerMessageRow
from caldav_bridge.selfbooking.templates import LOCALES, TEMPLATES

__all__ = ["Sender", "manage_url", "render"]


@dataclass(frozen=True)
class Sender:
    """Who sends, and what the messages name: from the settings."""

    company: str
    phone: str
    from_address: str
    public_url: str
    key: bytes


def manage_url(sender: Sender, booking_id: str) -> str:
    return f"{sender.public_url.rstrip('/')}/manage/{manage_secret(sender.key, booking_id)}"


def render(
    message: CustomerMessageRow, booking: CustomerBookingRow, sender: Sender, now: datetime, location: str | None
) -> EmailMessage:
    locale = booking.locale if booking.locale in LOCALES else "en"
    zone = ZoneInfo(booking.timezone)
    start = parse_timestamp(message.payload["start"])
    end = parse_timestamp(message.payload["end"])
    local = start.astimezone(zone)
    fields = {
        "first_name": booking.first_name or "",
        "date": format_date(local.date(), format="full", locale=locale),
        "time": format_time(local.timetz(), format="short", locale=locale),
        "zone": get_timezone_name(zone, width="long", locale=locale),
        "company": sender.company,
        "company_phone": sender.phone or "-",
        "manage_url": "" if message.kind == "cancelled" else manage_url(sender, booking.id),
    }
    subject, body = TEMPLATES[locale][message.kind]
    email = EmailMessage()
    email["Subject"] = subject.format(**fields)
    email["From"] = formataddr((sender.company, sender.from_address))
    email["To"] = str(booking.email)
    email["Message-ID"] = make_msgid(idstring=message.id.replace("-", ""), domain="appointment-service")
    email["Content-Language"] = locale
    email.set_content(body.format(**fields))
    if message.kind in ("confirmation", "rescheduled", "cancelled"):
        method = "CANCEL" if message.kind == "cancelled" else "REQUEST"
        ics = invitation(
            uid=booking.ical_uid,
            sequence=int(message.payload.get("sequence", 0)),
            method=method,
            start=start,
            end=end,
            stamp=now,
            company=sender.company,
            organizer_email=sender.from_address,
            attendee_email=str(booking.email),
            attendee_name=booking.first_name or "",
            location=location,
        )
        email.add_alternative(ics, maintype="text", subtype="calendar", params={"method": method})
        email.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
    return email
