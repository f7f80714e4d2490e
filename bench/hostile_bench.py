#!/usr/bin/env python3
"""Another user's latency while one user sends the worst inputs we know, against a real server.

An ``appointment-service serve`` process on 127.0.0.1 (SQLite in a temporary folder, or
``--postgres`` for a throwaway PostgreSQL). Fitter B, the ordinary user, lists their week over REST
and reads their availability, in a loop over one keep-alive connection. Two phases of equal length:
quiet (B alone), then attack (B while fitter A sends, from another connection, CalDAV PUTs with recurrence
rules that never occur, an infinite FREQ=SECONDLY event and availability windows over it, year-zero
dates, unknown TZIDs, invalid UTF-8, bodies at the size limit, deeply nested JSON and hostile webhook
URLs), then A busy (A sends ordinary requests at the same pace: the cost of sharing the server at all).
Prints B's p50/p99 per phase, the p99 ratio attack/quiet (target <= 1.5x) and attack/A-busy, and how
many attack requests got which status.

Bounded: ``--seconds`` per phase (default 15), at most ``--max-requests`` per phase and thread.
Exit status: 0 when the target is met, 1 when missed, 2 when the benchmark could not run.

    .venv/bin/python bench/hostile_bench.py
    .venv/bin/python bench/hostile_bench.py --postgres --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from caldav_bridge.store.migrate import upgrade
from config import load_settings

TARGET = 1.5


class BenchError(Exception):
    pass


@dataclass
class User:
    username: str
    password: str
    token: str
    calendar_id: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(url: str, data_dir: Path) -> Iterator[str]:
    exe = Path(sys.executable).with_name("appointment-service")
    if not exe.exists():
        raise BenchError(f"{exe} not found; install the project into this interpreter")
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPOINTMENTS_")}
    env.update(APPOINTMENTS_DATABASE_URL=url, APPOINTMENTS_DATA_DIR=str(data_dir), APPOINTMENTS_LOG_LEVEL="ERROR")
    port = _free_port()
    log = (data_dir / "server.log").open("ab")
    process = subprocess.Popen(
        [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(requests.RequestException):
                if requests.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        else:
            raise BenchError(f"the server did not start: {(data_dir / 'server.log').read_text()[-2000:]}")
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        log.close()


def _users(url: str, data_dir: Path) -> tuple[User, User]:
    rt = Runtime.from_settings(load_settings(environ={}, database_url=url, data_dir=str(data_dir)))
    try:
        upgrade(rt.engine)
        made = []
        for name in ("attacker.a", "ordinary.b"):
            _, password = users.add_user(rt.uow(), name, "fitter", timezone="Europe/Berlin")
            token = users.issue_token(rt.uow(), name, ("write",)).secret
            with rt.uow() as uow:
                user = uow.users.by_username(name)
                assert user is not None
                calendar_id = uow.calendars.ids_owned_by(user.id)[0]
            made.append(User(name, password, token, calendar_id))
        return made[0], made[1]
    finally:
        rt.close()


def _ics(uid: str, extra: str = "", start: str = "20261201T090000", end: str = "20261201T100000") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n"
        f"DTEND;TZID=Europe/Berlin:{end}\r\nSUMMARY:x\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _attacks(base: str, a: User) -> list[Callable[[requests.Session], requests.Response]]:
    dav = f"{base}/dav/{a.username}/appointments/"
    window = {
        "calendar_id": a.calendar_id,
        "type": "FOLLOW_UP",
        "from": (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
        "to": (datetime.now(UTC) + timedelta(days=14)).strftime("%Y-%m-%dT00:00:00Z"),
    }

    def put(body: str | bytes) -> Callable[[requests.Session], requests.Response]:
        return lambda s: s.put(dav + f"{uuid.uuid4().hex}.ics", data=body, timeout=120)

    big = _ics("big", extra="DESCRIPTION:" + "x" * 70 + "\r\n" + " y\r\n" * 250_000)
    return [
        put(_ics(f"n{uuid.uuid4()}", "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30\r\n")),
        put(_ics(f"d{uuid.uuid4()}", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n")),
        put(_ics(f"c{uuid.uuid4()}", "RRULE:FREQ=DAILY;COUNT=9;BYMONTH=4;BYMONTHDAY=31\r\n")),
        put(_ics("y0", "").replace("DTSTART;TZID=Europe/Berlin:20261201T090000", "DTSTART:00000101")),
        put(_ics("tz", "").replace("Europe/Berlin", "Mars/Base")),
        put(_ics("latin", "SUMMARY:M\udcfcller\r\n").encode("utf-8", "surrogateescape")),
        put(big),
        lambda s: s.get(base + "/api/v1/availability", params=window, timeout=120),
        lambda s: s.post(
            base + "/api/v1/appointments",
            data=b"[" * 50_000 + b"]" * 50_000,
            headers={"Content-Type": "application/json"},
            timeout=120,
        ),
        lambda s: s.post(base + "/api/v1/webhooks", json={"url": "https://0x7f000001/"}, timeout=120),
    ]


def _ordinary_load(base: str, a: User) -> list[Callable[[requests.Session], requests.Response]]:
    """A's ordinary traffic at the attack's pace (the same request mix, harmless bodies): the third phase."""
    dav = f"{base}/dav/{a.username}/appointments/"
    now = datetime.now(UTC)
    week = {
        "calendar_id": a.calendar_id,
        "from": now.strftime("%Y-%m-%dT00:00:00Z"),
        "to": (now + timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
    }

    def put() -> Callable[[requests.Session], requests.Response]:
        return lambda s: s.put(
            dav + f"{uuid.uuid4().hex}.ics", data=_ics(f"o{uuid.uuid4()}", "RRULE:FREQ=WEEKLY\r\n"), timeout=120
        )

    return [
        *(put() for _ in range(7)),
        *(lambda s: s.get(base + "/api/v1/appointments", params=week, timeout=120) for _ in range(3)),
    ]


def _seed_secondly(base: str, a: User) -> None:
    """The infinite high-frequency event the availability attacks read (stored: it is a valid rule)."""
    started = datetime.now(UTC) - timedelta(days=30)
    body = _ics(
        "secondly",
        "RRULE:FREQ=SECONDLY\r\n",
        started.strftime("%Y%m%dT%H%M%S"),
        (started + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%S"),
    )
    response = requests.put(
        f"{base}/dav/{a.username}/appointments/secondly.ics", data=body, auth=(a.username, a.password), timeout=120
    )
    if response.status_code not in (201, 204):
        raise BenchError(f"seeding the secondly event: {response.status_code} {response.text[:200]}")


def _ordinary(base: str, b: User, stop: threading.Event, limit: int) -> list[float]:
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {b.token}"
    now = datetime.now(UTC)
    week = {
        "calendar_id": b.calendar_id,
        "from": now.strftime("%Y-%m-%dT00:00:00Z"),
        "to": (now + timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
    }
    slots = {**week, "type": "FOLLOW_UP"}
    samples: list[float] = []
    while not stop.is_set() and len(samples) < limit:
        for path, params in (("/api/v1/appointments", week), ("/api/v1/availability", slots)):
            began = time.perf_counter()
            response = session.get(base + path, params=params, timeout=120)
            samples.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise BenchError(f"B's {path}: {response.status_code} {response.text[:200]}")
    return samples


def _attacker(
    base: str, a: User, stop: threading.Event, limit: int, statuses: Counter[str], benign: bool = False
) -> None:
    dav, api = requests.Session(), requests.Session()
    dav.trust_env = api.trust_env = False
    dav.auth = (a.username, a.password)  # CalDAV: Basic with the password
    api.headers["Authorization"] = f"Bearer {a.token}"  # REST: the token
    attacks = _ordinary_load(base, a) if benign else _attacks(base, a)
    n = 0
    while not stop.is_set() and n < limit:
        for attack in attacks:
            try:
                statuses[str(attack(dav if attack in attacks[:7] else api).status_code)] += 1
            except requests.RequestException as exc:
                statuses[type(exc).__name__] += 1
            n += 1
            if stop.is_set():
                return


def _phase(
    base: str, a: User, b: User, seconds: float, limit: int, attack_threads: int, benign: bool = False
) -> tuple[list[float], Counter[str]]:
    stop = threading.Event()
    statuses: Counter[str] = Counter()
    threads = [
        threading.Thread(target=_attacker, args=(base, a, stop, limit, statuses, benign)) for _ in range(attack_threads)
    ]
    for t in threads:
        t.start()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        samples = _ordinary(base, b, stop, limit)
    finally:
        stop.set()
        timer.cancel()
        for t in threads:
            t.join(180)
    return samples, statuses


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase (default 15)")
    parser.add_argument("--max-requests", type=int, default=5000, help="per phase and thread (default 5000)")
    parser.add_argument("--attack-threads", type=int, default=1, help="attacker connections (default 1)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as folder, contextlib.ExitStack() as stack:
        data_dir = Path(folder)
        if args.postgres:
            from tests.support.postgres import PostgresServer

            url = stack.enter_context(PostgresServer()).create_database("hostile")
        else:
            url = f"sqlite:///{data_dir / 'bench.db'}"
        try:
            a, b = _users(url, data_dir)
            base = stack.enter_context(_server(url, data_dir))
            _seed_secondly(base, a)
            quiet, _ = _phase(base, a, b, args.seconds, args.max_requests, 0)
            attacked, statuses = _phase(base, a, b, args.seconds, args.max_requests, args.attack_threads)
            loaded, _ = _phase(base, a, b, args.seconds, args.max_requests, args.attack_threads, benign=True)
        except BenchError as exc:
            print(f"hostile_bench: {exc}", file=sys.stderr)
            return 2
    ratio = _p(attacked, 0.99) / _p(quiet, 0.99)
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}; {args.seconds:g} s per phase")
    for name, samples in (("quiet ", quiet), ("attack", attacked), ("A busy", loaded)):
        print(
            f"B {name}: {len(samples):5d} requests  p50 {1000 * statistics.median(samples):7.1f} ms"
            f"  p99 {1000 * _p(samples, 0.99):7.1f} ms"
        )
    print(f"attack requests by status: {dict(sorted(statuses.items()))}")
    print(f"B's p99 attack/A busy with ordinary requests: {_p(attacked, 0.99) / _p(loaded, 0.99):.2f}x")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"B's p99 attack/quiet: {ratio:.2f}x (target <= {TARGET}x: {verdict})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
