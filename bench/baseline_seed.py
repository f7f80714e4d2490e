#!/usr/bin/env python3
"""load_bench's data, seeded by the code of another revision: ``load_bench.py --baseline REV``.

load_bench runs ``python bench/baseline_seed.py DATABASE_URL DATA_DIR COUNT`` with its working directory and
PYTHONPATH a worktree of REV, so the service's modules imported here are that revision's. It uses only the service
API that today's code and a74ed5f (before issue 15) share: ``users.add_user`` and ``users.issue_token``,
``appointments.create`` with an ``AppointmentDraft``, ``system_actor``, ``upgrade``. The data is
``load_bench.seed``'s (the same :func:`appointment_fields`) without the feed token, which the API reads do not touch.

Prints JSON: the dispatcher's read token, the first appointment's id, and where ``caldav_bridge`` and ``feeds`` were
found (load_bench checks that they are the worktree's).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from caldav_bridge.model.requests import AppointmentDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments, users
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.migrate import upgrade
from config import load_settings


def appointment_fields(i: int, calendar_id: str, when: datetime) -> dict[str, Any]:
    """The ``i``-th seeded appointment (an ``AppointmentDraft``'s fields): 45 minutes, one or two guests."""
    guests = [{"id": f"cust-{i}", "first_name": "Jane", "last_name": f"Doe {i}", "timezone": "America/Denver"}]
    if i % 2:
        guests.append({"id": f"cust-{i}-b", "first_name": "John", "last_name": "Roe", "email": "j@x.test"})
    return {
        "calendar": {"id": calendar_id},
        "date_start": when.isoformat(),
        "date_end": (when + timedelta(minutes=45)).isoformat(),
        "name": f"Hearing aid fitting {i}",
        "description": "Bring the audiogram." if i % 3 else None,
        "guests": guests,
        "meta": {"type": "FOLLOW_UP", "salesforce": {"opportunity_gid": f"006{i:012d}"}, "source": "b"},
    }


def seed(database_url: str, data_dir: Path, appointments_count: int) -> dict[str, str]:
    """A dispatcher's read token and a fitter with ``appointments_count`` appointments, with this revision's code
    (load_bench's own ``seed`` is this and a feed token)."""
    settings = load_settings(environ={}, database_url=database_url, data_dir=str(data_dir))
    rt = Runtime.from_settings(settings)
    try:
        upgrade(rt.engine)
        users.add_user(rt.uow(), "dispatcher", "dispatcher")
        token = users.issue_token(rt.uow(), "dispatcher", ("read",), "cockpit").secret
        users.add_user(rt.uow(), "fitter", "fitter", timezone="America/Denver")
        with rt.uow() as uow:
            user = uow.users.by_username("fitter")
            assert user is not None
            calendar_id = uow.calendars.ids_owned_by(user.id)[0]
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        actor, first = system_actor(), ""
        for i in range(appointments_count):
            draft = AppointmentDraft.model_validate(appointment_fields(i, calendar_id, start + timedelta(hours=2 * i)))
            made = appointments.create(rt.uow(), actor, draft)
            first = first or str(made.appointment.id)
        if rt.engine.dialect.name == "postgresql":  # as load_bench.seed: the statistics autovacuum would gather
            with rt.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        return {"token": token, "appointment": first, "calendar": calendar_id}
    finally:
        rt.close()


def _origin(module: str) -> str:
    spec = importlib.util.find_spec(module)
    return str(spec.origin) if spec is not None else ""


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: baseline_seed.py DATABASE_URL DATA_DIR COUNT", file=sys.stderr)
        return 2
    seeded = seed(argv[0], Path(argv[1]), int(argv[2]))
    print(json.dumps({**seeded, "caldav_bridge": _origin("caldav_bridge"), "feeds": _origin("feeds")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
