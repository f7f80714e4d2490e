"""The self-booking part of the demo: the consultants as a team, its working hours, and a team booking link.

Idempotent, like the rest of the demo. The link's secret is derived from the service key (kept in the
data directory), so ``serve --demo`` prints the same link on every start without storing it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable

from caldav_bridge.clock import utcnow
from caldav_bridge.credentials import token_digest
from caldav_bridge.model.requests import CalendarDraft, CalendarKind
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules
from caldav_bridge.selfbooking import links
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.model import LinkDraft
from caldav_bridge.selfbooking.repository import SelfBookingRows
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.uow import UnitOfWork
from config import Settings

__all__ = ["DEMO_TEAM", "demo_link", "seed_self_booking"]

DEMO_TEAM = "Consultants"
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _secret(settings: Settings) -> str:
    digest = hmac.new(service_key(settings), b"demo booking link", hashlib.sha256).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()


def demo_link(settings: Settings) -> str:
    """The demo's team booking link (for the consultants' INITIAL consultation)."""
    return links.book_url(settings.public_url, _secret(settings))


def seed_self_booking(make_uow: Callable[[], UnitOfWork], settings: Settings) -> str:
    """The consultants' team (its members: the demo consultants), its hours, and the demo link; the link's URL."""
    actor = system_actor("demo")
    now = utcnow()
    with make_uow() as uow:
        team = uow.calendars.find(DEMO_TEAM, CalendarKind.TEAM.value)
        team_id = team.id if team is not None else None
    if team_id is None:
        draft = CalendarDraft(name=DEMO_TEAM, kind=CalendarKind.TEAM, timezone="America/New_York")
        team_id = calendars.create(make_uow(), actor, draft).id
        rules = AvailabilityRules.model_validate(
            {
                "weekly_hours": {d: [{"start": "09:00", "end": "17:00"}] for d in _WEEKDAYS},
                "durations": {"INITIAL": 60},
                "slot_step_minutes": 60,
                "min_notice_minutes": 120,
                "horizon_days": 60,
            }
        )
        calendar_rules.set_rules(make_uow(), actor, team_id, rules)
    with make_uow() as uow:
        for calendar in uow.calendars.without_team(CalendarKind.CONSULTANT.value):
            calendar.team_id, calendar.updated_at = team_id, now
        uow.commit()
    secret = _secret(settings)
    with make_uow() as uow:
        exists = uow.repo(SelfBookingRows).link_by_hash(token_digest(secret))
    if exists is None:
        draft_link = LinkDraft(team_id=team_id, name="Demo: book a consultation")
        links.issue(make_uow(), actor, draft_link, settings.public_url, secret=secret)
    return demo_link(settings)
