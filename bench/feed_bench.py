#!/usr/bin/env python3
"""The iCal feed against its peers, in one run: our 200 and 304 paths, the same bytes from a plain
static file server, and stock Radicale's GET of a collection holding the same events.

A fitter has 1,000 appointments in the feed window (SQLite, or PostgreSQL with ``--postgres``).
Three servers run as subprocesses on 127.0.0.1: ``appointment-service serve`` (waitress, 8 threads,
the per-token rate limit lifted), ``python -m http.server`` serving the feed's bytes as a file, and
Radicale 3.9 (filesystem storage in a temporary folder, no auth) holding one ``.ics`` per event,
each rendered by our converter (``single_event_calendar``).

For each of the four paths: latency of sequential requests over one keep-alive connection (median,
p95), then requests per second under a bounded concurrent load (``--clients`` threads, each at most
``--requests`` requests), ``--seconds`` per path split into ``--rounds`` rounds that take turns, so
that other work on a shared machine slows every path alike. All clients ask for ``identity`` encoding so
every server sends the same bytes. Every answer's status (and 200 body length) is checked.

Then, in this process: CPU time to render 10,000 events cold (nothing cached) and warm (VEVENTs
cached, as a running server has them); and the calendar page: another fitter with ``--page-events``
(300) appointments in one week, the server CPU time of ``GET /calendar/<token>?week=…`` (the whole
request through the Flask app in this process: token, query, working hours, layout, template, fetch
record) next to that of the same calendar's feed (``GET /feeds/<token>.ics``, a 200 with a cold cache,
i.e. rendered) in alternating rounds.

Targets (exit status 0 when all are met, 1 when one is missed, 2 when the benchmark could not run):
304 throughput >= 50% of the static file's; 200 throughput >= 20% of the static file's and >= 5x
Radicale's collection GET; rendering 10,000 events within 1 s of CPU; the page of a week of 300
appointments within 100 ms of CPU (median).

    .venv/bin/python bench/feed_bench.py
    .venv/bin/python bench/feed_bench.py --postgres --seconds 10
    .venv/bin/python bench/feed_bench.py --page-only     # only the calendar page's figure (~20 s)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import free_port  # noqa: E402
from caldav_bridge.converters.ical import (  # noqa: E402
    CalendarInfo,
    EventOptions,
    single_event_calendar,
    vcalendar,
    vevent_bytes,
    vtimezones,
)
from caldav_bridge.infra.feed_cache import FeedCache, LruCache  # noqa: E402
from caldav_bridge.model.appointment import Appointment  # noqa: E402
from caldav_bridge.model.feeds import FeedTokenDraft, Privacy  # noqa: E402
from caldav_bridge.runtime import Runtime  # noqa: E402
from caldav_bridge.services import feed_tokens, users  # noqa: E402
from caldav_bridge.services.actor import system_actor  # noqa: E402
from caldav_bridge.services.mapping import appointment_from_row  # noqa: E402
from caldav_bridge.store.migrate import upgrade  # noqa: E402
from caldav_bridge.store.tables import AppointmentGuestRow, AppointmentRow  # noqa: E402
from config import load_settings  # noqa: E402
from feeds.app import create_app  # noqa: E402
from feeds.feed_state import close_app, feed_context  # noqa: E402

ZONE = "America/Denver"
FITTER = "bench.fitter"
IDENTITY = {"Accept-Encoding": "identity"}
TYPES = ("INITIAL", "FOLLOW_UP", "TECH_SETUP")
STATUSES = ("INITIAL", "RESERVED", "BOOKED", "RESCHEDULED", "CANCELLED")
FIRST_NAMES = ("Margaret", "Walter", "José", "Eleanor", "Günther", "Ruth", "Harold", "Dorothy")
LAST_NAMES = ("Hughes", "Brennan", "Núñez", "Park", "Schäfer", "Okafor", "Lindqvist", "Castillo")


# --------------------------------------------------------------------------- processes


@contextlib.contextmanager
def process(cmd: list[str], url: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[int]:
    """Run ``cmd`` until the block ends; wait (at most 60 s) until ``url`` answers. Stopped by its PID."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(
                    f"{cmd[:3]} exited with {proc.returncode}: {log.read()[-2000:].decode(errors='replace')}"
                )
            try:
                requests.get(url, timeout=2, headers=IDENTITY, auth=("bench", "x"))
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[:3]} did not answer at {url}") from None
                time.sleep(0.2)
        yield proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


# --------------------------------------------------------------------------- data


def make_appointments(count: int, now: datetime, start_days: float = -20) -> list[dict[str, Any]]:
    """``count`` appointments spread over the window (from ``start_days`` on), 6 a working day."""
    out = []
    for i in range(count):
        day, slot = divmod(i, 6)
        start = (now + timedelta(days=start_days + day)).replace(hour=15 + slot, minute=0, second=0, microsecond=0)
        out.append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"feed-bench/{i}")),
                "start": start,
                "end": start + timedelta(minutes=45),
                "type": TYPES[i % 3],
                "status": STATUSES[i % 5],
                "name": f"{TYPES[i % 3].title()} w/{FIRST_NAMES[i % 8]} {LAST_NAMES[i % 8]}",
                "first": FIRST_NAMES[i % 8],
                "last": LAST_NAMES[(i // 8) % 8],
                "sequence": i % 3,
            }
        )
    return out


def load_appointments(rt: Runtime, calendar_id: str, items: list[dict[str, Any]], now: datetime) -> None:
    with rt.uow() as uow:
        for item in items:
            row = AppointmentRow(
                id=item["id"],
                calendar_id=calendar_id,
                name=item["name"],
                description="Bring the audiogram. Phone 555-0100.",
                type=item["type"],
                status=item["status"],
                date_start=item["start"],
                date_end=item["end"],
                created_at=now - timedelta(days=40),
                updated_at=now - timedelta(days=1),
                sequence=item["sequence"],
                meta_extra={"location": "Denver store, 1600 Glenarm Pl"},
            )
            row.guests = [AppointmentGuestRow(position=0, first_name=item["first"], last_name=item["last"], extra={})]
            uow.session.add(row)
        uow.commit()


def radicale_collection(rt: Runtime, folder: Path, user: str) -> None:
    """The same events as a Radicale collection: one .ics per event (our converter, full detail)."""
    collection = folder / "collection-root" / user / "calendar"
    collection.mkdir(parents=True)
    (collection / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR", "D:displayname": "Bench fitter"}))
    with rt.uow() as uow:
        for row in uow.session.query(AppointmentRow).all():
            data = single_event_calendar(appointment_from_row(row), row.sequence, ZONE)
            (collection / f"{row.id}.ics").write_bytes(data)


# --------------------------------------------------------------------------- measuring


@dataclass
class Result:
    name: str
    median_ms: float
    p95_ms: float
    rps: float
    requests: int
    size: int


@dataclass(frozen=True)
class Target:
    name: str
    url: str
    expect: int
    headers: dict[str, str]
    auth: Any = None


def latency(target: Target, args: argparse.Namespace) -> tuple[float, float, int]:
    """Median and p95 of sequential requests over one keep-alive connection, and the body size."""
    session = requests.Session()
    first = session.get(target.url, headers=target.headers, auth=target.auth, timeout=120)
    assert first.status_code == target.expect, (target.name, first.status_code, first.text[:200])
    size = len(first.content)
    latencies = []
    deadline = time.monotonic() + args.seconds
    for _ in range(args.latency_requests):
        t = time.perf_counter()
        r = session.get(target.url, headers=target.headers, auth=target.auth, timeout=120)
        latencies.append((time.perf_counter() - t) * 1000)
        assert r.status_code == target.expect and len(r.content) == size, (target.name, r.status_code)
        if time.monotonic() > deadline:
            break
    latencies.sort()
    return statistics.median(latencies), latencies[max(0, int(len(latencies) * 0.95) - 1)], size


def load(target: Target, size: int, seconds: float, args: argparse.Namespace) -> tuple[int, float]:
    """Requests completed by ``args.clients`` threads in at most ``seconds`` (and ``args.requests`` each)."""
    done = [0] * args.clients
    failures: list[str] = []
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        s = requests.Session()
        for _ in range(args.requests):
            if time.monotonic() > stop_at:
                return
            try:
                r = s.get(target.url, headers=target.headers, auth=target.auth, timeout=120)
            except requests.RequestException as exc:
                failures.append(repr(exc))
                return
            if r.status_code != target.expect or len(r.content) != size:
                failures.append(f"{r.status_code} {len(r.content)}")
                return
            done[index] += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 180)
    assert not failures, (target.name, failures[:3])
    return sum(done), time.perf_counter() - start


def measure(targets: list[Target], args: argparse.Namespace) -> list[Result]:
    """Latency of each, then throughput in interleaved rounds (so a busy machine slows all alike)."""
    sizes, lat = {}, {}
    for t in targets:
        median, p95, sizes[t.name] = latency(t, args)
        lat[t.name] = (median, p95)
    counts = dict.fromkeys(sizes, 0)
    elapsed = dict.fromkeys(sizes, 0.0)
    per_round = args.seconds / args.rounds
    for _ in range(args.rounds):
        for t in targets:
            n, secs = load(t, sizes[t.name], per_round, args)
            counts[t.name] += n
            elapsed[t.name] += secs
    return [
        Result(t.name, lat[t.name][0], lat[t.name][1], counts[t.name] / elapsed[t.name], counts[t.name], sizes[t.name])
        for t in targets
    ]


def render_cpu(count: int) -> tuple[float, float, int]:
    """CPU seconds to render ``count`` events cold and warm (VEVENTs cached), and the body size."""
    now = datetime(2026, 6, 1, tzinfo=UTC)
    appointments = [
        Appointment.model_validate(
            {
                "calendar": {"id": "c"},
                "created_at": now,
                "updated_at": now,
                "date_start": i["start"],
                "date_end": i["end"],
                "id": i["id"],
                "name": i["name"],
                "guests": [{"first_name": i["first"], "last_name": i["last"]}],
                "meta": {"type": i["type"], "location": "Denver store"},
                "status": i["status"],
            }
        )
        for i in make_appointments(count, now, start_days=-30)
    ]
    options = EventOptions(privacy=Privacy.MINIMAL, timezone=ZONE)
    info = CalendarInfo(uid="c", name="Bench", description="Bench", timezone=ZONE)
    cache = FeedCache()
    key = options.key()

    def render() -> bytes:
        blobs = []
        for a in appointments:
            blob = cache.events.get((str(a.id), 1, key, None))
            if blob is None:
                blob = vevent_bytes(a, 0, options)
                cache.events.put((str(a.id), 1, key, None), blob)
            blobs.append(blob)
        tz = vtimezones([ZONE], appointments[0].date_start.date(), appointments[-1].date_end.date())
        return vcalendar(info, blobs, tz)

    t = time.process_time()
    body = render()
    cold = time.process_time() - t
    t = time.process_time()
    assert render() == body
    warm = time.process_time() - t
    return cold, warm, len(body)


def page_cpu(rt: Runtime, count: int, rounds: int) -> tuple[float, float, int, int]:
    """Median server CPU seconds of the calendar page of a week of ``count`` appointments and of the same
    calendar's feed (rendered, nothing cached), measured alternately; and both bodies' sizes."""
    users.add_user(rt.uow(), "bench.page", "fitter", timezone=ZONE)
    with rt.uow() as uow:
        user = uow.users.by_username("bench.page")
        assert user is not None
        calendar_id = uow.calendars.ids_owned_by(user.id)[0]
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    per_day, rest = divmod(count, 5)
    items = []
    for i in range(count):
        day, slot = (i // (per_day + 1), i % (per_day + 1)) if i < rest * (per_day + 1) else divmod(i - rest, per_day)
        start = monday + timedelta(days=min(day, 4), hours=14, minutes=slot * 9)  # 08:00 Denver on, overlapping
        items.append({**make_appointments(1, now)[0], "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"page-bench/{i}"))})
        items[-1].update(start=start, end=start + timedelta(minutes=45), status=STATUSES[i % 5])
    load_appointments(rt, calendar_id, items, now)
    issued = feed_tokens.issue(rt.uow(), system_actor(), calendar_id, FeedTokenDraft(name="page"), "http://x")
    app = create_app(rt=rt)
    client = app.test_client()
    page_url = f"/calendar/{issued.secret}?week={monday.date().isoformat()}"
    feed_url = f"/feeds/{issued.secret}.ics"
    shown = client.get(page_url).get_data(as_text=True)
    listed = sum(1 for item in items if item["status"] != "CANCELLED")  # not listed at busy privacy
    assert shown.count("data-appointment=") == listed, (shown.count("data-appointment="), listed)
    with app.app_context():
        ctx = feed_context()
    page_times: list[float] = []
    feed_times: list[float] = []
    sizes = [0, 0]
    for _ in range(rounds):
        for url, times, index in ((page_url, page_times, 0), (feed_url, feed_times, 1)):
            ctx.cache, ctx.answers = FeedCache(), LruCache(256)  # the feed rendered anew (the page caches nothing)
            t = time.process_time()
            response = client.get(url, headers=IDENTITY)
            times.append(time.process_time() - t)
            assert response.status_code == 200, response.status_code
            sizes[index] = len(response.get_data())
    close_app(app)
    return statistics.median(page_times), statistics.median(feed_times), sizes[0], sizes[1]


# --------------------------------------------------------------------------- main


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per path, over all rounds (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved load rounds (default 5)")
    parser.add_argument("--requests", type=int, default=20_000, help="request cap per client and phase")
    parser.add_argument("--latency-requests", type=int, default=100, help="sequential requests for latency")
    parser.add_argument("--render-events", type=int, default=10_000)
    parser.add_argument("--page-events", type=int, default=300, help="appointments in the calendar page's week")
    parser.add_argument("--page-rounds", type=int, default=15, help="page (and feed) requests measured")
    parser.add_argument("--page-only", action="store_true", help="only the calendar page's figure")
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL (tests/support/postgres.py)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)  # stop the servers on SIGTERM too (they stop in `finally`)
    try:
        return run(args)
    except (RuntimeError, AssertionError, requests.RequestException) as exc:
        print(f"feed_bench: could not run: {exc!r}", file=sys.stderr)
        return 2


def run_page(args: argparse.Namespace) -> tuple[str, float, float]:
    """The calendar page's figure, on its own database (SQLite, or PostgreSQL with ``--postgres``)."""
    with tempfile.TemporaryDirectory(prefix="page-bench-") as tmp, contextlib.ExitStack() as stack:
        if args.postgres:
            from tests.support.postgres import PostgresServer

            database_url = stack.enter_context(PostgresServer()).create_database("page_bench")
        else:
            database_url = f"sqlite:///{Path(tmp) / 'page.db'}"
        settings = load_settings(
            environ={"APPOINTMENTS_FEED_RATE_LIMIT_PER_MINUTE": "1000000"},
            database_url=database_url,
            data_dir=str(Path(tmp) / "data"),
        )
        rt = Runtime.from_settings(settings)
        upgrade(rt.engine)
        try:
            page, feed, page_size, feed_size = page_cpu(rt, args.page_events, args.page_rounds)
        finally:
            rt.close()
    line = (
        f"calendar page, a week of {args.page_events} appointments ({page_size:,} bytes): {page * 1000:.1f} ms CPU "
        f"(median of {args.page_rounds}); the same calendar's feed, rendered ({feed_size:,} bytes): "
        f"{feed * 1000:.1f} ms CPU; page / feed {page / feed:.2f}x"
    )
    return line, page, feed


def run(args: argparse.Namespace) -> int:
    if args.page_only:
        line, page, _feed = run_page(args)
        print(line)
        ok = page <= 0.1
        print(f"{'100 ms / page':<18} {0.1 / page:>8.2f}x  target >= 1x  {'ok' if ok else 'MISSED'}")
        return 0 if ok else 1
    with tempfile.TemporaryDirectory(prefix="feed-bench-") as tmp, contextlib.ExitStack() as stack:
        tmpdir = Path(tmp)
        if args.postgres:
            from tests.support.postgres import PostgresServer

            server = stack.enter_context(PostgresServer())
            database_url = server.create_database("feed_bench")
        else:
            database_url = f"sqlite:///{tmpdir / 'bench.db'}"
        settings = load_settings(environ={}, database_url=database_url, data_dir=str(tmpdir / "data"))
        rt = Runtime.from_settings(settings)
        upgrade(rt.engine)
        users.add_user(rt.uow(), FITTER, "fitter", timezone=ZONE)
        with rt.uow() as uow:
            user = uow.users.by_username(FITTER)
            assert user is not None
            calendar_id = uow.calendars.ids_owned_by(user.id)[0]
        now = datetime.now(UTC)
        appointments = make_appointments(args.events, now)
        load_appointments(rt, calendar_id, appointments, now)
        # the feed's default privacy is busy times only, where a cancelled appointment is not listed
        listed = sum(1 for a in appointments if a["status"] != "CANCELLED")
        issued = feed_tokens.issue(rt.uow(), system_actor(), calendar_id, FeedTokenDraft(name="bench"), "http://x")
        radicale_dir = tmpdir / "radicale"
        radicale_collection(rt, radicale_dir, "bench")
        rt.close()

        app_port, static_port, radicale_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "APPOINTMENTS_DATABASE_URL": database_url,
            "APPOINTMENTS_DATA_DIR": str(tmpdir / "data"),
            "APPOINTMENTS_FEED_RATE_LIMIT_PER_MINUTE": "1000000",
            "APPOINTMENTS_LOG_LEVEL": "WARNING",
        }
        app = f"http://127.0.0.1:{app_port}"
        stack.enter_context(
            process(
                [sys.executable, "-m", "feeds.cli", "serve", "--no-migrate", "--port", str(app_port)],
                f"{app}/healthz",
                env,
                ROOT,
            )
        )
        feed_url = f"{app}/feeds/{issued.secret}.ics"
        first = requests.get(feed_url, headers=IDENTITY, timeout=60)
        served = first.content.count(b"BEGIN:VEVENT")
        assert first.status_code == 200 and served == listed, (first.status_code, f"{served} events, not {listed}")
        static_dir = tmpdir / "static"
        static_dir.mkdir()
        (static_dir / "feed.ics").write_bytes(first.content)
        static_url = f"http://127.0.0.1:{static_port}/feed.ics"
        stack.enter_context(
            process(
                [
                    sys.executable,
                    "-m",
                    "http.server",
                    str(static_port),
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                    str(static_dir),
                ],
                static_url,
            )
        )
        radicale_url = f"http://127.0.0.1:{radicale_port}/bench/calendar/"
        stack.enter_context(
            process(
                [
                    sys.executable,
                    "-m",
                    "radicale",
                    "--server-hosts",
                    f"127.0.0.1:{radicale_port}",
                    "--auth-type",
                    "none",
                    "--rights-type",
                    "owner_only",
                    "--storage-filesystem-folder",
                    str(radicale_dir),
                    "--logging-level",
                    "warning",
                ],
                f"http://127.0.0.1:{radicale_port}/",
            )
        )
        check = requests.get(radicale_url, auth=("bench", "x"), headers=IDENTITY, timeout=120)
        assert check.status_code == 200 and check.content.count(b"BEGIN:VEVENT") == args.events, check.status_code

        etag = first.headers["ETag"]
        print(
            f"feed: {args.events} events, {len(first.content):,} bytes; machine: {platform.machine()}, "
            f"{os.cpu_count()} CPUs; {'PostgreSQL' if args.postgres else 'SQLite'}; {args.clients} clients, "
            f"{args.seconds:g} s of load per path in {args.rounds} interleaved rounds",
            flush=True,
        )
        results = measure(
            [
                Target("feed 200", feed_url, 200, IDENTITY),
                Target("feed 304", feed_url, 304, {**IDENTITY, "If-None-Match": etag}),
                Target("static file", static_url, 200, IDENTITY),
                Target("Radicale GET", radicale_url, 200, IDENTITY, auth=("bench", "x")),
            ],
            args,
        )
    cold, warm, size = render_cpu(args.render_events)
    page_line, page, _feed = run_page(args)
    by = {r.name: r for r in results}
    print(f"\n{'path':<14} {'median ms':>10} {'p95 ms':>8} {'req/s':>9} {'requests':>9} {'bytes':>11}")
    for r in results:
        print(f"{r.name:<14} {r.median_ms:>10.2f} {r.p95_ms:>8.2f} {r.rps:>9.1f} {r.requests:>9} {r.size:>11,}")
    print(f"\nrender {args.render_events:,} events ({size:,} bytes): {cold:.2f} s CPU cold, {warm:.3f} s CPU warm")
    print(page_line)
    checks = [
        ("304 / static", by["feed 304"].rps / by["static file"].rps, 0.5),
        ("200 / static", by["feed 200"].rps / by["static file"].rps, 0.2),
        ("200 / Radicale", by["feed 200"].rps / by["Radicale GET"].rps, 5.0),
        ("1 s / render cold", 1.0 / cold, 1.0),
        ("1 s / render warm", 1.0 / warm, 1.0),
        ("100 ms / page", 0.1 / page, 1.0),
    ]
    print()
    for label, ratio, target in checks:
        print(f"{label:<18} {ratio:>8.2f}x  target >= {target:g}x  {'ok' if ratio >= target else 'MISSED'}")
    if args.json:
        print(
            json.dumps(
                {
                    "results": [r.__dict__ for r in results],
                    "render_cold_s": cold,
                    "render_warm_s": warm,
                    "page_cpu_s": page,
                    "ratios": {label: ratio for label, ratio, _ in checks},
                }
            )
        )
    return 0 if all(ratio >= target for _, ratio, target in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
