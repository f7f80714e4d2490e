"""A change of one occurrence of a series over REST meets the rules any change meets: it is in the
appointment's history and audit (which occurrence, what changed, who, the reason), and a moved or brought-back
occurrence is re-checked against the calendar's other bookings as a reschedule is (409 ``slot-unavailable``:
a slot booked through scheduling always; other appointments, other series' occurrences and the same series'
other occurrences unless ``allow_overlap``). Over real HTTP, SQLite and PostgreSQL.

Failed before: the occurrence's change left no history row (only an ``update`` audit row naming nothing), and
an occurrence could be moved onto any other appointment, even onto another occurrence of its own series.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import caldav
import pytest
from sqlalchemy import select

from caldav_bridge.store.tables import AuditRow
from tests.caldav.test_occurrence_changes import expanded, rid, write_series
from tests.caldav.test_series_channels import Days, future_tuesday, series_ics
from tests.conftest import People
from tests.support.factories import appointment_body, iso
from tests.support.live import Api, LiveServer


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    return dict(response.json())


def _series(live: LiveServer, calendar: caldav.Calendar, people: People) -> tuple[Days, Api, str, str, str]:
    """The phone's weekly x 4 at 09:00 Denver (the 2nd moved to 15:00): days, api, calendar, series id, path."""
    days = future_tuesday()
    write_series(calendar, days)
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    (series,) = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    return days, api, calendar_id, series["id"], f"/api/v1/appointments/{series['id']}/occurrences"


def test_an_occurrence_change_is_in_the_history_and_the_audit(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days, api, _, series_id, path = _series(live, fitter_calendar, people)
    week = [days.at(7 * n, 9).astimezone(UTC) for n in range(4)]
    status = api.get(f"/api/v1/appointments/{series_id}").json()["status"]
    before = api.get(f"/api/v1/appointments/{series_id}/history").json()["items"]

    moved = api.patch(
        f"{path}/{rid(week[2])}",
        json={"date_start": iso(days.at(14, 11)), "date_end": iso(days.at(14, 12)), "reason": "customer asked"},
    )
    assert moved.status_code == 200, moved.text
    assert api.patch(f"{path}/{rid(week[3])}", json={"cancelled": True}).status_code == 200
    assert api.patch(f"{path}/{rid(week[1])}", json={"name": "At the shop (2)"}).status_code == 200

    history = api.get(f"/api/v1/appointments/{series_id}/history").json()["items"]
    added = [
        (h["recurrence_id"], h["old_status"], h["new_status"], h["old_start"], h["new_start"], h["changed"])
        for h in history[len(before) :]
    ]
    assert added == [
        (rid(week[2]), status, status, rid(week[2]), rid(days.at(14, 11)), ["date_start", "date_end"]),
        (rid(week[3]), status, "CANCELLED", rid(week[3]), rid(week[3]), ["cancelled"]),
        (rid(week[1]), status, status, rid(days.at(7, 15)), rid(days.at(7, 15)), ["name"]),
    ]
    last = history[len(before)]
    assert (last["reason"], last["actor"], last["channel"]) == ("customer asked", people.fitter.username, "api")
    assert all(h["recurrence_id"] is None and h["changed"] is None for h in before)

    with live.runtime.uow() as uow:
        audit = uow.session.scalars(
            select(AuditRow).where(AuditRow.appointment_id == series_id, AuditRow.action == "occurrence")
        ).all()
        details = [a.detail for a in audit]
    assert details == [
        f"occurrence {rid(week[2])}: date_start date_end",
        f"occurrence {rid(week[3])}: cancelled",
        f"occurrence {rid(week[1])}: name",
    ]


def _booked_follow_up(api: Api, calendar_id: str, days: Days) -> None:
    """A FOLLOW_UP booked through scheduling (it claims its slot) on day 14 at 14:00."""
    source = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(40, 13)))
    assert source.status_code == 201, source.text
    booked = api.post(
        "/api/v1/bookings/follow-up",
        json={"calendar_id": calendar_id, "appointment_id": source.json()["id"], "date_start": iso(days.at(14, 14))},
    )
    assert booked.status_code == 201, booked.text


@pytest.mark.parametrize("case", ["plain", "own_series", "other_series", "claimed"])
def test_a_moved_occurrence_is_checked_against_other_bookings(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, case: str
) -> None:
    days, api, calendar_id, _, path = _series(live, fitter_calendar, people)
    week2 = days.at(14, 9)
    target = {
        "plain": days.at(14, 11),  # a REST appointment 11:00-12:00
        "own_series": days.at(7, 15),  # the series' own 2nd occurrence (moved to 15:00 by the phone)
        "other_series": days.at(14, 16),  # a daily series at 16:00
        "claimed": days.at(14, 14),  # a follow-up booked through scheduling
    }[case]
    if case == "plain":
        other = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(14, 11)))
        assert other.status_code == 201, other.text
    elif case == "other_series":
        fitter_calendar.save_event(
            series_ics("daily@phone", days.d0 + timedelta(days=13), summary="Daily", hour=16, rule="FREQ=DAILY;COUNT=3")
        )
    elif case == "claimed":
        _booked_follow_up(api, calendar_id, days)
    unchanged = expanded(api, calendar_id, days)
    etag = api.get(path.rsplit("/", 1)[0]).headers["ETag"]

    body = {"date_start": iso(target + timedelta(minutes=30)), "date_end": iso(target + timedelta(minutes=90))}
    problem = _problem(api.patch(f"{path}/{rid(week2)}", json=body), 409)
    assert problem["type"].endswith("/problems/slot-unavailable"), problem
    assert expanded(api, calendar_id, days) == unchanged  # nothing written
    assert api.get(path.rsplit("/", 1)[0]).headers["ETag"] == etag

    # allow_overlap moves it anyway, except onto a slot booked through scheduling (as a reschedule)
    forced = api.patch(f"{path}/{rid(week2)}", json={**body, "allow_overlap": True})
    if case == "claimed":
        _problem(forced, 409)
    else:
        assert forced.status_code == 200, forced.text
        assert forced.json()["date_start"] == rid(target + timedelta(minutes=30))
    if case == "plain":
        taken = problem["conflicting_time"]
        assert (taken["date_start"], taken["date_end"]) == (rid(days.at(14, 11)), rid(days.at(14, 12)))


def test_a_free_time_a_cancelled_and_a_brought_back_occurrence(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days, api, calendar_id, _, path = _series(live, fitter_calendar, people)
    week = [days.at(7 * n, 9) for n in range(4)]
    other = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(14, 11)))
    assert other.status_code == 201, other.text
    # moved to free time: fine; within its own old hour too (it no longer stands there)
    free = api.patch(
        f"{path}/{rid(week[2])}", json={"date_start": iso(days.at(14, 13)), "date_end": iso(days.at(14, 14))}
    )
    assert free.status_code == 200, free.text
    again = api.patch(
        f"{path}/{rid(week[2])}",
        json={"date_start": iso(days.at(14, 9) + timedelta(minutes=30)), "date_end": iso(days.at(14, 10))},
    )
    assert again.status_code == 200, again.text
    # the 4th week cancelled; the REST appointment takes its hour; bringing it back is refused
    assert api.patch(f"{path}/{rid(week[3])}", json={"cancelled": True}).status_code == 200
    taker = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(21, 9)))
    assert taker.status_code == 201, taker.text
    _problem(api.patch(f"{path}/{rid(week[3])}", json={"cancelled": False}), 409)
    # a retitle of an occurrence standing where it stands is no move: never refused
    assert api.patch(f"{path}/{rid(week[0])}", json={"name": "First"}).status_code == 200
    assert [r for r, _, _ in expanded(api, calendar_id, days)] == [rid(w) for w in week[:3]]
