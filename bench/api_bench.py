#!/usr/bin/env python3
"""Time listing one fitter's week through the real HTTP API, on 1k and on 100k appointments.

Two databases are loaded in the same run: a small one (1k appointments by default) and a large one
(100k), each spread over 200 fitters' calendars and about half a year. The measured fitter's
measured week holds 20 appointments in the same slots (plus one deleted) in both, so both answers
are the same size and only the size of the tables differs. Each database is served by its own
``appointment-service serve`` process on 127.0.0.1; the benchmark lists the week with
``GET /api/v1/appointments?calendar_id=…&from=…&to=…`` over a keep-alive connection, alternating
between the two servers in short rounds so that a noisy machine slows both alike, checks every
answer against the database, and prints the median and p95 latency of each and their ratio.

Target: the large figure within 1.5x the small one (the indexes do their job). Exit status: 0 when
the target is met, 1 when it is missed, 2 when the benchmark could not run or an answer was wrong.

    .venv/bin/python bench/api_bench.py              # SQLite (temporary files)
    .venv/bin/python bench/api_bench.py --postgres   # a throwaway PostgreSQL (tests/support/postgres.py)
    .venv/bin/python bench/api_bench.py --database-url postgresql+psycopg://user@127.0.0.1/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import URL, make_url

from caldav_bridge.model.queries import AppointmentFilters
from caldav_bridge.runtime import Runtime
from caldav_bridge.services import appointments as appointment_service
from caldav_bridge.services import users
from caldav_bridge.store.migrate import upgrade
from caldav_bridge.store.tables import (
    AppointmentGuestRow,
    AppointmentRow,
    CalendarRow,
    PersonRow,
    UserRow,
)
from config import load_settings

ROOT = Path(__file__).resolve().parent.parent
API_PATH = "/api/v1/appointments"

FITTER = "bench-fitter"
FITTER_ZONE = "America/Denver"
ZONES = ("America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles")
#: Monday of the measured week (local time of the measured fitter).
MEASURED_MONDAY = date(2026, 6, 1)
#: Weeks of bookings after the measured week (the rest of the span lies before it: history).
FUTURE_WEEKS = 4
#: The measured week: (weekday, hour, minute, minutes) of its visible appointments, 4 a day.
WEEK_SLOTS = [(day, hour, 0, minutes) for day in range(5) for hour, minutes in ((8, 60), (10, 90), (13, 60), (15, 90))]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
INSERT_BATCH = 5_000
MAX_PAGES = 20  # the measured week fits one page; more than this many pages is a bug

STATUSES = ("BOOKED", "RESCHEDULED", "CANCELLED", "RESERVED", "INITIAL")
STATUS_WEIGHTS = (70, 8, 10, 5, 7)
TYPES = ("INITIAL", "FOLLOW_UP", "TECH_SETUP")
TYPE_WEIGHTS = (45, 45, 10)
TYPE_NAMES = {"INITIAL": "Hearing evaluation", "FOLLOW_UP": "Hearing aid fitting", "TECH_SETUP": "Tech setup"}
FIRST_NAMES = ("Jane", "John", "Maria", "Robert", "Linda", "James", "Patricia", "Michael", "Barbara", "David")
LAST_NAMES = ("Doe", "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Wilson", "Moore")


class BenchError(RuntimeError):
    """The benchmark could not run, or the service answered wrongly."""


# --------------------------------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """One loaded database and what the benchmark needs to query and check it."""

    label: str
    size: int
    url: str
    token: str = ""
    calendar_id: str = ""
    week_from: datetime = EPOCH
    week_to: datetime = EPOCH
    expected_ids: frozenset[str] = frozenset()
    guests: int = 0
    load_seconds: float = 0.0


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def measured_week() -> tuple[datetime, datetime]:
    """The measured fitter's week, Monday 00:00 to the next Monday 00:00 local time, in UTC."""
    zone = ZoneInfo(FITTER_ZONE)
    start = datetime.combine(MEASURED_MONDAY, wall_time(0), tzinfo=zone)
    end = datetime.combine(MEASURED_MONDAY + timedelta(days=7), wall_time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


class Generator:
    """Deterministic (seeded) appointments, their guests and the people they name."""

    def __init__(self, seed: int, calendars: list[tuple[str, str]], people: int, weeks: int) -> None:
        self.rng = random.Random(seed)
        self.calendars = calendars  # (id, time zone); the first is the measured fitter's
        self.people = people
        self.week_offsets = range(-(weeks - FUTURE_WEEKS - 1), FUTURE_WEEKS + 1)

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def appointment(
        self, calendar: tuple[str, str], day: date, hour: int, minute: int, minutes: int, *, deleted: bool = False
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rng = self.rng
        calendar_id, zone = calendar
        start = datetime.combine(day, wall_time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(UTC)
        kind = rng.choices(TYPES, TYPE_WEIGHTS)[0]
        person = rng.randrange(self.people)
        first, last = FIRST_NAMES[person % 10], LAST_NAMES[person // 10 % 10]
        created = start - timedelta(days=rng.randint(1, 60), minutes=rng.randint(0, 600))
        updated = created + timedelta(hours=rng.randint(0, 48))
        row = {
            "id": self.uuid(),
            "calendar_id": calendar_id,
            "name": f"{TYPE_NAMES[kind]} w/{first} {last}",
            "description": "Bring the audiogram." if rng.random() < 0.3 else None,
            "type": kind,
            "status": rng.choices(STATUSES, STATUS_WEIGHTS)[0],
            "date_start": start,
            "date_end": start + timedelta(minutes=minutes),
            "sf_appointment_gid": f"00U{rng.getrandbits(48):012X}",
            "sf_opportunity_gid": f"006{rng.getrandbits(48):012X}",
            "sf_customer_gid": f"003{person:012d}",
            "meta_extra": {"source": "bench", "location": "home visit" if rng.random() < 0.6 else "store"},
            "created_at": created,
            "updated_at": updated,
            "deleted_at": updated if deleted else None,
            "version": 1,
        }
        guests = [
            {
                "appointment_id": row["id"],
                "position": 0,
                "person_id": f"003{person:012d}",
                "first_name": first,
                "last_name": last,
                "timezone": zone,
                "extra": {"email": f"{first.lower()}.{last.lower()}@example.com"},
            }
        ]
        if rng.random() < 0.15:  # a companion, not a customer of record
            guests.append(
                {
                    "appointment_id": row["id"],
                    "position": 1,
                    "person_id": None,
                    "first_name": rng.choice(FIRST_NAMES),
                    "last_name": last,
                    "timezone": zone,
                    "extra": {},
                }
            )
        return row, guests

    def measured_week(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """The measured fitter's week: the same slots in every dataset, plus one deleted appointment."""
        target = self.calendars[0]
        rows = [
            self.appointment(target, MEASURED_MONDAY + timedelta(days=day), hour, minute, minutes)
            for day, hour, minute, minutes in WEEK_SLOTS
        ]
        rows.append(self.appointment(target, MEASURED_MONDAY + timedelta(days=2), 12, 0, 30, deleted=True))
        return rows

    def background(self, count: int) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """``count`` appointments over every calendar and the whole span, none in the measured week of
        the measured fitter; about 2% are deleted (tombstones)."""
        rng = self.rng
        for _ in range(count):
            calendar = rng.choice(self.calendars)
            offset = rng.choice(self.week_offsets)
            while calendar == self.calendars[0] and offset == 0:
                offset = rng.choice(self.week_offsets)
            day = MEASURED_MONDAY + timedelta(weeks=offset, days=rng.randrange(5))
            yield self.appointment(
                calendar,
                day,
                rng.randint(8, 16),
                rng.choice((0, 15, 30, 45)),
                rng.choice((30, 45, 60, 60, 90)),
                deleted=rng.random() < 0.02,
            )


def load(dataset: Dataset, *, calendars: int, weeks: int, seed: int, data_dir: Path, deadline: float) -> None:
    """Migrate ``dataset.url``, create the fitters, and bulk-load the appointments with Core inserts."""
    started = time.monotonic()
    rt = Runtime.from_settings(load_settings(environ={}, database_url=dataset.url, data_dir=str(data_dir)))
    try:
        engine = rt.engine
        upgrade(engine)
        # The measured fitter goes through the service (password, own calendar, read-only token) ...
        info, _ = users.add_user(rt.uow(), FITTER, "fitter", timezone=FITTER_ZONE)
        dataset.token = users.issue_token(rt.uow(), FITTER, ("read",), name="bench").secret
        with rt.uow() as uow:
            (dataset.calendar_id,) = uow.calendars.ids_owned_by(info.id)
        # ... the other fitters and their calendars are inserted directly (scrypt would take seconds).
        now = datetime.now(UTC)
        rng = random.Random(seed)
        cals = [(dataset.calendar_id, FITTER_ZONE)]
        user_rows, calendar_rows = [], []
        for n in range(1, calendars):
            user_id, calendar_id = (str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(2))
            zone = rng.choice(ZONES)
            user_rows.append(
                {"id": user_id, "username": f"fitter-{n:04d}", "display_name": f"Fitter {n:04d}", "email": None,
                 "role": "fitter", "password_hash": None, "active": True, "created_at": now, "updated_at": now}
            )  # fmt: skip
            calendar_rows.append(
                {"id": calendar_id, "name": f"Fitter {n:04d}", "kind": "fitter", "timezone": zone,
                 "owner_user_id": user_id, "team_id": None, "created_at": now, "updated_at": now}
            )  # fmt: skip
            cals.append((calendar_id, zone))
        people = max(100, dataset.size // 2)  # most customers have two appointments
        with engine.begin() as conn:
            if user_rows:
                conn.execute(insert(UserRow), user_rows)
                conn.execute(insert(CalendarRow), calendar_rows)
            for first in range(0, people, INSERT_BATCH):
                conn.execute(
                    insert(PersonRow),
                    [
                        {"id": f"003{n:012d}", "first_name": FIRST_NAMES[n % 10], "last_name": LAST_NAMES[n // 10 % 10],
                         "timezone": None, "created_at": now, "updated_at": now}
                        for n in range(first, min(first + INSERT_BATCH, people))
                    ],
                )  # fmt: skip

        # Same seed for the measured week in every dataset; the background depends on the size.
        week = Generator(seed, cals, people, weeks).measured_week()
        background = Generator(seed + dataset.size, cals, people, weeks).background(dataset.size - len(week))
        for batch in _batches(itertools.chain(week, background), INSERT_BATCH):
            if time.monotonic() > deadline:
                raise BenchError(f"loading {dataset.label} took longer than --load-timeout; nothing measured")
            appointments = [row for row, _ in batch]
            guests = [guest for _, guest_list in batch for guest in guest_list]
            with engine.begin() as conn:
                conn.execute(insert(AppointmentRow), appointments)
                conn.execute(insert(AppointmentGuestRow), guests)
            dataset.guests += len(guests)
        if engine.dialect.name == "postgresql":
            # What autovacuum does shortly after a bulk load; without it the plans depend on timing.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")

        dataset.week_from, dataset.week_to = measured_week()
        a = AppointmentRow  # short for the filter below
        with engine.connect() as conn:
            loaded = conn.scalar(select(func.count()).select_from(AppointmentRow))
            expected = conn.scalars(
                select(a.id).where(
                    a.calendar_id == dataset.calendar_id,
                    a.deleted_at.is_(None),
                    a.date_start < dataset.week_to,
                    a.date_end > dataset.week_from,
                )
            ).all()
        if loaded != dataset.size:
            raise BenchError(f"{dataset.label}: loaded {loaded} appointments, meant {dataset.size}")
        dataset.expected_ids = frozenset(expected)
        dataset.load_seconds = time.monotonic() - started
    finally:
        rt.close()


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------------- databases


class Databases:
    """Creates one fresh database per dataset next to ``base_url`` and removes them at the end.

    SQLite: ``…/name.db`` gives ``…/name-1k.db``. PostgreSQL: the server of ``base_url`` gets
    databases ``appointments_bench_1k`` …, which must not exist yet (nothing is ever overwritten).
    """

    def __init__(self, base_url: str, keep: bool) -> None:
        self.base = make_url(base_url)
        self.keep = keep
        self.created: list[URL] = []
        if self.base.get_backend_name() not in {"sqlite", "postgresql"}:
            raise BenchError(f"unsupported database {self.base.get_backend_name()!r}: use sqlite or postgresql")

    def create(self, label: str) -> str:
        if self.base.get_backend_name() == "sqlite":
            if not self.base.database or self.base.database == ":memory:":
                raise BenchError("SQLite needs a file: sqlite:////path/to/bench.db")
            path = Path(self.base.database)
            target = path.with_name(f"{path.stem}-{label}{path.suffix or '.db'}")
            if target.exists():
                raise BenchError(f"{target} exists; the benchmark only loads fresh databases")
            url = self.base.set(database=str(target))
        else:
            name = f"appointments_bench_{label.lower()}"
            with self._admin() as admin, admin.connect() as conn:
                if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                    raise BenchError(f"database {name} exists on {self.base.host}; drop it or use another server")
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = self.base.set(database=name)
        self.created.append(url)
        return url.render_as_string(hide_password=False)

    def remove_all(self) -> None:
        if self.keep:
            for url in self.created:
                print(f"kept {url.render_as_string(hide_password=True)}")
            return
        for url in self.created:
            if url.get_backend_name() == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{url.database}{suffix}").unlink(missing_ok=True)
            else:
                with self._admin() as admin, admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        self.created.clear()

    @contextlib.contextmanager
    def _admin(self) -> Iterator[Engine]:
        engine = create_engine(self.base, isolation_level="AUTOCOMMIT")
        try:
            yield engine
        finally:
            engine.dispose()


# --------------------------------------------------------------------------------------------------- server


@dataclass
class Server:
    """An ``appointment-service serve`` child process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; always by this child's PID, always reaped."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _log_tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return "<no log>"


def start_server(url: str, data_dir: Path, log_path: Path, timeout: float) -> Server:
    """Start ``appointment-service serve`` for ``url`` on a free loopback port; return once /readyz answers 200."""
    exe = Path(sys.executable).with_name("appointment-service")
    if not exe.exists():
        raise BenchError(f"{exe} not found; install the project into this interpreter (pip install -e .)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(APPOINTMENTS_DATABASE_URL=url, APPOINTMENTS_DATA_DIR=str(data_dir), APPOINTMENTS_LOG_FORMAT="json")
    for _attempt in range(3):  # the free port may be taken before the server binds it
        port = _free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C aimed at the benchmark reaches it through stop() only
            )
        server = Server(process, f"http://127.0.0.1:{port}", log_path)
        deadline = time.monotonic() + timeout
        session = requests.Session()
        session.trust_env = False  # loopback only: never through a proxy from the environment
        try:
            while process.poll() is None and time.monotonic() < deadline:
                with contextlib.suppress(requests.RequestException):
                    if session.get(server.base_url + "/readyz", timeout=2).status_code == 200:
                        return server
                time.sleep(0.1)
        except BaseException:
            server.stop()
            raise
        finally:
            session.close()
        code = process.poll()
        server.stop()
        if code is None or "address already in use" not in _log_tail(log_path).lower():
            break
    what = f"exited with status {code}" if code is not None else f"was not ready within {timeout:g} s"
    raise BenchError(f"the server for {url} {what}:\n{_log_tail(log_path)}")


# --------------------------------------------------------------------------------------------------- timing


@dataclass
class Client:
    """Lists the measured week of one dataset over one keep-alive connection and checks each answer."""

    dataset: Dataset
    server: Server
    session: requests.Session = field(default_factory=requests.Session)
    samples: list[float] = field(default_factory=list)
    request_ids: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {self.dataset.token}"

    def list_week(self, request_id: str) -> list[str]:
        """One listing of the week (all pages); the ids returned, in order."""
        ds = self.dataset
        params = {"calendar_id": ds.calendar_id, "from": _iso(ds.week_from), "to": _iso(ds.week_to)}
        ids: list[str] = []
        for page in range(MAX_PAGES):
            response = self.session.get(
                self.server.base_url + API_PATH,
                params=params,
                headers={"X-Request-ID": f"{request_id}-{page}"},
                timeout=30,
            )
            if response.status_code != 200:
                raise BenchError(f"{ds.label}: HTTP {response.status_code}: {response.text[:300]}")
            body = response.json()
            ids.extend(item["id"] for item in body["items"])
            if not body["next_cursor"]:
                return ids
            params["cursor"] = body["next_cursor"]
        raise BenchError(f"{ds.label}: more than {MAX_PAGES} pages for one week")

    def check(self, ids: list[str]) -> None:
        if len(ids) != len(self.dataset.expected_ids):
            raise BenchError(f"{self.dataset.label}: {len(ids)} appointments listed, {len(self.dataset.expected_ids)} "
                             "in the database")  # fmt: skip

    def warm_up(self, count: int, max_seconds: float) -> None:
        """Unmeasured listings (at most ``count``, for at most ``max_seconds``); the first is checked id by id."""
        deadline = time.monotonic() + max_seconds
        ids = self.list_week(f"warmup-{self.dataset.label}")
        if set(ids) != self.dataset.expected_ids or len(ids) != len(set(ids)):
            raise BenchError(f"{self.dataset.label}: the API listed other appointments than the database holds")
        for n in range(count - 1):
            if time.monotonic() > deadline:
                break
            self.check(self.list_week(f"warmup-{self.dataset.label}-{n}"))

    def sample(self) -> None:
        request_id = f"bench-{self.dataset.label}-{len(self.samples)}"
        started = time.perf_counter()
        ids = self.list_week(request_id)
        self.samples.append(time.perf_counter() - started)
        self.check(ids)
        self.request_ids.add(request_id)

    def server_ms(self) -> list[float]:
        """Server-side durations of the measured requests, from the server's JSON access log."""
        found = []
        with contextlib.suppress(OSError), self.server.log_path.open(errors="replace") as log:
            for line in log:
                if '"duration_ms"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if str(entry.get("request_id", "")).rsplit("-", 1)[0] in self.request_ids:
                        found.append(float(entry["duration_ms"]))
        return found


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def interleave(clients: Sequence[Client], requests_each: int, max_seconds: float, round_size: int = 10) -> None:
    """Take up to ``requests_each`` samples per client, in alternating rounds, for at most ``max_seconds``."""
    deadline = time.monotonic() + max_seconds
    turn = 0
    while time.monotonic() < deadline and any(len(c.samples) < requests_each for c in clients):
        for client in clients if turn % 2 == 0 else reversed(clients):
            for _ in range(min(round_size, requests_each - len(client.samples))):
                client.sample()
        turn += 1


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]


# --------------------------------------------------------------------------------------------------- explain


def explain(dataset: Dataset, data_dir: Path) -> None:
    """Print the plan of every SELECT that one listing of the week runs (captured from the real service code)."""
    rt = Runtime.from_settings(load_settings(environ={}, database_url=dataset.url, data_dir=str(data_dir)))
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if not executemany and statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    try:
        actor = users.actor_for_token(rt.uow(), dataset.token, "api")
        event.listen(rt.engine, "before_cursor_execute", capture)
        filters = AppointmentFilters(calendar_id=dataset.calendar_id, start=dataset.week_from, end=dataset.week_to)
        appointment_service.list_appointments(rt.uow(), actor, filters, limit=rt.settings.page_size)
        event.remove(rt.engine, "before_cursor_execute", capture)
        postgres = rt.engine.dialect.name == "postgresql"
        prefix = "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " if postgres else "EXPLAIN QUERY PLAN "
        print(f"\n--- query plans, {dataset.label} ({rt.engine.dialect.name}) ---")
        with rt.engine.connect() as conn:
            for statement, parameters in captured:
                print("\n" + re.sub(r"^SELECT .*? FROM ", "SELECT ... FROM ", " ".join(statement.split()), count=1))
                rows = conn.exec_driver_sql(prefix + statement, parameters).all()
                for row in rows:
                    print("   ", row[0] if postgres else f"{row[1]:>3} {row[3]}")
            conn.rollback()
    finally:
        rt.close()


# --------------------------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="api_bench.py",
        description=(__doc__ or "").split("\n\n")[0],
        epilog="Exit status: 0 target met, 1 target missed, 2 could not run or a wrong answer. "
        "Everything listens on 127.0.0.1 only; the servers started are stopped by PID at the end.",
    )
    db = parser.add_mutually_exclusive_group()
    db.add_argument(
        "--database-url",
        metavar="URL",
        help="SQLite file or PostgreSQL server to load into: one fresh database per size is created next to it "
        "(sqlite:////tmp/b.db -> /tmp/b-1k.db ...; postgresql+psycopg://user@host/db -> databases "
        "appointments_bench_1k ... on that server, which must not exist yet) and removed at the end "
        "(default: SQLite files in a temporary directory)",
    )
    db.add_argument(
        "--postgres",
        action="store_true",
        help="start a throwaway PostgreSQL server (tests/support/postgres.py; needs initdb/postgres 15+) and use it",
    )
    parser.add_argument(
        "--small", type=int, default=1_000, metavar="N", help="appointments in the small dataset (%(default)s)"
    )
    parser.add_argument(
        "--large", type=int, default=100_000, metavar="N", help="appointments in the large dataset (%(default)s)"
    )
    parser.add_argument(
        "--calendars", type=int, default=200, metavar="N", help="fitters' calendars to spread them over (%(default)s)"
    )
    parser.add_argument(
        "--weeks",
        type=int,
        default=26,
        metavar="N",
        help=f"weeks they span, {FUTURE_WEEKS} of them after the measured week (%(default)s)",
    )
    parser.add_argument(
        "--requests", type=int, default=300, metavar="N", help="measured listings per dataset, at most (%(default)s)"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=90.0,
        metavar="S",
        help="time budget of the measured listings, and of the warm-up (%(default)s)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, metavar="N", help="unmeasured listings per dataset first (%(default)s)"
    )
    parser.add_argument(
        "--load-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="time budget of loading each dataset (%(default)s)",
    )
    parser.add_argument(
        "--target",
        type=float,
        default=1.5,
        metavar="X",
        help="largest accepted ratio of the medians, large/small (%(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data (%(default)s)")
    parser.add_argument(
        "--explain", action="store_true", help="also print the plan of every query one listing runs, on each dataset"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the databases and server logs, and print where they are"
    )
    args = parser.parse_args(argv)
    if not 0 < args.small < args.large:
        parser.error("need 0 < --small < --large")
    if args.small < len(WEEK_SLOTS) + 1:
        parser.error(f"--small must be at least {len(WEEK_SLOTS) + 1} (the measured week)")
    if args.keep and args.postgres:
        parser.error("--keep needs --database-url: the --postgres server is removed at the end")
    if args.calendars < 1 or args.weeks <= FUTURE_WEEKS or args.requests < 1 or args.warmup < 1:
        parser.error(f"need --calendars >= 1, --weeks > {FUTURE_WEEKS}, --requests >= 1 and --warmup >= 1")
    return args


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(143)  # unwinds through the finally blocks that stop the servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    work_dir = Path(tempfile.mkdtemp(prefix="api-bench-"))
    cleanups: list[Callable[[], None]] = []
    try:
        base_url = args.database_url or f"sqlite:///{work_dir / 'bench.db'}"
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests.support.postgres import PostgresServer

            pg = PostgresServer(shared_buffers="128MB").start()
            cleanups.append(pg.stop)
            base_url = pg.url()
        databases = Databases(base_url, args.keep)
        cleanups.append(databases.remove_all)
        return run(args, databases, work_dir, cleanups)
    except BenchError as exc:
        print(f"api_bench: error: {exc}", file=sys.stderr)
        return 2
    finally:
        for cleanup in reversed(cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        if args.keep:
            print(f"kept logs in {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)


def run(args: argparse.Namespace, databases: Databases, work_dir: Path, cleanups: list[Callable[[], None]]) -> int:
    datasets = [Dataset(size_label(n), n, databases.create(size_label(n))) for n in (args.small, args.large)]
    backend = make_url(datasets[0].url).get_backend_name()
    print(f"api_bench: {backend}, {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; {args.calendars} calendars over {args.weeks} weeks")  # fmt: skip
    for ds in datasets:
        load(ds, calendars=args.calendars, weeks=args.weeks, seed=args.seed, data_dir=work_dir,
             deadline=time.monotonic() + args.load_timeout)  # fmt: skip
        print(f"  loaded {ds.label:>5}: {ds.size:,} appointments, {ds.guests:,} guests in {ds.load_seconds:.1f} s; "
              f"the measured week holds {len(ds.expected_ids)}")  # fmt: skip
    if args.explain:
        for ds in datasets:
            explain(ds, work_dir)
    clients = []
    for ds in datasets:
        server = start_server(ds.url, work_dir, work_dir / f"server-{ds.label}.log", timeout=60)
        cleanups.append(server.stop)
        clients.append(Client(ds, server))
        print(f"  serving {ds.label:>5} on {server.base_url} (PID {server.process.pid})")
    for client in clients:
        client.warm_up(args.warmup, args.max_seconds)
    started = time.monotonic()
    interleave(clients, args.requests, args.max_seconds)
    elapsed = time.monotonic() - started
    for client in clients:
        client.session.close()
        client.server.stop()  # flushes nothing more to its log; the log is read below
    return report(args, clients, elapsed)


def report(args: argparse.Namespace, clients: Sequence[Client], elapsed: float) -> int:
    small, large = clients
    audit_rows = len(small.dataset.expected_ids)
    print(f"\nGET {API_PATH} for one fitter's week ({audit_rows} appointments, {audit_rows} audit rows written "
          f"per call), {elapsed:.1f} s of interleaved requests:")  # fmt: skip
    print(f"  {'dataset':>8} {'requests':>9} {'median ms':>10} {'p95 ms':>8} {'server median ms':>17}")
    medians, p95s = [], []
    for client in clients:
        samples, server = client.samples, client.server_ms()
        if len(samples) < 20:
            raise BenchError(f"only {len(samples)} listings of {client.dataset.label} in --max-seconds; too few")
        median, p95 = statistics.median(samples) * 1000, percentile(samples, 95) * 1000
        medians.append(median)
        p95s.append(p95)
        server_median = f"{statistics.median(server):.2f}" if server else "-"
        print(f"  {client.dataset.label:>8} {len(samples):>9} {median:>10.2f} {p95:>8.2f} {server_median:>17}")
    ratio = medians[1] / medians[0]
    verdict = "PASS" if ratio <= args.target else "FAIL"
    print(f"  ratio {large.dataset.label}/{small.dataset.label}: median {ratio:.2f}x, p95 {p95s[1] / p95s[0]:.2f}x "
          f"(target: median <= {args.target:g}x) {verdict}")  # fmt: skip
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
