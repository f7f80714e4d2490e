#!/usr/bin/env python3
"""Time the availability of a 10-person team over 4 weeks, with 5k and with 50k existing appointments.

Two databases are loaded in the same run. Both hold the same appointments inside the measured
window (each member busy about three hours a working day: ~600 appointments); the rest (5k or 50k
in total) lie outside the window: half on the team's own calendars (before and after it, up to two
years away), half on 40 other calendars. The benchmark calls the availability service (the same
function ``GET /api/v1/availability?team_id=…`` runs: rules, exceptions, one busy query for the
team, free-slot computation, member assignment) alternately on both databases in short rounds so
that a noisy machine slows both alike, checks that both answers are identical, and prints the
median and p95 of each and the ratio of the medians.

Target: the 50k figure within 1.5x the 5k figure. Exit status 0 when met, 1 when missed, 2 when
the benchmark could not run or the answers differ.

    .venv/bin/python bench/availability_bench.py              # SQLite (temporary files)
    .venv/bin/python bench/availability_bench.py --postgres   # a throwaway PostgreSQL (tests/support/postgres.py)
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert

from caldav_bridge.model.requests import CalendarDraft
from caldav_bridge.runtime import Runtime
from caldav_bridge.scheduling import availability, calendar_rules
from caldav_bridge.scheduling.rules import AvailabilityRules, Purpose, SchedulingOptions
from caldav_bridge.services import calendars
from caldav_bridge.services.actor import system_actor
from caldav_bridge.store.migrate import upgrade
from caldav_bridge.store.tables import AppointmentRow
from config import load_settings

ZONE = ZoneInfo("Europe/Berlin")
MEMBERS = 10
OTHER_CALENDARS = 40
WEEKS = 4
SIZES = (5_000, 50_000)
TARGET = 1.5
MAX_SECONDS = 300.0


def window_start() -> datetime:
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=14 + (7 - today.weekday()) % 7)
    return datetime.combine(monday, wall_time(0), tzinfo=ZONE)


def setup(rt: Runtime) -> tuple[str, list[str], list[str]]:
    actor = system_actor()
    team = calendars.create(rt.uow(), actor, CalendarDraft(name="Fitters", kind="team", timezone=str(ZONE))).id
    members = [
        calendars.create(
            rt.uow(),
            actor,
            CalendarDraft(name=f"Fitter {n:02d}", kind="fitter", timezone=str(ZONE), team_id=team),
        ).id
        for n in range(MEMBERS)
    ]
    others = [
        calendars.create(rt.uow(), actor, CalendarDraft(name=f"Other {n:02d}", kind="fitter", timezone=str(ZONE))).id
        for n in range(OTHER_CALENDARS)
    ]
    rules = AvailabilityRules.model_validate(
        {
            "weekly_hours": {d: [{"start": "08:00", "end": "18:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
            "breaks": {d: [{"start": "12:00", "end": "13:00"}] for d in ("mon", "tue", "wed", "thu", "fri")},
            "durations": {"FITTING": 90},
            "buffer_after_minutes": 30,
            "slot_step_minutes": 15,
            "horizon_days": 365,
            "max_per_day": 6,
        }
    )
    calendar_rules.set_rules(rt.uow(), actor, team, rules)
    return team, members, others


def rows(total: int, members: list[str], others: list[str], start: datetime, seed: int) -> Iterator[dict[str, object]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    base = {
        "name": "x",
        "type": "FOLLOW_UP",
        "status": "BOOKED",
        "meta_extra": {},
        "created_at": now,
        "updated_at": now,
    }
    inside = 0
    # Inside the window, the same in both databases: each member, each working day, three one-hour visits.
    for m, calendar_id in enumerate(members):
        for day in range(WEEKS * 7):
            d: date = (start + timedelta(days=day)).date()
            if d.weekday() >= 5:
                continue
            for hour in (8 + m % 3, 13 + m % 2, 16):
                s = datetime.combine(d, wall_time(hour), tzinfo=ZONE)
                inside += 1
                yield {
                    **base,
                    "id": f"in-{m}-{day}-{hour}",
                    "calendar_id": calendar_id,
                    "date_start": s,
                    "date_end": s + timedelta(hours=1),
                }
    window_end = start + timedelta(weeks=WEEKS)
    for n in range(max(0, total - inside)):
        calendar_id = rnd.choice(members) if n % 2 == 0 else rnd.choice(others)
        if calendar_id in members:  # outside the window: up to two years before or after it
            if rnd.random() < 0.5:
                s = start - timedelta(days=15) - timedelta(minutes=rnd.randrange(0, 700 * 24 * 60, 15))
            else:
                s = window_end + timedelta(days=15) + timedelta(minutes=rnd.randrange(0, 700 * 24 * 60, 15))
        else:
            s = start + timedelta(minutes=rnd.randrange(-700 * 24 * 60, 700 * 24 * 60, 15))
        yield {
            **base,
            "id": str(uuid.UUID(int=rnd.getrandbits(128))),
            "calendar_id": calendar_id,
            "date_start": s,
            "date_end": s + timedelta(hours=1),
        }


def load(url: str, total: int, seed: int) -> tuple[Runtime, str, dict[str, int]]:
    rt = Runtime.from_settings(load_settings(environ={}, database_url=url))
    upgrade(rt.engine)
    team, members, others = setup(rt)
    batch: list[dict[str, object]] = []
    with rt.engine.begin() as conn:
        for row in rows(total, members, others, window_start(), seed):
            batch.append(row)
            if len(batch) >= 2000:
                conn.execute(insert(AppointmentRow), batch)
                batch.clear()
        if batch:
            conn.execute(insert(AppointmentRow), batch)
    if rt.engine.dialect.name == "postgresql":
        with rt.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return rt, team, {calendar_id: n for n, calendar_id in enumerate(members)}


def measure(
    rt: Runtime, team: str, index: dict[str, int], options: SchedulingOptions
) -> tuple[float, list[tuple[str, int]]]:
    start = window_start()
    query = availability.AvailabilityQuery(Purpose.FITTING, start, start + timedelta(weeks=WEEKS), team_id=team)
    t0 = time.perf_counter()
    result = availability.availability(rt.uow(), system_actor(), query, options, now=datetime.now(UTC))
    elapsed = (time.perf_counter() - t0) * 1000
    return elapsed, [(s.start.isoformat(), index[s.calendar_id]) for s in result.slots]


@contextlib.contextmanager
def databases(postgres: bool, tmp: Path) -> Iterator[list[str]]:
    if not postgres:
        yield [f"sqlite:///{tmp / f'availability_{n}.db'}" for n in SIZES]
        return
    from tests.support.postgres import PostgresServer

    with PostgresServer() as server:
        yield [server.create_database(f"availability_{n}") for n in SIZES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL instead of SQLite")
    parser.add_argument("--rounds", type=int, default=15, help="measurement rounds (each: 3 calls per database)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    deadline = time.monotonic() + MAX_SECONDS
    options = SchedulingOptions(assignment="least_loaded")
    with tempfile.TemporaryDirectory() as tmp, databases(args.postgres, Path(tmp)) as urls:
        loaded = []
        for url, size in zip(urls, SIZES, strict=True):
            t0 = time.perf_counter()
            loaded.append(load(url, size, args.seed))
            print(f"loaded {size:>6} appointments in {time.perf_counter() - t0:.1f} s", flush=True)
        timings: list[list[float]] = [[] for _ in SIZES]
        answers: list[list[tuple[str, int]]] = [[] for _ in SIZES]
        for _ in range(2):  # warm up
            for rt, team, index in loaded:
                measure(rt, team, index, options)
        for _ in range(max(1, args.rounds)):
            if time.monotonic() > deadline:
                break
            for i, (rt, team, index) in enumerate(loaded):
                for _ in range(3):
                    ms, answers[i] = measure(rt, team, index, options)
                    timings[i].append(ms)
        for rt, _, _ in loaded:
            rt.close()
    if answers[0] != answers[1] or not answers[0]:
        differ = [(a, b) for a, b in zip(answers[0], answers[1], strict=False) if a != b][:3]
        print(
            f"the two databases gave different answers (or none): {len(answers[0])} vs {len(answers[1])} slots, "
            f"first differences {differ}",
            file=sys.stderr,
        )
        return 2
    medians = [statistics.median(t) for t in timings]
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{backend}: {MEMBERS}-person team, {WEEKS} weeks, {len(answers[0])} slots offered")
    for size, t, med in zip(SIZES, timings, medians, strict=True):
        p95 = sorted(t)[max(0, round(0.95 * len(t)) - 1)]
        print(f"  {size:>6} appointments: median {med:7.2f} ms   p95 {p95:7.2f} ms   ({len(t)} calls)")
    ratio = medians[1] / medians[0]
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"  ratio 50k/5k: {ratio:.2f}x (target <= {TARGET}x): {verdict}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
