#!/usr/bin/env python3
"""A slow CalDAV write in one calendar next to writes in another, two server processes on one PostgreSQL.

Two ``appointment-service serve`` processes on 127.0.0.1 share a throwaway PostgreSQL. Fitter A
sends slow but legal writes to server 1: PUTs of a long series with 99 moved occurrences
(RECURRENCE-ID overrides, as calendar clients export them), the most an item may have
(caldav_bridge.dav.validate.MAX_OBJECTS: 600 cost over a second of CPU), each held
under A's calendar lock while it is stored. Meanwhile fitter B PUTs small events into B's own calendar
through server 2, one after another. Phases of equal length:

- quiet: B alone;
- slow A: B while A's slow writes run (target: B not delayed, p99 <= 1.5 x quiet);
- same calendar (control): a second client of A writes small events into A's calendar through
  server 2 while A's slow writes run; it waits for A's lock, which shows the slow write holds the
  lock long enough to matter (with one lock for all of CalDAV, B would see this too).

Prints p50/p99 per phase, the ratios, and how long A's slow PUTs took. Bounded: ``--seconds`` per phase
(default 15), at most ``--max-requests`` per phase and client. Exit status 0 when the target is met,
1 when missed, 2 when the benchmark could not run.

    .venv/bin/python bench/collection_lock_bench.py
    .venv/bin/python bench/collection_lock_bench.py --seconds 30 --overrides 99
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: the project's packages, tests.support and bench

import requests  # noqa: E402

from bench.servers import BenchError, Fitter, provision_fitters, serve_process  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402 (the test suite's throwaway server)

TARGET = 1.5


def _event(uid: str, start: datetime, extra: str = "") -> str:
    fmt = "%Y%m%dT%H%M%S"
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20261101T000000Z\r\n"
        f"DTSTART;TZID=Europe/Berlin:{start.strftime(fmt)}\r\n"
        f"DTEND;TZID=Europe/Berlin:{(start + timedelta(hours=1)).strftime(fmt)}\r\nSUMMARY:Fitting\r\n"
        f"{extra}END:VEVENT\r\n"
    )


def _calendar(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n" + "".join(events) + "END:VCALENDAR\r\n"


def _slow_item(overrides: int) -> str:
    """A weekly series with ``overrides`` moved occurrences, each with a note: a legal item at the object limit."""
    uid = "series-UID-HERE"
    first = datetime(2027, 1, 4, 9, 0)
    note = "DESCRIPTION:" + "Moved at the customer's request; bring the fitting kit. " * 12 + "\r\n"
    master = _event(uid, first, "RRULE:FREQ=WEEKLY;COUNT=1000\r\n")
    moved = [
        _event(
            uid,
            first + timedelta(weeks=n, hours=2),
            f"RECURRENCE-ID;TZID=Europe/Berlin:{(first + timedelta(weeks=n)).strftime('%Y%m%dT%H%M%S')}\r\n{note}",
        )
        for n in range(1, overrides + 1)
    ]
    return _calendar(master, *moved)


def _small_item() -> str:
    start = datetime(2027, 3, 1, 8, 0) + timedelta(minutes=15 * (uuid.uuid4().int % 2000))
    return _calendar(_event(f"small-{uuid.uuid4()}", start))


def _writer(url: str, session: requests.Session, stop: threading.Event, limit: int) -> list[float]:
    samples: list[float] = []
    while not stop.is_set() and len(samples) < limit:
        began = time.perf_counter()
        response = session.put(url + f"{uuid.uuid4().hex}.ics", data=_small_item(), timeout=120)
        samples.append(time.perf_counter() - began)
        if response.status_code != 201:
            raise BenchError(f"a small PUT: {response.status_code} {response.text[:200]}")
    return samples


def _slow_writer(url: str, session: requests.Session, body: str, stop: threading.Event, took: list[float]) -> None:
    while not stop.is_set() and len(took) < 1000:
        began = time.perf_counter()
        item = body.replace("UID-HERE", str(uuid.uuid4()))
        response = session.put(url + f"{uuid.uuid4().hex}.ics", data=item, timeout=300)
        took.append(time.perf_counter() - began)
        if response.status_code != 201:
            raise BenchError(f"the slow PUT: {response.status_code} {response.text[:200]}")


def _phase(
    writer_url: str, writer: requests.Session, seconds: float, limit: int, slow: tuple[str, Fitter, str] | None
) -> tuple[list[float], list[float]]:
    stop = threading.Event()
    took: list[float] = []
    errors: list[BaseException] = []
    slow_thread = None
    if slow is not None:
        url, fitter, body = slow

        def run() -> None:
            try:
                _slow_writer(url, fitter.dav_session(), body, stop, took)
            except BaseException as exc:  # reported below
                errors.append(exc)

        slow_thread = threading.Thread(target=run)
        slow_thread.start()
        time.sleep(0.5)  # the first slow write is under way
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    try:
        samples = _writer(writer_url, writer, stop, limit)
    finally:
        stop.set()
        timer.cancel()
        if slow_thread is not None:
            slow_thread.join(300)
    if errors:
        raise BenchError(str(errors[0]))
    return samples, took


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _line(name: str, samples: list[float]) -> str:
    return (
        f"{name}: {len(samples):5d} PUTs  p50 {1000 * statistics.median(samples):7.1f} ms"
        f"  p99 {1000 * _p(samples, 0.99):7.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase (default 15)")
    parser.add_argument("--max-requests", type=int, default=2000, help="per phase and client (default 2000)")
    parser.add_argument("--overrides", type=int, default=99, help="moved occurrences in the slow item (default 99)")
    args = parser.parse_args(argv)
    body = _slow_item(args.overrides)
    with tempfile.TemporaryDirectory(prefix="lock-bench-") as folder, contextlib.ExitStack() as stack:
        data_dir = Path(folder)
        try:
            url = stack.enter_context(PostgresServer()).create_database("locks")
            a, b = provision_fitters(url, data_dir, ("slow.a", "other.b"))
            one = stack.enter_context(serve_process(url, data_dir, "server-1", migrate=False)).base
            two = stack.enter_context(serve_process(url, data_dir, "server-2", migrate=False)).base
            b_dav, a_dav = b.dav_session(), a.dav_session()
            for fitter, session in ((a, a_dav), (b, b_dav)):  # provision both calendars, warm both servers
                for base in (one, two):
                    session.request("PROPFIND", fitter.calendar(base), headers={"Depth": "0"}, timeout=60)
            slow = (a.calendar(one), a, body)
            quiet, _ = _phase(b.calendar(two), b_dav, args.seconds, args.max_requests, None)
            beside, took = _phase(b.calendar(two), b_dav, args.seconds, args.max_requests, slow)
            same, took_same = _phase(a.calendar(two), a_dav, args.seconds, args.max_requests, slow)
        except BenchError as exc:
            print(f"collection_lock_bench: {exc}", file=sys.stderr)
            return 2
    ratio = _p(beside, 0.99) / _p(quiet, 0.99)
    print(f"two serve processes on one PostgreSQL; {args.seconds:g} s per phase; slow item {len(body) // 1024} KiB")
    print(f"A's slow PUTs: {len(took + took_same)}, median {statistics.median(took + took_same):.2f} s each")
    print(_line("B quiet                       ", quiet))
    print(_line("B beside A's slow writes      ", beside))
    print(_line("A's calendar beside slow writes", same))
    print(f"same calendar p99 / quiet p99 (control, serialised): {_p(same, 0.99) / _p(quiet, 0.99):.2f}x")
    print(
        f"B's p50 ratio {statistics.median(beside) / statistics.median(quiet):.2f}x; "
        f"B's p99 beside/quiet: {ratio:.2f}x (target <= {TARGET}x: {'met' if ratio <= TARGET else 'MISSED'})"
    )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
