"""Availability and the slot re-check on the fake unit of work: ``uow.repo(SchedulingQueries)`` in memory.

March 2030 in America/Denver is MST (UTC-7): working hours 09:00-12:00 local are 16:00-19:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from caldav_bridge.errors import ValidationFailed
from caldav_bridge.scheduling import availability
from caldav_bridge.scheduling.availability import AvailabilityQuery, check_slot, plan_for
from caldav_bridge.scheduling.rules import AvailabilityRules, Purpose, SchedulingOptions, TimeRange
from caldav_bridge.services.actor import system_actor
from tests.unit.fake_uow import FakeUnitOfWork, appointment, calendar

TEAM, M1, M2 = "team-1", "member-1", "member-2"
NOW = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
MONDAY = (datetime(2030, 3, 4, 7, 0, tzinfo=UTC), datetime(2030, 3, 5, 7, 0, tzinfo=UTC))  # local midnight to midnight
ACTOR = system_actor("api", "dispatcher")
OPTIONS = SchedulingOptions()
MORNINGS = AvailabilityRules.model_validate(
    {
        "weekly_hours": {"mon": [{"start": "09:00", "end": "12:00"}]},
        "durations": {"FOLLOW_UP": 60},
        "slot_step_minutes": 60,
    }
)


def _utc(hour: int) -> datetime:
    return datetime(2030, 3, 4, hour, 0, tzinfo=UTC)


def _team_uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    calendar(uow, TEAM, kind="team", name="Fitters")
    calendar(uow, M1, team_id=TEAM, name="Ann")
    calendar(uow, M2, team_id=TEAM, name="Bob")
    uow.scheduling.rules[TEAM] = MORNINGS
    return uow


def _slots(
    uow: FakeUnitOfWork,
    *,
    options: SchedulingOptions = OPTIONS,
    calendar_id: str | None = None,
    team_id: str | None = None,
) -> list[tuple[int, str]]:
    query = AvailabilityQuery(Purpose.FOLLOW_UP, *MONDAY, calendar_id=calendar_id, team_id=team_id)
    result = availability.availability(uow, ACTOR, query, options, now=NOW)
    assert result.duration == timedelta(minutes=60)
    return [(s.start.hour, s.calendar_id) for s in result.slots]


def test_a_calendars_free_slots_leave_out_its_appointments_and_follow_its_teams_rules() -> None:
    uow = _team_uow()
    appointment(uow, "a1", M1, start=_utc(17))
    appointment(uow, "a2", M1, "CANCELLED", start=_utc(18))  # a cancelled appointment occupies nothing
    assert _slots(uow, calendar_id=M1) == [(16, M1), (18, M1)]
    uow.scheduling.rules[M1] = MORNINGS.model_copy(
        update={"weekly_hours": {"mon": [TimeRange(start="10:00", end="12:00")]}}
    )
    assert _slots(uow, calendar_id=M1) == [(18, M1)]  # its own rules win over the team's
    assert uow.commits == 0


def test_round_robin_names_the_member_least_recently_assigned_and_least_loaded_the_emptier_day() -> None:
    uow = _team_uow()
    uow.scheduling.assigned[(TEAM, M1)] = NOW
    uow.scheduling.assigned[(TEAM, M2)] = NOW - timedelta(days=3)
    appointment(uow, "a1", M2, start=_utc(16))
    assert _slots(uow, team_id=TEAM) == [(16, M1), (17, M2), (18, M2)]
    least_loaded = SchedulingOptions(assignment="least_loaded")
    assert _slots(uow, team_id=TEAM, options=least_loaded) == [(16, M1), (17, M1), (18, M1)]


def test_exceptions_close_the_teams_day_and_a_members_own_reopens_part_of_it() -> None:
    uow = _team_uow()
    uow.scheduling.exception_days[TEAM] = {date(2030, 3, 4): []}
    assert _slots(uow, team_id=TEAM) == []
    uow.scheduling.exception_days[M2] = {date(2030, 3, 4): [TimeRange(start="10:00", end="11:00")]}
    assert _slots(uow, team_id=TEAM) == [(17, M2)]


def test_the_recheck_names_why_a_slot_cannot_be_booked_and_ignores_the_appointment_being_moved() -> None:
    uow = _team_uow()
    appointment(uow, "a1", M1, start=_utc(17))
    member = uow.calendars.get(M1)
    assert member is not None
    plan = plan_for(uow, member, Purpose.FOLLOW_UP, OPTIONS, NOW)
    assert check_slot(uow, plan, (_utc(16), _utc(17)), NOW) is None
    assert check_slot(uow, plan, (_utc(17), _utc(18)), NOW) is not None
    assert check_slot(uow, plan, (_utc(17), _utc(18)), NOW, exclude=["a1"]) is None
    assert check_slot(uow, plan, (_utc(20), _utc(21)), NOW) is not None  # after working hours


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({}, "calendar_id"),
        ({"calendar_id": M1, "team_id": TEAM}, "calendar_id"),
        ({"team_id": M1}, "team_id"),
        ({"calendar_id": TEAM}, "calendar_id"),
        ({"calendar_id": "nobody"}, "calendar_id"),
    ],
)
def test_a_target_that_is_not_one_calendar_or_one_team_is_refused(target: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _slots(_team_uow(), calendar_id=target.get("calendar_id"), team_id=target.get("team_id"))
    assert [e.field for e in refused.value.errors] == [field]


def test_a_window_that_is_empty_or_too_long_is_refused() -> None:
    uow = _team_uow()
    for end in (MONDAY[0], MONDAY[0] + OPTIONS.max_window + timedelta(days=1)):
        with pytest.raises(ValidationFailed):
            availability.availability(uow, ACTOR, AvailabilityQuery(Purpose.FOLLOW_UP, MONDAY[0], end, M1), OPTIONS)
