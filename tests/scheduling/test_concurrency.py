"""Two requests for one slot at the same moment: exactly one 201 and one 409 problem, on both databases."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from caldav_bridge.runtime import Runtime
from tests.conftest import People, postgresql_only
from tests.scheduling.conftest import World
from tests.support.factories import iso
from tests.support.live import LiveServer

NY = ZoneInfo("America/New_York")
ROUNDS = 3


def _race(live: LiveServer, token: str, bodies: list[dict[str, Any]]) -> list[requests.Response]:
    barrier = threading.Barrier(len(bodies), timeout=30)
    results: list[requests.Response | BaseException] = [RuntimeError("no answer")] * len(bodies)

    def run(index: int) -> None:
        client = live.client(token)
        try:
            barrier.wait()
            results[index] = client.post("/api/v1/bookings/initial", json=bodies[index])
        except BaseException as exc:  # reported below
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request did not finish within 60 s"
    for r in results:
        assert isinstance(r, requests.Response), r
    return results  # type: ignore[return-value]


def test_two_requests_for_one_slot_one_wins(live: LiveServer, people: People, world: World) -> None:
    for n in range(ROUNDS):
        start = datetime.combine(world.day(n), time(9 + n), tzinfo=NY)
        body = {
            "calendar_id": world.c1,
            "date_start": iso(start),
            "name": f"Race {n}",
            "guests": [{"id": f"racer-{n}"}],
            "meta": {"salesforce": {"opportunity_gid": f"006RACE{n}"}},
        }
        answers = _race(live, people.admin.token, [body, {**body, "name": f"Race {n} (other)"}])
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409], [r.text for r in answers]
        loser = next(r for r in answers if r.status_code == 409)
        assert loser.headers["Content-Type"] == "application/problem+json"
        problem = loser.json()
        assert problem["status"] == 409 and problem["title"] == "Slot unavailable" and problem["detail"]
        listed = live.client(people.admin.token).get(
            "/api/v1/appointments",
            params={"calendar_id": world.c1, "from": iso(start), "to": iso(start + timedelta(hours=1))},
        )
        assert [a["name"] for a in listed.json()["items"] if a["status"] != "CANCELLED"] == [
            next(r for r in answers if r.status_code == 201).json()["appointment"]["name"]
        ]


@postgresql_only  # the exclusion constraint is PostgreSQL's; SQLite serialises writers (the race test above)
def test_postgresql_exclusion_constraint_refuses_overlapping_claims(runtime: Runtime, world: World) -> None:
    insert_appointment = text(
        "INSERT INTO appointments (id, calendar_id, name, type, status, date_start, date_end, meta_extra, "
        "created_at, updated_at, version, sequence) VALUES (:id, :cal, 'x', 'INITIAL', 'BOOKED', :s, :e, '{}', "
        "now(), now(), 1, 0)"
    )
    insert_claim = text(
        "INSERT INTO slot_claims (appointment_id, calendar_id, start_at, end_at, created_at) "
        "VALUES (:id, :cal, :s, :e, now())"
    )
    start = datetime.combine(world.day(1), time(10), tzinfo=NY)
    with runtime.engine.begin() as conn:
        for n, offset in enumerate((0, 60)):  # back to back: [10:00, 11:00) and [11:00, 12:00) may both exist
            s, e = start + timedelta(minutes=offset), start + timedelta(minutes=offset + 60)
            conn.execute(insert_appointment, {"id": f"a{n}", "cal": world.c1, "s": s, "e": e})
            conn.execute(insert_claim, {"id": f"a{n}", "cal": world.c1, "s": s, "e": e})
        conn.execute(insert_appointment, {"id": "other", "cal": world.c2, "s": start, "e": start + timedelta(hours=1)})
        conn.execute(insert_claim, {"id": "other", "cal": world.c2, "s": start, "e": start + timedelta(hours=1)})
    with pytest.raises(IntegrityError, match="ex_slot_claims_calendar_during"), runtime.engine.begin() as conn:
        s = start + timedelta(minutes=30)
        conn.execute(insert_appointment, {"id": "a2", "cal": world.c1, "s": s, "e": s + timedelta(hours=1)})
        conn.execute(insert_claim, {"id": "a2", "cal": world.c1, "s": s, "e": s + timedelta(hours=1)})
