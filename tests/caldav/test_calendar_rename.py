"""Renaming an appointment calendar over CalDAV renames the calendar: one name on every channel.

A fitter renames their calendar in Apple Calendar, Thunderbird or DAVx5: a PROPPATCH of DAV:displayname on
the collection. Before, only the collection's property changed; REST, the feed (X-WR-CALNAME) and the page
kept the old name. Now the PROPPATCH renames the calendar through the calendar service; a name the service
refuses (empty, over-long) is a 409 and nothing is written; a team calendar a member only reads is a 403.
Over real HTTP with python-caldav; SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import caldav
import pytest
from caldav import elements
from caldav.lib import error

from caldav_bridge.errors import Forbidden, ValidationFailed
from caldav_bridge.model.requests import CalendarDraft, CalendarKind
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import Actor, system_actor
from tests.caldav.conftest import client_for
from tests.caldav.support import dav_session, event_ics
from tests.conftest import People, Person
from tests.support.live import LiveServer

PROPPATCH = (
    '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:">'
    "<D:{op}><D:prop>{prop}</D:prop></D:{op}></D:propertyupdate>"
)


def _displayname(calendar: caldav.Calendar) -> str | None:
    value = calendar.get_properties([elements.dav.DisplayName()])
    return value.get(elements.dav.DisplayName.tag)


def _rest_name(live: LiveServer, token: str, calendar_id: str) -> str:
    response = live.client(token).get(f"/api/v1/calendars/{calendar_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["name"])


def _feed_name(live: LiveServer, people: People) -> str:
    issued = live.client(people.fitter.token).post(
        f"/api/v1/calendars/{people.fitter.calendar_id}/feeds", json={"name": "Phone", "privacy": "busy"}
    )
    assert issued.status_code == 201, issued.text
    feed = live.client().get(f"/feeds/{issued.json()['secret']}.ics")
    assert feed.status_code == 200, feed.text
    lines = [line for line in feed.text.replace("\r\n ", "").splitlines() if line.startswith("X-WR-CALNAME:")]
    assert len(lines) == 1, lines
    return lines[0].removeprefix("X-WR-CALNAME:")


def _team_with_member(live: LiveServer, people: People, name: str) -> str:
    """A team calendar (made by the admin over REST) with a member calendar of the other fitter: its id."""
    admin = live.client(people.admin.token)
    team = admin.post("/api/v1/calendars", json={"name": name, "kind": "team", "timezone": "Europe/Berlin"})
    assert team.status_code == 201, team.text
    team_id = str(team.json()["id"])
    member = admin.post(
        "/api/v1/calendars",
        json={
            "name": "Setup",
            "kind": "tech_setup_member",
            "timezone": "Europe/Berlin",
            "owner_username": people.other_fitter.username,
            "team_id": team_id,
        },
    )
    assert member.status_code == 201, member.text
    return team_id


def test_a_proppatch_of_the_displayname_renames_the_calendar_on_every_channel(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar
) -> None:
    fitter = people.fitter
    assert fitter.calendar_id
    fitter_calendar.save_event(event_ics(f"kept-{uuid.uuid4()}", extra="X-APPOINTMENT-TYPE:FOLLOW_UP\r\n"))
    old = _rest_name(live, fitter.token, fitter.calendar_id)
    assert _displayname(fitter_calendar) == old

    fitter_calendar.set_properties([elements.dav.DisplayName("Hörakustik Süd: Termine")])

    assert _rest_name(live, fitter.token, fitter.calendar_id) == "Hörakustik Süd: Termine"
    assert _rest_name(live, people.dispatcher.token, fitter.calendar_id) == "Hörakustik Süd: Termine"
    assert _feed_name(live, people) == "Hörakustik Süd: Termine"
    # a second client (another device) reads the new name back
    again = client_for(live, fitter.username, fitter.password).principal().calendars()
    assert [_displayname(c) for c in again] == ["Hörakustik Süd: Termine"]
    # the event is untouched, and other properties (a colour) are still the client's own
    assert len(fitter_calendar.events()) == 1
    session = dav_session(fitter.username, fitter.password)
    colour = '<I:calendar-color xmlns:I="http://apple.com/ns/ical/">#FF2968</I:calendar-color>'
    r = session.request("PROPPATCH", str(fitter_calendar.url), data=PROPPATCH.format(op="set", prop=colour), timeout=30)
    assert r.status_code == 207, r.text
    assert _rest_name(live, fitter.token, fitter.calendar_id) == "Hörakustik Süd: Termine"


def test_surrounding_spaces_are_trimmed_on_every_channel(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar
) -> None:
    fitter_calendar.set_properties([elements.dav.DisplayName("  Termine  ")])
    assert people.fitter.calendar_id
    assert _rest_name(live, people.fitter.token, people.fitter.calendar_id) == "Termine"
    assert _displayname(fitter_calendar) == "Termine"


@pytest.mark.parametrize(
    ("op", "prop", "reason"),
    [
        ("set", "<D:displayname>   </D:displayname>", "cannot be empty"),
        ("set", f"<D:displayname>{'x' * 256}</D:displayname>", "at most 255 characters"),
        ("remove", "<D:displayname/>", "cannot be empty"),
    ],
    ids=["blank", "too-long", "removed"],
)
def test_an_empty_or_over_long_name_is_refused_and_nothing_is_written(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar, op: str, prop: str, reason: str
) -> None:
    fitter = people.fitter
    assert fitter.calendar_id
    old = _rest_name(live, fitter.token, fitter.calendar_id)
    colour = '<I:calendar-color xmlns:I="http://apple.com/ns/ical/">#00FF00</I:calendar-color>'
    body = PROPPATCH.format(op=op, prop=prop + (colour if op == "set" else ""))
    session = dav_session(fitter.username, fitter.password)

    r = session.request("PROPPATCH", str(fitter_calendar.url), data=body, timeout=30)

    assert r.status_code == 409, r.text  # RFC 4918 9.2: a value the property cannot take
    assert "displayname" in r.text and reason in r.text
    assert _rest_name(live, fitter.token, fitter.calendar_id) == old
    assert _displayname(fitter_calendar) == old
    colour_back = session.request(
        "PROPFIND",
        str(fitter_calendar.url),
        headers={"Depth": "0"},
        data='<D:propfind xmlns:D="DAV:"><D:prop><I:calendar-color xmlns:I="http://apple.com/ns/ical/"/>'
        "</D:prop></D:propfind>",
        timeout=30,
    )
    assert "#00FF00" not in colour_back.text  # the whole PROPPATCH was refused, not half of it
    with pytest.raises(error.DAVError):  # python-caldav sees the refusal too
        fitter_calendar.set_properties([elements.dav.DisplayName("")])


def test_a_team_calendar_a_member_only_reads_cannot_be_renamed(live: LiveServer, people: People) -> None:
    team_id = _team_with_member(live, people, "Team Süd")
    berlin = people.other_fitter
    url = f"{live.base_url}/dav/_calendars/{team_id}/"
    session = dav_session(berlin.username, berlin.password)
    assert session.request("PROPFIND", url, headers={"Depth": "0"}, timeout=30).status_code == 207  # they read it

    r = session.request(
        "PROPPATCH", url, data=PROPPATCH.format(op="set", prop="<D:displayname>Mine</D:displayname>"), timeout=30
    )

    assert r.status_code == 403, r.text
    assert _rest_name(live, people.admin.token, team_id) == "Team Süd"


def test_the_service_refuses_a_members_rename_of_a_team_calendar(runtime: Runtime, people: People) -> None:
    """The rule behind the DAV rights: a team's name is an admin's to change (the store relies on the service)."""
    team = calendars.create(
        runtime.uow(), system_actor(), CalendarDraft(name="Team", kind=CalendarKind.TEAM, timezone="UTC")
    )
    caldav_actor = Actor(None, "fitter.denver", "service", frozenset({"write"}), "caldav")
    with runtime.uow() as uow:
        with pytest.raises(Forbidden):
            calendars.rename_in(uow, caldav_actor, team.id, "Mine")
        with pytest.raises(ValidationFailed):
            calendars.rename_in(uow, system_actor(), team.id, " ")
        assert calendars.rename_in(uow, system_actor(), team.id, " Team Nord ").name == "Team Nord"
        uow.commit()
    assert calendars.get(runtime.uow(), system_actor(), team.id).name == "Team Nord"


def _propfind_name(live: LiveServer, person: Person, path: str) -> str | None:
    session = dav_session(person.username, person.password)
    body = '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>'
    r = session.request("PROPFIND", f"{live.base_url}/dav/{path}/", headers={"Depth": "0"}, data=body, timeout=30)
    assert r.status_code == 207, r.text
    node = ET.fromstring(r.content).find(".//{DAV:}displayname")
    return None if node is None else node.text


def test_a_rest_rename_shows_as_the_displayname_over_caldav(
    live: LiveServer, people: People, fitter_calendar: caldav.Calendar
) -> None:
    fitter = people.fitter
    path = f"{fitter.username}/appointments"
    r = live.client(fitter.token).patch(f"/api/v1/calendars/{fitter.calendar_id}", json={"name": " Werkstatt "})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Werkstatt"
    assert _propfind_name(live, fitter, path) == "Werkstatt"
    assert _displayname(fitter_calendar) == "Werkstatt"
    assert _feed_name(live, people) == "Werkstatt"

    # refused: blank, over-long, unknown fields (problem+json, nothing written)
    for body in ({"name": "  "}, {"name": "x" * 256}, {"name": "A", "timezone": "UTC"}, {}):
        bad = live.client(fitter.token).patch(f"/api/v1/calendars/{fitter.calendar_id}", json=body)
        assert bad.status_code == 422, (body, bad.text)
        assert bad.headers["Content-Type"].startswith("application/problem+json")
    assert _propfind_name(live, fitter, path) == "Werkstatt"
    # another fitter does not reach this calendar; a read-only token may not write
    other = live.client(people.other_fitter.token).patch(f"/api/v1/calendars/{fitter.calendar_id}", json={"name": "X"})
    assert other.status_code == 404, other.text
    assert fitter.read_token
    read_only = live.client(fitter.read_token).patch(f"/api/v1/calendars/{fitter.calendar_id}", json={"name": "X"})
    assert read_only.status_code == 403, read_only.text
    assert _rest_name(live, fitter.token, str(fitter.calendar_id)) == "Werkstatt"


def test_a_team_calendar_is_renamed_by_an_admin_only(live: LiveServer, people: People) -> None:
    admin = live.client(people.admin.token)
    team_id = _team_with_member(live, people, "Team Nord")
    path = f"_calendars/{team_id}"
    assert _propfind_name(live, people.other_fitter, path) == "Team Nord"  # provisioned with its name

    refused = live.client(people.dispatcher.token).patch(f"/api/v1/calendars/{team_id}", json={"name": "Mine"})
    assert refused.status_code == 403, refused.text
    assert "admin" in refused.json()["detail"]
    assert _propfind_name(live, people.other_fitter, path) == "Team Nord"

    renamed = admin.patch(f"/api/v1/calendars/{team_id}", json={"name": "Team Nordost"})
    assert renamed.status_code == 200, renamed.text
    assert _propfind_name(live, people.other_fitter, path) == "Team Nordost"
