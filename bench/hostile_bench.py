#!/usr/bin/env python3
"""Another user's latency while one user sends the worst inputs we know, against a real server.

An ``appointment-service serve`` process on 127.0.0.1 (SQLite in a temporary folder, or
``--postgres`` for a throwaway PostgreSQL). Fitter B, the ordinary user, lists their week over REST
and reads their availability, in a loop over one keep-alive connection. Three phases of equal length:
quiet (B alone), then attack (B while fitter A sends, from its own process, CalDAV PUTs with recurrence
rules that never occur, an infinite FREQ=SECONDLY event and availability windows over it, year-zero
dates, unknown TZIDs, invalid UTF-8, bodies at the size limit, deeply nested JSON and hostile webhook
URLs), then A busy (A sends ordinary requests at the same pace: the cost of sharing the server at all).
Prints B's p50/p99 per phase, the p99 ratio attack/quiet (target <= 1.5x) and attack/A-busy, and how
many attack requests got which status.

Fitter A runs in a process of its own (multiprocessing, spawn), as a client on another machine would:
B's client shares no interpreter with it. ``--per-attack N`` first sends each attack alone N times to a server
of its own with the refusal limit lifted and prints the server's CPU per request (from /proc);
``--refusal-limit N`` sets the measured server's ``refusal_limit_per_minute`` (feeds/refusal_throttle.py).

Bounded: ``--seconds`` per phase (default 15), at most ``--max-requests`` per phase and client.
Exit status: 0 when the target is met, 1 when missed, 2 when the benchmark could not run.

    .venv/bin/python bench/hostile_bench.py
    .venv/bin/python bench/hostile_bench.py --postgres --seconds 20
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project's packages, tests.support and bench

import requests  # noqa: E402

from bench.servers import BenchError, Fitter, Server, provision_fitters, serve_process  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402 (the test suite's throwaway server)

TARGET = 1.5

#: One request of A's: its name, whether it goes over CalDAV (Basic) or REST (token), and how to send it.
Attack = tuple[str, str, Callable[[requests.Session], requests.Response]]


def _ics(uid: str, extra: str = "", start: str = "20261201T090000", end: str = "20261201T100000") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;TZID=Europe/Berlin:{start}\r\n"
        f"DTEND;TZID=Europe/Berlin:{end}\r\nSUMMARY:x\r\n{extra}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def _attacks(base: str, a: Fitter) -> list[Attack]:
    dav = a.calendar(base)
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
        ("PUT secondly never", "dav", put(_ics(f"n{uuid.uuid4()}", "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30\r\n"))),
        ("PUT daily never", "dav", put(_ics(f"d{uuid.uuid4()}", "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30\r\n"))),
        ("PUT 31 April", "dav", put(_ics(f"c{uuid.uuid4()}", "RRULE:FREQ=DAILY;COUNT=9;BYMONTH=4;BYMONTHDAY=31\r\n"))),
        (
            "PUT year zero",
            "dav",
            put(_ics("y0", "").replace("DTSTART;TZID=Europe/Berlin:20261201T090000", "DTSTART:00000101")),
        ),
        ("PUT unknown TZID", "dav", put(_ics("tz", "").replace("Europe/Berlin", "Mars/Base"))),
        ("PUT not UTF-8", "dav", put(_ics("latin", "SUMMARY:M\udcfcller\r\n").encode("utf-8", "surrogateescape"))),
        ("PUT near the size limit", "dav", put(big)),
        (
            "availability over secondly",
            "api",
            lambda s: s.get(base + "/api/v1/availability", params=window, timeout=120),
        ),
        (
            "POST nested JSON",
            "api",
            lambda s: s.post(
                base + "/api/v1/appointments",
                data=b"[" * 50_000 + b"]" * 50_000,
                headers={"Content-Type": "application/json"},
                timeout=120,
            ),
        ),
        (
            "POST webhook loopback",
            "api",
            lambda s: s.post(base + "/api/v1/webhooks", json={"url": "https://0x7f000001/"}, timeout=120),
        ),
    ]


def _ordinary_load(base: str, a: Fitter) -> list[Attack]:
    """A's ordinary traffic at the attack's pace (the same request mix, harmless bodies): the third phase."""
    dav = a.calendar(base)
    now = datetime.now(UTC)
    week = {
        "calendar_id": a.calendar_id,
        "from": now.strftime("%Y-%m-%dT00:00:00Z"),
        "to": (now + timedelta(days=7)).strftime("%Y-%m-%dT00:00:00Z"),
    }

    def put(s: requests.Session) -> requests.Response:
        body = _ics(f"o{uuid.uuid4()}", "RRULE:FREQ=WEEKLY\r\n")
        return s.put(dav + f"{uuid.uuid4().hex}.ics", data=body, timeout=120)

    def listing(s: requests.Session) -> requests.Response:
        return s.get(base + "/api/v1/appointments", params=week, timeout=120)

    return [*(("PUT weekly", "dav", put) for _ in range(7)), *(("list week", "api", listing) for _ in range(3))]


def _seed_secondly(base: str, a: Fitter) -> None:
    """The infinite high-frequency event the availability attacks read (stored: it is a valid rule)."""
    started = datetime.now(UTC) - timedelta(days=30)
    body = _ics(
        "secondly",
        "RRULE:FREQ=SECONDLY\r\n",
        started.strftime("%Y%m%dT%H%M%S"),
        (started + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%S"),
    )
    response = a.dav_session().put(a.calendar(base) + "secondly.ics", data=body, timeout=120)
    if response.status_code not in (201, 204):
        raise BenchError(f"seeding the secondly event: {response.status_code} {response.text[:200]}")


def _ordinary(base: str, b: Fitter, stop: threading.Event, limit: int) -> list[float]:
    session = b.api_session()
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


def _send(attack: Attack, sessions: dict[str, requests.Session]) -> str:
    _, kind, send = attack
    try:
        return str(send(sessions[kind]).status_code)
    except requests.RequestException as exc:
        return type(exc).__name__


def _attacker(
    base: str, a: Fitter, benign: bool, limit: int, ready: EventType, stop: EventType, results: multiprocessing.Queue
) -> None:
    """Fitter A in a process of its own (as another client machine would be): no interpreter shared with B's client."""
    sessions = {"dav": a.dav_session(), "api": a.api_session()}
    attacks = _ordinary_load(base, a) if benign else _attacks(base, a)
    statuses: Counter[str] = Counter()
    began = time.process_time()  # the client's CPU from here (its start-up imports are not the attack)
    ready.set()
    n = 0
    while not stop.is_set() and n < limit:
        for attack in attacks:
            statuses[_send(attack, sessions)] += 1
            n += 1
            if stop.is_set():
                break
    results.put((dict(statuses), time.process_time() - began))


def _phase(
    server: Server, a: Fitter, b: Fitter, seconds: float, limit: int, attackers: int, benign: bool = False
) -> tuple[list[float], Counter[str], float, float]:
    """B's latencies, A's statuses, the server's CPU seconds over the phase and the attacker processes' own."""
    ctx = multiprocessing.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    readies = [ctx.Event() for _ in range(attackers)]
    processes = [
        ctx.Process(target=_attacker, args=(server.base, a, benign, limit, ready, stop, results)) for ready in readies
    ]
    statuses: Counter[str] = Counter()
    client_cpu = 0.0
    try:
        for process in processes:
            process.start()
        for ready in readies:
            if not ready.wait(60):
                raise BenchError("an attacker process did not start")
        cpu = server.cpu_seconds()
        ended = threading.Event()
        timer = threading.Timer(seconds, ended.set)
        timer.start()
        try:
            samples = _ordinary(server.base, b, ended, limit)
        finally:
            timer.cancel()
            stop.set()
        cpu = server.cpu_seconds() - cpu
        for _ in processes:
            counted, used = results.get(timeout=180)
            statuses.update(counted)
            client_cpu += used
    finally:
        stop.set()
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
                process.join(10)
    return samples, statuses, cpu, client_cpu


def _per_attack(server: Server, a: Fitter, repeat: int) -> None:
    """Each attack alone, ``repeat`` times in a row: the server's CPU per request and the client's median time
    (against a server of its own whose refusal limit is lifted: the cost of each refusal, not of a 429)."""
    sessions = {"dav": a.dav_session(), "api": a.api_session()}
    print(f"each attack alone, {repeat} times: server CPU per request, median latency, statuses")
    for attack in _attacks(server.base, a):
        statuses: Counter[str] = Counter()
        took = []
        cpu = server.cpu_seconds()
        for _ in range(repeat):
            began = time.perf_counter()
            statuses[_send(attack, sessions)] += 1
            took.append(time.perf_counter() - began)
        cpu = server.cpu_seconds() - cpu
        print(
            f"  {attack[0]:28s} CPU {1000 * cpu / repeat:7.1f} ms  median {1000 * statistics.median(took):7.1f} ms"
            f"  {dict(statuses)}"
        )


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(phases: dict[str, tuple[list[float], Counter[str], float, float]], seconds: float, postgres: bool) -> float:
    print(f"database: {'postgresql' if postgres else 'sqlite'}; {seconds:g} s per phase; attacker in its own process")
    for name, (samples, statuses, cpu, client_cpu) in phases.items():
        a_requests = sum(statuses.values())
        print(
            f"B {name}: {len(samples):5d} requests  p50 {1000 * statistics.median(samples):7.1f} ms"
            f"  p99 {1000 * _p(samples, 0.99):7.1f} ms  server CPU {cpu:5.2f} s"
            f" ({1000 * cpu / (len(samples) + a_requests):.1f} ms/request); A sent {a_requests}"
            f" using {client_cpu:.2f} s of client CPU"
        )
    quiet, attacked, loaded = (phases[k][0] for k in ("quiet ", "attack", "A busy"))
    print(f"attack requests by status: {dict(sorted(phases['attack'][1].items()))}")
    print(f"B's p99 attack/A busy with ordinary requests: {_p(attacked, 0.99) / _p(loaded, 0.99):.2f}x")
    ratio = _p(attacked, 0.99) / _p(quiet, 0.99)
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"B's p99 attack/quiet: {ratio:.2f}x (target <= {TARGET}x: {verdict})")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase (default 15)")
    parser.add_argument("--max-requests", type=int, default=5000, help="per phase and client (default 5000)")
    parser.add_argument("--attackers", type=int, default=1, help="attacker processes, one connection each (default 1)")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL instead of SQLite")
    parser.add_argument(
        "--per-attack", type=int, default=0, metavar="N", help="first send each attack alone N times and print its cost"
    )
    parser.add_argument(
        "--refusal-limit",
        type=int,
        metavar="N",
        help="the server's refusal_limit_per_minute (default: the service's own; 1000000 lifts it)",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as folder, contextlib.ExitStack() as stack:
        data_dir = Path(folder)
        try:
            if args.postgres:
                url = stack.enter_context(PostgresServer()).create_database("hostile")
            else:
                url = f"sqlite:///{data_dir / 'bench.db'}"
            a, b, probe = provision_fitters(url, data_dir, ("attacker.a", "ordinary.b", "probe.c"))
            if args.per_attack:
                lifted = {"refusal_limit_per_minute": "1000000"}  # what each refusal itself costs
                with serve_process(url, data_dir, "probe-server", settings=lifted) as probing:
                    _seed_secondly(probing.base, probe)
                    _per_attack(probing, probe, args.per_attack)
            limit = {} if args.refusal_limit is None else {"refusal_limit_per_minute": str(args.refusal_limit)}
            server = stack.enter_context(serve_process(url, data_dir, settings=limit))
            _seed_secondly(server.base, a)
            phases = {
                "quiet ": _phase(server, a, b, args.seconds, args.max_requests, 0),
                "attack": _phase(server, a, b, args.seconds, args.max_requests, args.attackers),
                "A busy": _phase(server, a, b, args.seconds, args.max_requests, args.attackers, benign=True),
            }
        except BenchError as exc:
            print(f"hostile_bench: {exc}", file=sys.stderr)
            return 2
    ratio = _report(phases, args.seconds, args.postgres)
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
