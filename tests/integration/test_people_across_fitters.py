"""A fitter never reads nor rewrites another fitter's patient through a guest id (issue defects 3 and 4).

Rule: a person record is visible to an actor only through appointments in calendars the actor
reaches that have them as a guest (for a CalDAV write: the calendar written into). An attendee id
the actor cannot see resolves to nothing; a guest id naming such a person stays the appointment's
own guest (names as given, no link), and the person's record is neither read nor changed.
On SQLite and PostgreSQL, over real HTTP.
"""

from __future__ import annotations

from typing import Any

import requests
from sqlalchemy import select

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.tables import PersonRow
from tests.caldav.support import event_ics
from tests.conftest import People
from tests.support.live import LiveServer

PATIENT = "patient-of-berlin-1"


def _b_patient(live: LiveServer, people: People) -> dict[str, Any]:
    """Fitter B (Berlin) books their patient Greta Geheim."""
    body = {
        "calendar": {"id": people.other_fitter.calendar_id},
        "date_start": "2026-12-10T09:00:00Z",
        "date_end": "2026-12-10T10:00:00Z",
        "name": "Fitting",
        "guests": [{"id": PATIENT, "first_name": "Greta", "last_name": "Geheim", "timezone": "Europe/Berlin"}],
        "meta": {"type": "FOLLOW_UP"},
    }
    created = live.client(people.other_fitter.token).post("/api/v1/appointments", json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _person(runtime: Runtime) -> tuple[str | None, str | None]:
    with runtime.uow() as uow:
        row = uow.session.scalars(select(PersonRow).where(PersonRow.id == PATIENT)).one()
        return row.first_name, row.last_name


def test_a_caldav_attendee_id_does_not_reveal_another_fitters_patient(
    live: LiveServer, people: People, runtime: Runtime
) -> None:
    """Defect 3: A's own event naming B's patient by X-GUEST-ID listed the patient's names back to A."""
    b_appointment = _b_patient(live, people)
    a = live.client(people.fitter.token)
    assert a.get(f"/api/v1/appointments/{b_appointment['id']}").status_code == 404
    attendee = f"ATTENDEE;X-GUEST-ID={PATIENT};CN=Someone:urn:x-guest:{PATIENT}\r\n"
    put = requests.put(
        f"{live.base_url}/dav/{people.fitter.username}/appointments/probe.ics",
        data=event_ics("probe@test", extra=attendee),
        auth=(people.fitter.username, people.fitter.password),
        timeout=30,
    )
    assert put.status_code in (201, 204), put.text
    listed = a.get("/api/v1/appointments", params={"guest_id": PATIENT})
    assert listed.status_code == 200, listed.text
    assert "Greta" not in listed.text and "Geheim" not in listed.text
    mine = a.get("/api/v1/appointments", params={"calendar_id": people.fitter.calendar_id})
    assert "Greta" not in mine.text and "Geheim" not in mine.text
    # B's own view and the person record are untouched
    assert _person(runtime) == ("Greta", "Geheim")


def test_a_caldav_attendee_id_of_the_fitters_own_patient_still_resolves(live: LiveServer, people: People) -> None:
    a = live.client(people.fitter.token)
    own = {
        "calendar": {"id": people.fitter.calendar_id},
        "date_start": "2026-12-11T16:00:00Z",
        "date_end": "2026-12-11T17:00:00Z",
        "name": "First fitting",
        "guests": [{"id": "patient-of-denver", "first_name": "Dora", "last_name": "Denver"}],
        "meta": {"type": "FOLLOW_UP"},
    }
    assert a.post("/api/v1/appointments", json=own).status_code == 201
    attendee = "ATTENDEE;X-GUEST-ID=patient-of-denver:urn:x-guest:patient-of-denver\r\n"
    put = requests.put(
        f"{live.base_url}/dav/{people.fitter.username}/appointments/follow.ics",
        data=event_ics("follow@test", start="20261218T090000", end="20261218T100000", extra=attendee),
        auth=(people.fitter.username, people.fitter.password),
        timeout=30,
    )
    assert put.status_code == 201, put.text
    listed = a.get("/api/v1/appointments", params={"guest_id": "patient-of-denver"}).json()["items"]
    assert len(listed) == 2
    assert all(i["guests"][0]["first_name"] == "Dora" for i in listed)


def test_a_write_never_rewrites_another_fitters_patient(live: LiveServer, people: People, runtime: Runtime) -> None:
    """Defect 4: A's appointment with guests[].id = B's patient and other names rewrote the shared record."""
    b_appointment = _b_patient(live, people)
    a = live.client(people.fitter.token)
    body = {
        "calendar": {"id": people.fitter.calendar_id},
        "date_start": "2026-12-12T16:00:00Z",
        "date_end": "2026-12-12T17:00:00Z",
        "name": "Fitting",
        "guests": [{"id": PATIENT, "first_name": "Mallory", "last_name": "Overwrite"}],
        "meta": {"type": "FOLLOW_UP"},
    }
    created = a.post("/api/v1/appointments", json=body)
    assert created.status_code == 201, created.text
    assert _person(runtime) == ("Greta", "Geheim")
    # the guest is this appointment's own: names as A gave them, no link to B's patient
    (guest,) = created.json()["guests"]
    assert (guest["id"], guest["first_name"], guest["last_name"]) == (None, "Mallory", "Overwrite")
    listed = a.get("/api/v1/appointments", params={"guest_id": PATIENT})
    assert listed.status_code == 200 and listed.json()["items"] == []
    patched = a.patch(
        f"/api/v1/appointments/{created.json()['id']}",
        json={"guests": [{"id": PATIENT, "first_name": "Eve", "last_name": "Again"}]},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert patched.status_code == 200, patched.text
    assert _person(runtime) == ("Greta", "Geheim")
    b_view = live.client(people.other_fitter.token).get(f"/api/v1/appointments/{b_appointment['id']}").json()
    assert b_view["guests"][0]["first_name"] == "Greta"
    # B, who sees the patient, still updates the record
    b_body = {**body, "calendar": {"id": people.other_fitter.calendar_id}, "date_start": "2026-12-13T09:00:00Z"}
    b_body["date_end"] = "2026-12-13T10:00:00Z"
    b_body["guests"] = [{"id": PATIENT, "first_name": "Greta", "last_name": "Geheim-Neu"}]
    assert live.client(people.other_fitter.token).post("/api/v1/appointments", json=b_body).status_code == 201
    assert _person(runtime) == ("Greta", "Geheim-Neu")
