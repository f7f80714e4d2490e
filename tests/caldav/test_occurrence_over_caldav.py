"""A phone's own change of one occurrence ("this event only": a PUT of the series item with a RECURRENCE-ID
override added or changed, or an EXDATE) means what the REST occurrence change means: the same history entry
(``GET /api/v1/appointments/{id}/history``: which occurrence, old and new status and start, what changed) and
audit row, raised by the same service code; a PUT that changes no occurrence (the same body again, the item as a
REST change wrote it sent back, the series renamed) raises none. Overlaps are treated as for a plain CalDAV PUT:
not refused (the calendar is the fitter's own), where REST refuses them. python-caldav over real HTTP, SQLite and
PostgreSQL.

Failed before: the phone's PUT left only an ``update`` audit row and no history entry of the occurrence.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import caldav
import pytest
import requests
from sqlalchemy import select

from caldav_bridge.converters.ical_shape import MAX_DATES
from caldav_bridge.services.appointments import MAX_OCCURRENCE_CHANGES
from caldav_bridge.store.tables import AuditRow
from tests.caldav.test_occurrence_changes import UID, expanded, rid, write_series
from tests.caldav.test_series_channels import Days, future_tuesday, series_ics
from tests.conftest import People
from tests.support.cpu import CPU_BUDGET
from tests.support.factories import appointment_body, iso
from tests.support.hostile import tried
from tests.support.live import Api, LiveServer

REST_UID = "weekly-rest@phone"


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%dT%H%M%S}"


def _override(uid: str, original: datetime, start: datetime, summary: str, extra: str = "") -> str:
    """An override VEVENT as Apple Calendar writes one for "this event only" (the series' SUMMARY copied)."""
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"RECURRENCE-ID;TZID=America/Denver:{_stamp(original)}\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(start)}\r\n"
        f"DTEND;TZID=America/Denver:{_stamp(start + timedelta(hours=1))}\r\nSUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"
    )


def _phone_series(
    days: Days,
    *,
    moved: dict[int, datetime] | None = None,
    deleted: tuple[int, ...] = (),
    summary: str = "Weekly fitting",
    uid: str = UID,
) -> str:
    """:func:`write_series`' weekly x 4 at 09:00 (the 2nd week moved to 15:00 "At the shop") as the phone writes it
    after its edits: ``moved`` weeks' overrides (the series' SUMMARY copied), ``deleted`` weeks as EXDATEs."""
    exdates = "".join(f"EXDATE;TZID=America/Denver:{_stamp(days.at(7 * n, 9))}\r\n" for n in deleted)
    tail = _override(uid, days.at(7, 9), days.at(7, 15), "At the shop")
    tail += "".join(_override(uid, days.at(7 * n, 9), at, summary) for n, at in sorted((moved or {}).items()))
    return series_ics(
        uid,
        days.d0,
        summary=summary,
        hour=9,
        rule="FREQ=WEEKLY;COUNT=4",
        extra=f"{exdates}X-APPOINTMENT-TYPE:FOLLOW_UP\r\nX-PHONE-NOTE:kept\r\n",
        tail=tail,
    )


def _phone_put(calendar: caldav.Calendar, uid: str, text: str) -> None:
    """The phone saves its edited copy of the item (python-caldav's PUT to the item's URL)."""
    event = calendar.event_by_uid(uid)
    event.data = text
    event.save()


def _series_id(api: Api, calendar_id: str, name: str) -> str:
    items = api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    (found,) = [i["id"] for i in items if i["name"] == name]
    return str(found)


def _history(api: Api, series_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/appointments/{series_id}/history")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _entry(entry: dict[str, Any]) -> tuple[Any, ...]:
    """A history entry without when and through which channel."""
    return tuple(v for k, v in sorted(entry.items()) if k not in ("at", "channel"))


def _audit(live: LiveServer, series_id: str) -> list[tuple[str, str | None, str]]:
    """The series' change audit (action, detail, channel), oldest first; reads left out."""
    with live.runtime.uow() as uow:
        rows = uow.session.scalars(
            select(AuditRow).where(AuditRow.appointment_id == series_id).order_by(AuditRow.at, AuditRow.id)
        ).all()
        return [(a.action, a.detail, a.channel) for a in rows if a.action in ("create", "update", "occurrence")]


def test_a_phone_moving_or_deleting_one_occurrence_is_recorded_as_the_rest_change_is(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    week = [days.at(7 * n, 9) for n in range(4)]
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    write_series(fitter_calendar, days)  # the phone's series
    fitter_calendar.save_event(_phone_series(days, summary="Weekly check", uid=REST_UID))  # one changed over REST
    phone_id, rest_id = _series_id(api, calendar_id, "Weekly fitting"), _series_id(api, calendar_id, "Weekly check")
    status = api.get(f"/api/v1/appointments/{phone_id}").json()["status"]
    phone_before, rest_before = len(_history(api, phone_id)), len(_history(api, rest_id))

    # the phone moves the 3rd week to 11:00, then deletes the 4th; REST does the same to the other series
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: days.at(14, 11)}))
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: days.at(14, 11)}, deleted=(3,)))
    rest = f"/api/v1/appointments/{rest_id}/occurrences"
    move = {"date_start": iso(days.at(14, 11)), "date_end": iso(days.at(14, 12)), "allow_overlap": True}
    assert api.patch(f"{rest}/{rid(week[2])}", json=move).status_code == 200
    assert api.patch(f"{rest}/{rid(week[3])}", json={"cancelled": True}).status_code == 200

    phone = _history(api, phone_id)[phone_before:]
    assert [(h["recurrence_id"], h["old_status"], h["new_status"], h["old_start"], h["new_start"]) for h in phone] == [
        (rid(week[2]), status, status, rid(week[2]), rid(days.at(14, 11))),
        (rid(week[3]), status, "CANCELLED", rid(week[3]), rid(week[3])),
    ]
    assert [h["changed"] for h in phone] == [["date_start", "date_end"], ["cancelled"]]
    assert {(h["channel"], h["actor"]) for h in phone} == {("caldav", people.fitter.username)}
    rest_entries = _history(api, rest_id)[rest_before:]
    assert [_entry(h) for h in phone] == [_entry(h) for h in rest_entries]  # exactly as the REST changes
    # the audit: an occurrence row naming each, as REST's (no separate update row for the phone's PUTs)
    occurrence_audit = [
        ("occurrence", f"occurrence {rid(week[2])}: date_start date_end"),
        ("occurrence", f"occurrence {rid(week[3])}: cancelled"),
    ]
    assert [(a, d) for a, d, _ in _audit(live, phone_id)] == [("create", None), *occurrence_audit]
    assert [(a, d) for a, d, _ in _audit(live, rest_id)] == [("create", None), *occurrence_audit]
    # both series now read alike everywhere (REST's expanded list)
    standing = [(days.at(0, 9), days.at(0, 9)), (days.at(7, 9), days.at(7, 15)), (days.at(14, 9), days.at(14, 11))]
    listed = sorted((r, start) for r, _, start in expanded(api, calendar_id, days))
    assert listed == sorted(2 * [(rid(w), rid(at)) for w, at in standing])

    # the same body again, and the item as REST wrote it sent back with a phone's own line: no new occurrence
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: days.at(14, 11)}, deleted=(3,)))
    rest_text = fitter_calendar.event_by_uid(REST_UID).data
    newline = "\r\n" if "\r\n" in rest_text else "\n"
    _phone_put(fitter_calendar, REST_UID, rest_text.replace("END:VEVENT", f"X-PHONE-SEEN:1{newline}END:VEVENT", 1))
    assert len(_history(api, phone_id)) == phone_before + 2
    assert len(_history(api, rest_id)) == rest_before + 2
    assert [a for a, _, _ in _audit(live, phone_id)].count("occurrence") == 2


def test_a_phone_renaming_the_series_undoing_its_changes_and_retitling_one(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    week = [days.at(7 * n, 9) for n in range(4)]
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    write_series(fitter_calendar, days)
    series_id = _series_id(api, calendar_id, "Weekly fitting")
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: days.at(14, 11)}, deleted=(3,)))
    status = api.get(f"/api/v1/appointments/{series_id}").json()["status"]
    before, audited = len(_history(api, series_id)), len(_audit(live, series_id))

    # the whole series renamed (the 3rd week's copied SUMMARY with it): a change of the series, of no occurrence
    room = "Weekly fitting (room 2)"
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: days.at(14, 11)}, deleted=(3,), summary=room))
    assert len(_history(api, series_id)) == before
    assert [a for a, _, _ in _audit(live, series_id)[audited:]] == ["update"]

    # the EXDATE taken back and the 3rd week's override removed (both back where the rule puts them); the 2nd
    # week's own override ("At the shop" at 15:00) stays as it was
    _phone_put(fitter_calendar, UID, _phone_series(days, summary=room))
    added = _history(api, series_id)[before:]
    assert [(h["recurrence_id"], h["old_start"], h["new_start"], h["changed"]) for h in added] == [
        (rid(week[2]), rid(days.at(14, 11)), rid(week[2]), ["date_start", "date_end"]),
        (rid(week[3]), rid(week[3]), rid(week[3]), ["cancelled"]),
    ]
    assert (added[1]["old_status"], added[1]["new_status"]) == ("CANCELLED", status)

    # the 2nd week retitled alone: its name is what changed, where it stands
    retitled = _phone_series(days, summary=room).replace("SUMMARY:At the shop", "SUMMARY:At the shop (room 2)")
    _phone_put(fitter_calendar, UID, retitled)
    (last,) = _history(api, series_id)[before + 2 :]
    assert (last["recurrence_id"], last["old_start"], last["new_start"], last["changed"]) == (
        rid(week[1]),
        rid(days.at(7, 15)),
        rid(days.at(7, 15)),
        ["name"],
    )
    assert [a for a, _, _ in _audit(live, series_id)[audited:]] == ["update", *3 * ["occurrence"]]


def _single_ics(uid: str, start: datetime) -> str:
    """A phone's single follow-up, one hour from ``start``."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//single//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=America/Denver:{_stamp(start)}\r\n"
        f"DTEND;TZID=America/Denver:{_stamp(start + timedelta(hours=1))}\r\n"
        "SUMMARY:Single\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _taken(api: Api, calendar_id: str, days: Days, case: str) -> datetime:
    """Time taken on day 14 by a REST appointment (11:00) or a follow-up booked through scheduling (14:00)."""
    if case == "appointment":
        made = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(14, 11)))
        assert made.status_code == 201, made.text
        return days.at(14, 11)
    source = api.post("/api/v1/appointments", json=appointment_body(calendar_id, start=days.at(40, 13)))
    assert source.status_code == 201, source.text
    booked = api.post(
        "/api/v1/bookings/follow-up",
        json={"calendar_id": calendar_id, "appointment_id": source.json()["id"], "date_start": iso(days.at(14, 14))},
    )
    assert booked.status_code == 201, booked.text
    return days.at(14, 14)


@pytest.mark.parametrize("case", ["appointment", "claimed"])
def test_a_phone_moving_an_occurrence_onto_taken_time_is_treated_as_a_plain_put(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, case: str
) -> None:
    days = future_tuesday()
    week = [days.at(7 * n, 9) for n in range(4)]
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    write_series(fitter_calendar, days)
    series_id = _series_id(api, calendar_id, "Weekly fitting")
    target = _taken(api, calendar_id, days, case) + timedelta(minutes=30)

    # a plain PUT onto that time is not refused (a new event, and one moved there)...
    fitter_calendar.save_event(_single_ics("single-new@phone", target))
    fitter_calendar.save_event(_single_ics("single-moved@phone", days.at(16, 9)))
    _phone_put(fitter_calendar, "single-moved@phone", _single_ics("single-moved@phone", target))
    # ...nor is the phone's move of one occurrence there: it is recorded as any move
    before = len(_history(api, series_id))
    _phone_put(fitter_calendar, UID, _phone_series(days, moved={2: target}))
    (moved,) = _history(api, series_id)[before:]
    assert (moved["recurrence_id"], moved["new_start"], moved["channel"]) == (rid(week[2]), rid(target), "caldav")
    assert (rid(week[2]), "Weekly fitting", rid(target)) in expanded(api, calendar_id, days)
    # REST enforces: the same move of another occurrence is refused there (409 slot-unavailable)
    refused = api.patch(
        f"/api/v1/appointments/{series_id}/occurrences/{rid(week[0])}",
        json={"date_start": iso(target), "date_end": iso(target + timedelta(hours=1))},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/problems/slot-unavailable")


def test_a_put_changing_more_occurrences_than_the_bound_is_a_change_of_the_series(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    """A client rewriting its exceptions wholesale (more than ``MAX_OCCURRENCE_CHANGES`` at once): one ``update``
    of the series, no history entry per occurrence (each would write its own history, audit, outbox, webhook rows);
    the bound itself is still read occurrence by occurrence."""
    days = future_tuesday()
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    write_series(fitter_calendar, days)
    series_id = _series_id(api, calendar_id, "Weekly fitting")
    before, audited = len(_history(api, series_id)), len(_audit(live, series_id))

    def daily(removed: int) -> str:
        text = _phone_series(days).replace("FREQ=WEEKLY;COUNT=4", "FREQ=DAILY;COUNT=60")
        values = ",".join(_stamp(days.at(30 + n, 9)) for n in range(removed))
        return text.replace("RRULE:", f"EXDATE;TZID=America/Denver:{values}\r\nRRULE:" if removed else "RRULE:")

    _phone_put(fitter_calendar, UID, daily(0))  # a new rule: a change of the series
    _phone_put(fitter_calendar, UID, daily(MAX_OCCURRENCE_CHANGES))
    assert len(_history(api, series_id)) == before + MAX_OCCURRENCE_CHANGES
    _phone_put(fitter_calendar, UID, daily(2 * MAX_OCCURRENCE_CHANGES + 1))
    assert len(_history(api, series_id)) == before + MAX_OCCURRENCE_CHANGES
    actions = [a for a, _, _ in _audit(live, series_id)[audited:]]
    assert actions == ["update", *MAX_OCCURRENCE_CHANGES * ["occurrence"], "update"]
    assert api.get(f"/api/v1/appointments/{series_id}").json()["meta"]["recurrence"]["exdates"][-1] == rid(
        days.at(30 + 2 * MAX_OCCURRENCE_CHANGES, 9)
    )


def test_a_put_of_the_most_exdates_an_item_may_have_raises_no_occurrence_event_and_more_are_refused(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    """A series saved again with ``MAX_DATES`` (1,000) more EXDATE values, far more than ``MAX_OCCURRENCE_CHANGES``:
    answered within the hostile-input CPU budget, no occurrence event. Failed before the bound: one event per value
    (history, audit, outbox rows) and a quadratic diff, 13 s of CPU for 5,000 values. 5,000 values (15,000, about
    the largest body a PUT may hold, cost ~1.05 s) are refused before any parse since ``MAX_DATES``: nothing changes."""
    days = future_tuesday()
    api = live.client(people.fitter.token)
    write_series(fitter_calendar, days)
    series_id = _series_id(api, people.fitter.calendar_id or "", "Weekly fitting")
    before = len(_history(api, series_id))
    href = str(fitter_calendar.event_by_uid(UID).url)
    auth = (people.fitter.username, people.fitter.password)

    def body(count: int) -> str:
        stamps = [_stamp(days.at(30 + n, 9)) for n in range(count)]
        exdates = "".join(
            "EXDATE;TZID=America/Denver:" + ",".join(stamps[i : i + 500]) + "\r\n" for i in range(0, count, 500)
        )
        return _phone_series(days).replace("RRULE:", exdates + "RRULE:")

    refused = tried(live, lambda: requests.put(href, data=body(5_000), auth=auth, timeout=120), "5,000 EXDATEs")
    assert refused.status == 403, refused.response.text[:300]
    assert "valid-calendar-data" in refused.response.text and "(at most 1,000)" in refused.response.text
    assert not refused.store_changed
    answer = tried(live, lambda: requests.put(href, data=body(MAX_DATES), auth=auth, timeout=120), "1,000 EXDATEs")
    assert answer.status == 204, answer.response.text[:300]
    assert answer.cpu_seconds < CPU_BUDGET, answer.cpu_seconds
    assert len(_history(api, series_id)) == before
    assert len(api.get(f"/api/v1/appointments/{series_id}").json()["meta"]["recurrence"]["exdates"]) >= MAX_DATES


def _all_day_series(uid: str, d0: date, moved: tuple[date, date] | None = None) -> str:
    """A weekly x 4 all-day series as Apple Calendar writes it; ``moved``: (original date, new date) of one
    occurrence moved to another day ("this event only": RECURRENCE-ID and DTSTART dates)."""
    override = ""
    if moved is not None:
        override = (
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nRECURRENCE-ID;VALUE=DATE:{moved[0]:%Y%m%d}\r\n"
            f"DTSTART;VALUE=DATE:{moved[1]:%Y%m%d}\r\nDTEND;VALUE=DATE:{moved[1] + timedelta(days=1):%Y%m%d}\r\n"
            "SUMMARY:Trade fair\r\nEND:VEVENT\r\n"
        )
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//all-day//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{d0:%Y%m%d}\r\nDTEND;VALUE=DATE:{d0 + timedelta(days=1):%Y%m%d}\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Trade fair\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        f"END:VEVENT\r\n{override}END:VCALENDAR\r\n"
    )


def test_a_phone_moving_an_all_day_occurrence_to_another_day_is_recorded_as_the_rest_move(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People
) -> None:
    days = future_tuesday()
    api = live.client(people.fitter.token)
    calendar_id = people.fitter.calendar_id or ""
    original, later = days.d0 + timedelta(weeks=1), days.d0 + timedelta(weeks=1, days=1)
    fitter_calendar.save_event(_all_day_series("fair@phone", days.d0))
    fitter_calendar.save_event(_all_day_series("fair@rest", days.d0 + timedelta(days=2)))
    ids = {
        a["meta"]["ical_uid"]: a["id"]
        for a in api.get("/api/v1/appointments", params={"calendar_id": calendar_id}).json()["items"]
    }
    phone_before, rest_before = len(_history(api, ids["fair@phone"])), len(_history(api, ids["fair@rest"]))

    _phone_put(fitter_calendar, "fair@phone", _all_day_series("fair@phone", days.d0, (original, later)))
    rest_original = days.at(9, 0)  # midnight in the calendar's zone (Denver), two days after the phone's series
    moved = api.patch(
        f"/api/v1/appointments/{ids['fair@rest']}/occurrences/{rid(rest_original)}",
        json={"date_start": iso(days.at(10, 0)), "date_end": iso(days.at(11, 0))},
    )
    assert moved.status_code == 200, moved.text

    (phone,) = _history(api, ids["fair@phone"])[phone_before:]
    (rest,) = _history(api, ids["fair@rest"])[rest_before:]
    assert (phone["recurrence_id"], phone["new_start"], phone["changed"], phone["channel"]) == (
        rid(days.at(7, 0)),
        rid(days.at(8, 0)),
        ["date_start", "date_end"],
        "caldav",
    )
    assert rest["changed"] == phone["changed"] and rest["new_start"] == rid(days.at(10, 0))
    # the item as REST wrote it (dates), sent back by a phone: nothing changed
    rest_text = fitter_calendar.event_by_uid("fair@rest").data
    newline = "\r\n" if "\r\n" in rest_text else "\n"
    _phone_put(fitter_calendar, "fair@rest", rest_text.replace("END:VEVENT", f"X-PHONE-SEEN:1{newline}END:VEVENT", 1))
    _phone_put(fitter_calendar, "fair@phone", _all_day_series("fair@phone", days.d0, (original, later)))
    assert len(_history(api, ids["fair@rest"])) == rest_before + 1
    assert len(_history(api, ids["fair@phone"])) == phone_before + 1
