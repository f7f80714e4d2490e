"""Booking as a customer through the services (what the pages call), for the message tests."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling.rules import SchedulingOptions
from caldav_bridge.selfbooking import customer, links
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.services.actor import system_actor
from tests.scheduling.conftest import World


def team_link(rt: Runtime, world: World, **extra: object) -> str:
    draft = LinkDraft.model_validate({"team_id": world.consultants, "name": "Website", **extra})
    secret = links.issue(rt.uow(), system_actor(), draft, rt.settings.public_url).secret
    assert secret is not None  # shown at issue (null only in an idempotent replay)
    return secret


def first_slot(rt: Runtime, secret: str, world: World, zone: str = "Europe/Berlin") -> datetime:
    options = SchedulingOptions.from_settings(rt.settings)
    offer = customer.offer(rt.uow, secret, customer.OfferWindow(ZoneInfo(zone), options, 4, world.monday))
    (days,) = [days for monday, days in offer.weeks if monday == offer.open_week == world.monday]
    return days[0][1][0]


def book(
    rt: Runtime,
    secret: str,
    start: datetime,
    *,
    zone: str = "Europe/Berlin",
    locale: str = "en",
    consent: bool = True,
    first_name: str = "Jane",
    email: str = "jane@example.org",
) -> customer.ManageView:
    options = SchedulingOptions.from_settings(rt.settings)
    held = customer.hold(rt.uow, secret, start, zone, locale, options)
    details = customer.CustomerDetails(first_name, "Doe", email, None, consent, zone, locale)
    return customer.confirm(rt.uow, secret, held.secret, details, options, service_key(rt.settings))
