"""A small organisation for the scheduling tests: consultants, the tech-setup team and fitters.

- consultants' team (America/New_York), members ``c1``, ``c2``: Mon-Fri 09:00-17:00, INITIAL 60 min;
- tech-setup team (America/Denver): members ``t1``, ``t2``: Mon-Fri 09:00-12:00, TECH_SETUP 30 min;
- fitters (Europe/Berlin) ``f1``, ``f2``: Mon-Sat 08:00-18:00, lunch 12:00-13:00, 30 min travel after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import system_actor

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


@dataclass
class World:
    consultants: str
    c1: str
    c2: str
    tech: str
    t1: str
    t2: str
    f1: str
    f2: str
    monday: date  # a Monday at least two weeks ahead

    def day(self, offset: int) -> date:
        return self.monday + timedelta(days=offset)


def _calendar(rt: Runtime, name: str, kind: str, zone: str, team_id: str | None = None) -> str:
    draft = CalendarDraft(name=name, kind=kind, timezone=zone, team_id=team_id)
    return calendars.create(rt.uow(), system_actor(), draft).id


def _rules(rt: Runtime, calendar_id: str, data: dict[str, object]) -> None:
    calendar_rules.set_rules(rt.uow(), system_actor(), calendar_id, AvailabilityRules.model_validate(data))


def build_world(rt: Runtime) -> World:
    consultants = _calendar(rt, "Consultants", "team", "America/New_York")
    c1 = _calendar(rt, "Consultant A", "consultant", "America/New_York", consultants)
    c2 = _calendar(rt, "Consultant B", "consultant", "America/New_York", consultants)
    _rules(
        rt,
        consultants,
        {
            "weekly_hours": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS},
            "durations": {"INITIAL": 60},
            "slot_step_minutes": 60,
            "horizon_days": 120,
        },
    )
    tech = _calendar(rt, "Tech setup", "team", "America/Denver")
    t1 = _calendar(rt, "Tech A", "tech_setup_member", "America/Denver", tech)
    t2 = _calendar(rt, "Tech B", "tech_setup_member", "America/Denver", tech)
    _rules(
        rt,
        tech,
        {
            "weekly_hours": {d: [{"start": "09:00", "end": "12:00"}] for d in WEEKDAYS},
            "durations": {"TECH_SETUP": 30},
            "slot_step_minutes": 30,
            "horizon_days": 120,
        },
    )
    f1 = _calendar(rt, "Fitter A", "fitter", "Europe/Berlin")
    f2 = _calendar(rt, "Fitter B", "fitter", "Europe/Berlin")
    fitter_rules = {
        "weekly_hours": {d: [{"start": "08:00", "end": "18:00"}] for d in (*WEEKDAYS, "sat")},
        "breaks": {d: [{"start": "12:00", "end": "13:00"}] for d in (*WEEKDAYS, "sat")},
        "durations": {"FITTING": 90, "FOLLOW_UP": 60},
        "buffer_after_minutes": 30,
        "slot_step_minutes": 30,
        "horizon_days": 120,
    }
    _rules(rt, f1, fitter_rules)
    _rules(rt, f2, fitter_rules)
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=14 + (7 - today.weekday()) % 7)
    return World(consultants, c1, c2, tech, t1, t2, f1, f2, monday)


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)
