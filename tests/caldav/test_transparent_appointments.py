"""A customer appointment that does not occupy the fitter's time ("reachable by phone" while at a trade fair):
CalDAV's ``TRANSP:TRANSPARENT`` is ``meta.show_as`` ``free`` on every channel.

Over real HTTP with python-caldav, the REST API, the feeds, free-busy, the availability API and the Salesforce
emulator; SQLite and PostgreSQL. Each test failed before ``TRANSP`` and ``meta.show_as`` were one: the appointment
was OPAQUE in feeds and blocked availability, REST had no ``show_as``, a REST change left the item's TRANSP.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import caldav
import icalendar
from sqlalchemy import select

from caldav_bridge.dav.render import etag_of_text
from caldav_bridge.salesforce.runner import run_job
from caldav_bridge.store.dav_tables import DavItemRow
from sf_emulator.emulator import SalesforceEmulator, running_emulator
from tests.caldav.support import DENVER, follow_up_slots, new_feed, tuesday_ahead
from tests.conftest import People
from tests.salesforce.conftest import make_context
from tests.support.factories import appointment_body
from tests.support.live import Api, LiveServer


def _at(hour: int) -> datetime:
    """``hour`` o'clock on a Tuesday ahead, in the fitter's zone."""
    return datetime.combine(tuesday_ahead(), time(hour), tzinfo=DENVER)


def _ics(uid: str, start: datetime, *, transp: str | None, summary: str = "Fitting (by phone)") -> str:
    local = "%Y%m%dT%H%M%S"
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//phone//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:{summary}\r\n"
        f"DTSTART;TZID=America/Denver:{start.astimezone(DENVER):{local}}\r\n"
        f"DTEND;TZID=America/Denver:{(start + timedelta(hours=1)).astimezone(DENVER):{local}}\r\n"
        "X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        + (f"TRANSP:{transp}\r\n" if transp else "")
        + "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _rewrite(calendar: caldav.Calendar, uid: str, start: datetime, *, transp: str | None) -> None:
    """The phone saves the event ``uid`` again, its TRANSP now ``transp`` (None: left out)."""
    event = calendar.event_by_uid(uid)
    event.data = _ics(uid, start, transp=transp)
    event.save()


def _free_appointment(api: Api, people: People, start: datetime, name: str) -> tuple[dict[str, object], str]:
    """A follow-up made over REST with ``meta.show_as`` free: its body (without ``meta``) and its id."""
    body = appointment_body(people.fitter.calendar_id or "", start=start, name=name)
    created = api.post("/api/v1/appointments", json={**body, "meta": {"type": "FOLLOW_UP", "show_as": "free"}})
    assert created.status_code == 201, created.text
    return body, str(created.json()["id"])


def _item(calendar: caldav.Calendar, appointment_id: str) -> caldav.Event:
    """The appointment's CalDAV item as the phone reads it."""
    item = calendar.event_by_url(f"{calendar.url}{appointment_id}.ics")
    item.load()
    return item


def _only(api: Api, people: People) -> dict[str, object]:
    response = api.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id})
    assert response.status_code == 200, response.text
    (item,) = response.json()["items"]
    return dict(item)


def _slot_free(api: Api, people: People, start: datetime) -> bool:
    """Whether the availability API offers a slot overlapping the hour from ``start``."""
    slots = follow_up_slots(api, people.fitter.calendar_id or "", start.astimezone(DENVER).date())
    return any(begin < start + timedelta(hours=1) and end > start for begin, end in slots)


def _feed_transp(live: LiveServer, api: Api, people: People, uid: str) -> dict[str, str]:
    """TRANSP of the event ``uid`` in a new feed at each privacy level."""
    found = {}
    for privacy in ("busy", "minimal", "full"):
        feed = new_feed(live, api, people.fitter.calendar_id or "", privacy)
        (event,) = [e for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT") if str(e["UID"]) == uid]
        found[privacy] = str(event["TRANSP"])
    return found


def _busy_periods(calendar: caldav.Calendar, start: datetime) -> list[tuple[datetime, datetime]]:
    """The FREEBUSY periods a free-busy REPORT gives for the day of ``start``."""
    day = datetime.combine(start.astimezone(DENVER).date(), time(0), tzinfo=DENVER)
    answer = calendar.freebusy_request(day.astimezone(UTC), (day + timedelta(days=1)).astimezone(UTC))
    periods = []
    for component in icalendar.Calendar.from_ical(answer.data).walk("VFREEBUSY"):
        found = component.get("FREEBUSY")
        for prop in found if isinstance(found, list) else [found] if found is not None else []:
            if prop.params.get("FBTYPE", "BUSY").upper().startswith("BUSY"):
                begin, until = prop.dt
                until = begin + until if isinstance(until, timedelta) else until
                periods.append((begin.astimezone(UTC), until.astimezone(UTC)))
    return periods


def test_a_transparent_appointment_is_free_time_on_every_channel(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, fitter_api: Api
) -> None:
    api, start = fitter_api, _at(10)
    fitter_calendar.save_event(_ics("phone-fitting@client", start, transp="TRANSPARENT"))

    item = _only(api, people)  # a customer appointment (it names its type), listed in REST ...
    assert item["meta"]["show_as"] == "free"  # type: ignore[index]
    # ... transparent in every feed, free in availability and in free-busy
    assert _feed_transp(live, api, people, "phone-fitting@client") == dict.fromkeys(
        ("busy", "minimal", "full"), "TRANSPARENT"
    )
    assert _slot_free(api, people, start)
    assert _busy_periods(fitter_calendar, start) == []

    # made opaque on the phone: busy everywhere
    _rewrite(fitter_calendar, "phone-fitting@client", start, transp="OPAQUE")
    assert _only(api, people)["meta"]["show_as"] == "busy"  # type: ignore[index]
    assert _feed_transp(live, api, people, "phone-fitting@client")["full"] == "OPAQUE"
    assert not _slot_free(api, people, start)
    assert _busy_periods(fitter_calendar, start) == [(start.astimezone(UTC), (start + timedelta(hours=1)))]

    # transparent again, then TRANSP left out (RFC 5545: opaque): the default, busy
    _rewrite(fitter_calendar, "phone-fitting@client", start, transp="TRANSPARENT")
    assert _only(api, people)["meta"]["show_as"] == "free"  # type: ignore[index]
    _rewrite(fitter_calendar, "phone-fitting@client", start, transp=None)
    assert "show_as" not in _only(api, people)["meta"]  # type: ignore[operator]
    assert not _slot_free(api, people, start)


def test_a_rest_change_of_show_as_rerenders_the_items_transp(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, fitter_api: Api
) -> None:
    api, start = fitter_api, _at(13)
    body, appointment_id = _free_appointment(api, people, start, "Remote check")

    def stored() -> icalendar.Event:
        (event,) = icalendar.Calendar.from_ical(_item(fitter_calendar, appointment_id).data).walk("VEVENT")
        assert isinstance(event, icalendar.Event)
        return event

    assert str(stored()["TRANSP"]) == "TRANSPARENT"
    assert _feed_transp(live, api, people, appointment_id)["busy"] == "TRANSPARENT"
    assert _slot_free(api, people, start) and _busy_periods(fitter_calendar, start) == []
    # a slot that overlaps it is no conflict for the follow-up check either
    overlapping = appointment_body(people.fitter.calendar_id or "", start=start, name="Booked over it")
    booked = api.post("/api/v1/appointments", json={**overlapping, "meta": {"type": "FOLLOW_UP"}})
    assert booked.status_code == 201, booked.text
    assert api.delete(f"/api/v1/appointments/{booked.json()['id']}").status_code in (200, 204)

    patched = api.patch(f"/api/v1/appointments/{appointment_id}", json={"meta": {"show_as": "busy"}})
    assert patched.status_code == 200, patched.text
    assert str(stored()["TRANSP"]) == "OPAQUE"
    assert _feed_transp(live, api, people, appointment_id)["full"] == "OPAQUE"
    assert not _slot_free(api, people, start)
    patched = api.patch(f"/api/v1/appointments/{appointment_id}", json={"meta": {"show_as": "free", "type": "INITIAL"}})
    assert patched.status_code == 200, patched.text
    assert str(stored()["TRANSP"]) == "TRANSPARENT" and str(stored()["X-APPOINTMENT-TYPE"]) == "INITIAL"
    # a phone's save of the item it was given keeps it free
    item = _item(fitter_calendar, appointment_id)
    item.data = item.data.replace("SUMMARY:Remote check", "SUMMARY:Remote check (video)")
    item.save()
    again = api.get(f"/api/v1/appointments/{appointment_id}").json()
    assert (again["name"], again["meta"]["show_as"]) == ("Remote check (video)", "free")

    # a value that is none of busy, free, out_of_office is refused, naming the field
    for bad in ({"show_as": "maybe"}, {"show_as": 3}):
        refused = api.patch(f"/api/v1/appointments/{appointment_id}", json={"meta": bad})
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["meta.show_as"]
    refused = api.post("/api/v1/appointments", json={**body, "meta": {"type": "FOLLOW_UP", "show_as": "Free"}})
    assert refused.status_code == 422, refused.text


def test_salesforce_gets_show_as_from_the_phones_transp(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, fitter_api: Api
) -> None:
    api, start = fitter_api, _at(9)
    fitter_calendar.save_event(_ics("sf-phone@client", start, transp="TRANSPARENT"))
    with running_emulator(SalesforceEmulator(page_size=7)) as emu:
        sync = make_context(live.runtime, emu)
        pushed = run_job(sync, "push")
        assert pushed is not None and pushed.created == 1, pushed
        (record,) = emu.live("Event")
        assert record["ShowAs"] == "Free"
        mirrored = run_job(sync, "mirror")  # the echo changes nothing
        assert mirrored is not None and mirrored.updated == 0, mirrored
        assert _only(api, people)["meta"]["show_as"] == "free"  # type: ignore[index]

        _rewrite(fitter_calendar, "sf-phone@client", start, transp="OPAQUE")
        pushed = run_job(sync, "push")
        assert pushed is not None and pushed.updated == 1, pushed
        assert emu.get("Event", record["Id"])["ShowAs"] == "Busy"

        # set in Salesforce: the phone's item follows
        emu.update("Event", record["Id"], {"ShowAs": "Free"})
        mirrored = run_job(sync, "mirror")
        assert mirrored is not None and mirrored.updated == 1, mirrored
        assert "TRANSP:TRANSPARENT" in fitter_calendar.event_by_uid("sf-phone@client").data
        assert _slot_free(api, people, start)


def test_a_phone_saving_an_item_unchanged_keeps_what_salesforce_set(
    live: LiveServer, fitter_calendar: caldav.Calendar, people: People, fitter_api: Api
) -> None:
    """An item rendered before TRANSP followed ``meta.show_as`` says OPAQUE of an appointment shown as free (e.g.
    Salesforce's ShowAs Free): the phone saving it with that TRANSP unchanged leaves it free; changing it counts."""
    api = fitter_api
    _, appointment_id = _free_appointment(api, people, _at(15), "Callback")
    with live.runtime.uow() as uow:  # the item as it was rendered before: OPAQUE
        row = uow.session.scalars(select(DavItemRow).where(DavItemRow.appointment_id == appointment_id)).one()
        row.text = row.text.replace("TRANSP:TRANSPARENT", "TRANSP:OPAQUE")
        row.etag = etag_of_text(row.text)
        uow.commit()
    item = _item(fitter_calendar, appointment_id)
    assert "TRANSP:OPAQUE" in item.data
    item.data = item.data.replace("SUMMARY:Callback", "SUMMARY:Callback (Ann)")
    item.save()
    again = api.get(f"/api/v1/appointments/{appointment_id}").json()
    assert (again["name"], again["meta"]["show_as"]) == ("Callback (Ann)", "free")
    item = _item(fitter_calendar, appointment_id)
    item.data = item.data.replace("TRANSP:OPAQUE", "TRANSP:TRANSPARENT")
    item.save()
    item.load()
    item.data = item.data.replace("TRANSP:TRANSPARENT", "TRANSP:OPAQUE")  # now the phone makes it busy
    item.save()
    assert api.get(f"/api/v1/appointments/{appointment_id}").json()["meta"]["show_as"] == "busy"
