#!/usr/bin/env python3
"""The self-booking page against the staff API, in one run, over real HTTP on loopback.

A consultants' team of 20 (America/New_York, Mon-Fri 09:00-17:00, 60-minute INITIAL slots, each member
already busy about two hours a day) and a tech-setup team of 4; one server process (waitress, 8 threads)
serves both the pages and the API. Measured, alternating in short rounds so a noisy machine slows both alike:

1. **Availability, 4 weeks**: the page (``GET /book/<token>``: the coming 4 weeks, rendered) against the
   API (``GET /api/v1/availability`` for the same 4 weeks, as JSON).
2. **A full booking, 16 customers at once**: the page (``GET`` the page, ``POST …/hold``, ``POST …/confirm``:
   names, contact details, the INITIAL booked with round-robin, its tech-setup call, the confirmation
   queued) against the API (``GET /api/v1/availability`` for the 4 weeks, ``POST /api/v1/bookings/initial``).
   Each customer takes the n-th free slot of a given week; a slot taken meanwhile is retried (counted).

Printed per flow: p50 and p99 latency and the server's CPU time per operation (the process's CPU while
only that flow runs, minus the clients' own, which run in a separate process). Target: the page costs at
most 1.5x the API (CPU per operation). Exit 0 when met, 1 when missed, 2 when the bench could not run.
Bounded: at most ``--bookings`` bookings per flow and ``MAX_SECONDS`` in all.

    .venv/bin/python bench/booking_bench.py              # SQLite (a temporary file)
    .venv/bin/python bench/booking_bench.py --postgres   # a throwaway PostgreSQL (tests/support/postgres.py)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bench.servers import BenchError, Server, free_port, serve_process  # noqa: E402
from caldav_bridge.model.requests import CalendarDraft  # noqa: E402
from caldav_bridge.runtime import Runtime  # noqa: E402
from caldav_bridge.scheduling import calendar_rules  # noqa: E402
from caldav_bridge.scheduling.rules import AvailabilityRules  # noqa: E402
from caldav_bridge.selfbooking import links  # noqa: E402
from caldav_bridge.selfbooking.model import LinkDraft  # noqa: E402
from caldav_bridge.services import calendars, users  # noqa: E402
from caldav_bridge.services.actor import system_actor  # noqa: E402
from caldav_bridge.store.migrate import upgrade  # noqa: E402
from caldav_bridge.store.tables import AppointmentRow  # noqa: E402
from config import load_settings  # noqa: E402

NY = ZoneInfo("America/New_York")
MEMBERS, TECH, WEEKS, CUSTOMERS = 20, 4, 4, 16
TARGET = 1.5
MAX_SECONDS = 600.0
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def first_monday() -> date:
    """The next Monday: the weeks it starts lie inside what the page offers (the coming 4 weeks)."""
    today = datetime.now(NY).date()
    return today + timedelta(days=7 - today.weekday())


def setup(rt: Runtime, monday: date) -> tuple[str, str, str]:
    """The teams, their rules, some busy time; a booking link and a write token. (team id, link secret, token)"""
    actor = system_actor()
    team = calendars.create(rt.uow(), actor, CalendarDraft(name="Consultants", kind="team", timezone=str(NY))).id
    members = [
        calendars.create(
            rt.uow(),
            actor,
            CalendarDraft(name=f"Consultant {n:02d}", kind="consultant", timezone=str(NY), team_id=team),
        ).id
        for n in range(MEMBERS)
    ]
    hours = {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS}
    rules = {"weekly_hours": hours, "durations": {"INITIAL": 60}, "slot_step_minutes": 60, "horizon_days": 90}
    calendar_rules.set_rules(rt.uow(), actor, team, AvailabilityRules.model_validate(rules))
    tech = calendars.create(rt.uow(), actor, CalendarDraft(name="Tech", kind="team", timezone=str(NY))).id
    for n in range(TECH):
        draft = CalendarDraft(name=f"Tech {n}", kind="tech_setup_member", timezone=str(NY), team_id=tech)
        calendars.create(rt.uow(), actor, draft)
    tech_rules = {"weekly_hours": hours, "durations": {"TECH_SETUP": 30}, "slot_step_minutes": 30, "horizon_days": 90}
    calendar_rules.set_rules(rt.uow(), actor, tech, AvailabilityRules.model_validate(tech_rules))
    busy = []
    now = datetime.now(UTC)
    for week in range(WEEKS):
        for day in range(5):
            local = monday + timedelta(days=7 * week + day)
            for i, member in enumerate(members):
                for hour in ((9 + i) % 8 + 9, (12 + i) % 8 + 9):  # two busy hours a day, spread
                    start = datetime.combine(local, wall_time(hour), tzinfo=NY).astimezone(UTC)
                    busy.append(
                        {
                            "calendar_id": member,
                            "name": "Busy",
                            "type": "FOLLOW_UP",
                            "status": "BOOKED",
                            "date_start": start,
                            "date_end": start + timedelta(hours=1),
                            "meta_extra": {},
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
    with rt.engine.begin() as conn:
        conn.execute(insert(AppointmentRow), busy)
    secret = links.issue(rt.uow(), actor, LinkDraft(team_id=team, name="bench"), rt.settings.public_url).secret
    assert secret is not None  # a team link's secret is in the result
    users.add_user(rt.uow(), "bench", "dispatcher")
    token = users.issue_token(rt.uow(), "bench", ("write",)).secret
    return team, secret, token


def server(url: str, data_dir: Path) -> contextlib.AbstractContextManager[Server]:
    """The one server process (bench/servers.py), its public URL its own, the booking rate limits lifted."""
    port = free_port()
    settings = {
        "public_url": f"http://127.0.0.1:{port}",
        "log_level": "WARNING",
        "jobs_in_serve": "false",
        "booking_rate_limit_per_minute": "100000",
        "booking_link_rate_limit_per_minute": "1000000",
    }
    return serve_process(url, data_dir, name="booking", migrate=False, settings=settings, port=port)


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    if not found:
        raise RuntimeError(f"no {name} in the page")
    return found.group(1)


def page_week(s: requests.Session, base: str, secret: str, week: date) -> str:
    r = s.get(f"{base}/book/{secret}", params={"tz": "Europe/Berlin", "week": week.isoformat(), "lang": "en"})
    r.raise_for_status()
    return r.text


def api_week(s: requests.Session, base: str, team: str, start: date, days: int) -> list[dict[str, str]]:
    frm = datetime.combine(start, wall_time(0), tzinfo=NY).astimezone(UTC)
    params = {
        "team_id": team,
        "type": "INITIAL",
        "from": frm.isoformat(),
        "to": (frm + timedelta(days=days)).isoformat(),
        "timezone": "Europe/Berlin",
    }
    r = s.get(f"{base}/api/v1/availability", params=params)
    r.raise_for_status()
    slots: list[dict[str, str]] = r.json()["slots"]
    return slots


def page_booking(base: str, secret: str, week: date, n: int) -> int:
    """One customer through the pages; how many times a slot was taken under it."""
    s = requests.Session()
    taken = 0
    while True:
        html = page_week(s, base, secret, week)
        starts = [t for t in re.findall(r'name="start" value="([^"]+)"', html) if t >= week.isoformat()]
        held = s.post(
            f"{base}/book/{secret}/hold",
            data={
                "start": starts[min(n, len(starts) - 1)],
                "tz": "Europe/Berlin",
                "csrf_token": _field(html, "csrf_token"),
            },
        )
        if held.status_code == 409:
            taken += 1
            continue
        held.raise_for_status()
        form = {
            "csrf_token": _field(held.text, "csrf_token"),
            "hold": _field(held.text, "hold"),
            "tz": "Europe/Berlin",
            "first_name": "Bench",
            "last_name": f"Customer {n}",
            "email": f"c{n}@example.org",
            "consent": "yes",
        }
        done = s.post(f"{base}/book/{secret}/confirm", data=form)
        if done.status_code == 409:
            taken += 1
            continue
        done.raise_for_status()
        return taken


def api_booking(base: str, token: str, team: str, week: date, n: int) -> int:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token}"
    taken = 0
    while True:
        slots = [
            t for t in api_week(s, base, team, datetime.now(NY).date(), 7 * WEEKS) if t["start_utc"] >= week.isoformat()
        ]
        slot = slots[min(n, len(slots) - 1)]
        body = {
            "team_id": team,
            "date_start": slot["start_utc"],
            "name": f"Initial consultation: Bench Customer {n}",
            "guests": [{"first_name": "Bench", "last_name": f"Customer {n}", "timezone": "Europe/Berlin"}],
        }
        r = s.post(f"{base}/api/v1/bookings/initial", json=body)
        if r.status_code == 409:
            taken += 1
            continue
        r.raise_for_status()
        return taken


def run_flow(
    served: Server, work: Callable[[int], int], count: int, concurrency: int
) -> tuple[list[float], float, int]:
    """(latencies, server CPU seconds, slots taken) of ``count`` operations, ``concurrency`` at once."""
    latencies: list[float] = []

    def one(n: int) -> int:
        t0 = time.perf_counter()
        taken = work(n)
        latencies.append(time.perf_counter() - t0)
        return taken

    cpu0 = served.cpu_seconds()
    with ThreadPoolExecutor(concurrency) as pool:
        taken = sum(pool.map(one, range(count)))
    return latencies, served.cpu_seconds() - cpu0, taken


@dataclass
class Tally:
    """One flow's operations over all rounds: their latencies, the server's CPU seconds, the slots taken."""

    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0
    ops: int = 0
    taken: int = 0

    def add(self, latencies: list[float], cpu: float, ops: int, taken: int) -> None:
        self.latencies += latencies
        self.cpu += cpu
        self.ops += ops
        self.taken += taken

    def cpu_per_op(self) -> float:
        return self.cpu / self.ops if self.ops else float("nan")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


@contextlib.contextmanager
def database(postgres: bool, tmp: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{tmp / 'booking.db'}"
        return
    from tests.support.postgres import PostgresServer

    with PostgresServer() as pg:
        yield pg.create_database("booking_bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--postgres", action="store_true", help="use a throwaway PostgreSQL instead of SQLite")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; each books --bookings/rounds per flow")
    parser.add_argument("--bookings", type=int, default=96, help="bookings per flow in all (bounded by the slots)")
    parser.add_argument("--reads", type=int, default=24, help="4-week availability reads per flow in all")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    deadline = time.monotonic() + MAX_SECONDS
    monday = first_monday()
    weeks = [monday + timedelta(days=7 * w) for w in range(WEEKS)]
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres, Path(tmp)) as url:
        rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=tmp))
        upgrade(rt.engine)
        team, secret, token = setup(rt, monday)
        rt.close()
        results = {k: Tally() for k in ("page_read", "api_read", "page_book", "api_book")}
        with server(url, Path(tmp)) as served:
            base = served.base
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {token}"
            page_week(requests.Session(), base, secret, monday)  # warm up
            api_week(s, base, team, monday, 28)

            def page_read(_: int) -> int:
                page_week(requests.Session(), base, secret, monday)
                return 0

            def api_read(_: int) -> int:
                api_week(s, base, team, datetime.now(NY).date(), 7 * WEEKS)  # what the page shows: from today
                return 0

            def page_book(week: date) -> Callable[[int], int]:
                return lambda n: page_booking(base, secret, week, n % 40)

            def api_book(week: date) -> Callable[[int], int]:
                return lambda n: api_booking(base, token, team, week, n % 40)

            per_round_reads = max(1, args.reads // args.rounds)
            per_round_books = max(1, args.bookings // args.rounds)
            for r in range(args.rounds):
                if time.monotonic() > deadline:
                    print("time budget spent; stopping early", file=sys.stderr)
                    break
                # bookings fill different weeks per round and flow, so both find the same kind of calendar
                week_page, week_api = weeks[r % 2], weeks[(r + 1) % 2]  # (weeks 1-2 lie inside the offer)
                flows: list[tuple[str, Callable[[int], int], int, int]] = [
                    ("page_read", page_read, per_round_reads, 4),
                    ("api_read", api_read, per_round_reads, 4),
                    (
                        "page_book",
                        page_book(week_page),
                        per_round_books,
                        CUSTOMERS,
                    ),
                    (
                        "api_book",
                        api_book(week_api),
                        per_round_books,
                        CUSTOMERS,
                    ),
                ]
                for name, work, count, concurrency in flows:
                    lat, cpu, taken = run_flow(served, work, count, concurrency)
                    results[name].add(lat, cpu, count, taken)
    report = {}
    for name, entry in results.items():
        lat, ops = entry.latencies, entry.ops
        report[name] = {
            "ops": ops,
            "p50_ms": round(pct(lat, 0.5), 1) if lat else None,
            "p99_ms": round(pct(lat, 0.99), 1) if lat else None,
            "cpu_ms_per_op": round(entry.cpu_per_op() * 1000, 1) if ops else None,
            "slots_taken_meanwhile": entry.taken,
        }
    ratios = {
        "availability_4_weeks": results["page_read"].cpu_per_op() / results["api_read"].cpu_per_op(),
        "full_booking": results["page_book"].cpu_per_op() / results["api_book"].cpu_per_op(),
    }
    met = all(v <= TARGET for v in ratios.values())
    if args.json:
        print(
            json.dumps(
                {
                    "database": "postgresql" if args.postgres else "sqlite",
                    "flows": report,
                    "ratios": ratios,
                    "met": met,
                },
                indent=2,
            )
        )
    else:
        print(f"{'flow':<12} {'ops':>5} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/op':>10} {'taken':>6}")
        for name, row in report.items():
            cells = (row["ops"], row["p50_ms"], row["p99_ms"], row["cpu_ms_per_op"], row["slots_taken_meanwhile"])
            print(f"{name:<12} {cells[0]:>5} {cells[1]:>8} {cells[2]:>8} {cells[3]:>10} {cells[4]:>6}")
        for name, ratio in ratios.items():
            print(f"page / API, {name}: {ratio:.2f}x (target <= {TARGET}x)")
    return 0 if met else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BenchError, RuntimeError, requests.RequestException) as exc:
        print(f"booking_bench: {exc}", file=sys.stderr)
        sys.exit(2)
