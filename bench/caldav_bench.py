"""CalDAV benchmark: stock Radicale 3.9.0 (filesystem storage) against our server, side by side.

Both run on loopback as separate processes. The same realistic appointments (40 a week, as a
busy fitter has, so a bigger calendar covers more years; several time zones; 1 h each, with a
VALARM) are loaded: 1k and 10k into both, 100k into ours. Stock
Radicale is bulk-loaded with one whole-calendar PUT; ours is bulk-loaded straight into the
database (appointments + their DAV items, as if PUT one by one; see ``_load_ours``), because
one PUT per event would take hours on the stock side and minutes on ours.

Measured at each size (median of ``--repeat`` runs): PUT throughput (new events, sequential),
PROPFIND Depth:1, a one-week time-range REPORT with calendar-data, a calendar-multiget of 50,
an initial and an incremental sync-collection, GET of the whole calendar by 4 concurrent
clients; and our server's resident memory after the largest load. PROPFIND, multiget and the
initial sync also report the server process's CPU time per request (``/proc``: on a loaded machine
the wall time measures the neighbours too). Every answer's count is
checked, so speed never hides a wrong answer. Prints a table and the ratios of one run.

    .venv/bin/python bench/caldav_bench.py                 # 1k, 10k (both) and 100k (ours)
    .venv/bin/python bench/caldav_bench.py --sizes 1000,10000 --ours-only-sizes ''
    .venv/bin/python bench/caldav_bench.py --database-url postgresql+psycopg://...   # ours on PostgreSQL
    .venv/bin/python bench/caldav_bench.py --sizes 1000 --ours-only-sizes '' --repeat 1 --rss-syncs 2   # quick

At the largest size, ``--rss-syncs`` (10) back-to-back initial syncs follow, with our server's resident
memory read after each (the growth is printed).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import requests

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.servers import free_port  # noqa: E402

USER, PASSWORD = "bench.fitter", "bench-password-1"
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
ZONES = ("America/Denver", "America/New_York", "America/Chicago", "Europe/Berlin")
FUTURE = datetime(2095, 1, 1, 9, 0, tzinfo=UTC)  # PUT-throughput events, outside every query window


#: Appointments per week in the benchmark calendar (a busy fitter); the calendar grows in time.
PER_WEEK = 40
STEP = timedelta(days=7) / PER_WEEK


def event_start(i: int, n: int) -> datetime:
    """Event i: PER_WEEK a week from START, on a whole quarter hour (the same for every size)."""
    minutes = int(i * STEP.total_seconds() / 60) // 15 * 15
    return START + timedelta(minutes=minutes)


def week_of(n: int) -> tuple[datetime, datetime]:
    """The queried week: the one in the middle of a calendar of n events (a Monday, 00:00 UTC)."""
    middle = START + STEP * (n // 2)
    monday = datetime(middle.year, middle.month, middle.day, tzinfo=UTC) - timedelta(days=middle.weekday())
    return monday, monday + timedelta(days=7)


def vevent(uid: str, start: datetime, summary: str, zone: str) -> str:
    tz = ZoneInfo(zone)
    s, e = start.astimezone(tz), (start + timedelta(hours=1)).astimezone(tz)
    return (
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20251201T000000Z\r\n"
        f"DTSTART;TZID={zone}:{s:%Y%m%dT%H%M%S}\r\nDTEND;TZID={zone}:{e:%Y%m%dT%H%M%S}\r\n"
        f"SUMMARY:{summary}\r\nDESCRIPTION:Bring the audiogram and the spare batteries.\r\n"
        "STATUS:CONFIRMED\r\nX-APPOINTMENT-TYPE:FOLLOW_UP\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT30M\r\nEND:VALARM\r\n"
        "END:VEVENT\r\n"
    )


def vtimezones() -> str:
    from caldav_bridge.dav.render import vtimezone

    return "".join(vtimezone(z, START).to_ical().decode() for z in ZONES)


def calendar_text(events: str, tz: str = "") -> str:
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{tz}{events}END:VCALENDAR\r\n"


def expected_in_week(n: int) -> int:
    lo, hi = week_of(n)
    return sum(1 for i in range(n) if event_start(i, n) < hi and event_start(i, n) + timedelta(hours=1) > lo)


# ---------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    base: str
    collection: str  # path of the calendar, with trailing slash
    process: subprocess.Popen[bytes]
    session: requests.Session = field(default_factory=requests.Session)

    def url(self, href: str = "") -> str:
        return self.base + self.collection + href

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the server process has used so far."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            return float("nan")

    def rss_mb(self) -> float:
        try:
            with open(f"/proc/{self.process.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")


def _wait(base: str, auth: tuple[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.request("PROPFIND", base + "/", auth=auth, headers={"Depth": "0"}, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise RuntimeError(f"{base} did not start")


@contextmanager
def stock_radicale(folder: Path) -> Iterator[Server]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "radicale",
        "--config",
        "",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(folder),
        "--auth-type",
        "none",
        "--rights-type",
        "owner_only",
        "--logging-level",
        "warning",
        "--server-max-content-length",
        "200000000",
    ]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("stock", f"http://127.0.0.1:{port}", f"/{USER}/cal/", process)
    server.session.auth = (USER, PASSWORD)
    try:
        _wait(server.base, (USER, PASSWORD))
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


@contextmanager
def our_server(database_url: str, data_dir: Path) -> Iterator[Server]:
    port = free_port()
    env = {
        **os.environ,
        "APPOINTMENTS_DATABASE_URL": database_url,
        "APPOINTMENTS_DATA_DIR": str(data_dir),
        "APPOINTMENTS_LOG_LEVEL": "WARNING",
        "APPOINTMENTS_MAX_BODY_BYTES": str(20_000_000),
    }
    cmd = [sys.executable, "-m", "feeds.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "8"]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Server("ours", f"http://127.0.0.1:{port}", f"/dav/{USER}/appointments/", process)
    server.session.auth = (USER, PASSWORD)
    try:
        _wait(server.base + "/dav", (USER, PASSWORD))
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


# ---------------------------------------------------------------------------- loading


def load_stock(server: Server, n: int) -> None:
    """Whole-calendar PUT: one request replaces the calendar with n events (Radicale splits it)."""
    events = "".join(
        vevent(f"bench-{i}@example.com", event_start(i, n), f"Fitting #{i}", ZONES[i % len(ZONES)]) for i in range(n)
    )
    body = calendar_text(events, vtimezones())
    r = server.session.put(server.url(), data=body.encode(), headers={"Content-Type": "text/calendar"}, timeout=3600)
    assert r.status_code in (201, 204), (r.status_code, r.text[:300])


def prepare_ours(database_url: str) -> None:
    from caldav_bridge.runtime import Runtime
    from caldav_bridge.services import users
    from caldav_bridge.store.migrate import upgrade
    from config import load_settings

    rt = Runtime.from_settings(load_settings(environ={}, database_url=database_url))
    upgrade(rt.engine)
    users.add_user(rt.uow(), USER, "fitter", password=PASSWORD, timezone="America/Denver")
    rt.close()


def load_ours(database_url: str, n: int) -> None:
    """Bulk-insert events 0..n-1 as appointments + DAV items, as if each had been PUT.

    The rows are what a PUT of the same text writes (the appointment, the DAV item with the
    client's text and its time range, a change-log row); the outbox, history and audit rows a
    PUT also writes are left out of the bulk load.
    """
    from sqlalchemy import select, update

    from caldav_bridge.dav.render import etag_of_text, vtimezone
    from caldav_bridge.runtime import Runtime
    from caldav_bridge.store.dav_tables import DavCollectionRow
    from config import load_settings

    rt = Runtime.from_settings(load_settings(environ={}, database_url=database_url))
    tz_cache: dict[str, str] = {}
    now = datetime.now(UTC)
    with rt.engine.begin() as conn:
        coll = conn.execute(select(DavCollectionRow).where(DavCollectionRow.path == f"{USER}/appointments")).one()
        revision = coll.revision
        batch_a: list[dict] = []
        batch_i: list[dict] = []
        batch_c: list[dict] = []
        for i in range(n):
            zone = ZONES[i % len(ZONES)]
            if zone not in tz_cache:
                tz_cache[zone] = vtimezone(zone, START).to_ical().decode()
            uid, start = f"bench-{i}@example.com", event_start(i, n)
            text = calendar_text(vevent(uid, start, f"Fitting #{i}", zone), tz_cache[zone])
            aid = str(uuid.uuid4())
            revision += 1
            batch_a.append(
                dict(
                    id=aid,
                    calendar_id=coll.calendar_id,
                    name=f"Fitting #{i}",
                    description="Bring the audiogram and the spare batteries.",
                    type="FOLLOW_UP",
                    status="BOOKED",
                    date_start=start,
                    date_end=start + timedelta(hours=1),
                    meta_extra={"timezone": zone},
                    created_at=now,
                    updated_at=now,
                    version=1,
                    sequence=0,
                )
            )
            batch_i.append(
                dict(
                    collection_id=coll.id,
                    href=f"{uid}.ics",
                    uid=uid,
                    component="VEVENT",
                    text=text,
                    etag=etag_of_text(text),
                    time_start=int(start.timestamp()),
                    time_end=int((start + timedelta(hours=1)).timestamp()),
                    long_span=False,
                    appointment_id=aid,
                    updated_at=now,
                )
            )
            batch_c.append(dict(collection_id=coll.id, revision=revision, href=f"{uid}.ics", deleted=False, at=now))
            if len(batch_a) >= 5000:
                _flush(conn, batch_a, batch_i, batch_c)
        _flush(conn, batch_a, batch_i, batch_c)
        conn.execute(
            update(DavCollectionRow).where(DavCollectionRow.id == coll.id).values(revision=revision, updated_at=now)
        )
    rt.close()


def _flush(conn: Connection, a: list[dict], i: list[dict], c: list[dict]) -> None:
    from sqlalchemy import insert

    from caldav_bridge.store.dav_tables import DavChangeRow, DavItemRow
    from caldav_bridge.store.tables import AppointmentRow

    if a:
        conn.execute(insert(AppointmentRow), a)
        conn.execute(insert(DavItemRow), i)
        conn.execute(insert(DavChangeRow), c)
    for batch in (a, i, c):
        batch.clear()


# ---------------------------------------------------------------------------- measurements

PROPFIND = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:getcontenttype/></D:prop></D:propfind>'
)
REPORT_RANGE = (
    '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
    '<C:comp-filter name="VEVENT"><C:time-range start="{s}" end="{e}"/></C:comp-filter></C:comp-filter>'
    "</C:filter></C:calendar-query>"
)
MULTIGET = (
    '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
    "<D:prop><D:getetag/><C:calendar-data/></D:prop>{hrefs}</C:calendar-multiget>"
)
SYNC = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{token}</D:sync-token>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


#: Seconds the client spent counting the answer (parsing is the client's time, not the server's): subtracted.
_CLIENT = [0.0]


def _count(pattern: str, text: str | bytes) -> int:
    t = time.perf_counter()
    found = len(re.findall(pattern.encode(), text) if isinstance(text, bytes) else re.findall(pattern, text))
    _CLIENT[0] += time.perf_counter() - t
    return found


def _responses(text: str | bytes) -> int:
    return _count(r"<(?:\w+:)?response>", text)


#: Wrong answers seen (server, size, metric, expected, got): printed, never hidden by a time.
MISMATCHES: list[str] = []
_CONTEXT: list[str] = [""]


def timed(fn: Callable[[], int], repeat: int, expect: int | None) -> float:
    times = []
    for _ in range(repeat):
        _CLIENT[0] = 0.0
        t = time.perf_counter()
        got = fn()
        times.append(time.perf_counter() - t - _CLIENT[0])
        if expect is not None and got != expect:
            MISMATCHES.append(f"{_CONTEXT[0]}: expected {expect} results, got {got}")
            print("COUNT MISMATCH", MISMATCHES[-1], flush=True)
    return statistics.median(times)


def measure(server: Server, n: int, repeat: int, puts: int) -> dict[str, float]:
    _CONTEXT[0] = f"{server.name} {n}"
    s = server.session
    out: dict[str, float] = {}
    week = expected_in_week(n)

    def propfind() -> int:
        r = s.request("PROPFIND", server.url(), data=PROPFIND, headers={"Depth": "1"}, timeout=600)
        assert r.status_code == 207, (r.status_code, r.text[:500])
        return _responses(r.content) - 1

    cpu = server.cpu_s()
    out["propfind_depth1_s"] = timed(propfind, repeat, n)
    out["propfind_depth1_cpu_s"] = (server.cpu_s() - cpu) / repeat

    def report() -> int:
        lo, hi = week_of(n)
        body = REPORT_RANGE.format(s=f"{lo:%Y%m%dT%H%M%SZ}", e=f"{hi:%Y%m%dT%H%M%SZ}")
        r = s.request("REPORT", server.url(), data=body, headers={"Depth": "1"}, timeout=600)
        assert r.status_code == 207, r.status_code
        return _responses(r.text)

    out["week_report_s"] = timed(report, repeat, week)
    out["rss_after_load_mb"] = server.rss_mb()
    step = max(1, n // 50)
    hrefs = "".join(f"<D:href>{server.collection}bench-{i}@example.com.ics</D:href>" for i in range(0, step * 50, step))

    def multiget() -> int:
        r = s.request("REPORT", server.url(), data=MULTIGET.format(hrefs=hrefs), headers={"Depth": "1"}, timeout=600)
        assert r.status_code == 207, r.status_code
        return _count(r"BEGIN:VEVENT", r.content)

    cpu = server.cpu_s()
    out["multiget50_s"] = timed(multiget, repeat, 50)
    out["multiget50_cpu_s"] = (server.cpu_s() - cpu) / repeat
    token_box: list[str] = []

    def initial_sync() -> int:
        r = s.request("REPORT", server.url(), data=SYNC.format(token=""), headers={"Depth": "1"}, timeout=600)
        assert r.status_code == 207, r.status_code
        t = time.perf_counter()
        ends = (r.content[:2000] + b" " + r.content[-2000:]).decode(errors="replace")
        token_box[:] = re.findall(r"<(?:\w+:)?sync-token>([^<]+)<", ends)[-1:]
        _CLIENT[0] += time.perf_counter() - t
        return _responses(r.content)

    cpu = server.cpu_s()
    out["sync_initial_s"] = timed(initial_sync, repeat, n)
    out["sync_initial_cpu_s"] = (server.cpu_s() - cpu) / repeat
    # one change, then incremental sync
    uid, text = (
        f"bench-put-0-{n}@example.com",
        calendar_text(vevent(f"bench-put-0-{n}@example.com", FUTURE, "Put", "UTC")),
    )
    r = s.put(server.url(f"{uid}.ics"), data=text, headers={"Content-Type": "text/calendar"}, timeout=600)
    assert r.status_code == 201, (r.status_code, r.text[:200])
    token = token_box[0]

    def incremental_sync() -> int:
        r = s.request("REPORT", server.url(), data=SYNC.format(token=token), headers={"Depth": "1"}, timeout=600)
        assert r.status_code == 207, (r.status_code, r.text[:300])
        return _responses(r.text)

    out["sync_incremental_s"] = timed(incremental_sync, repeat, 1)

    def get_all_concurrent() -> int:
        def one(_: int) -> int:
            r = requests.get(server.url(), auth=(USER, PASSWORD), timeout=600)
            assert r.status_code == 200, r.status_code
            return r.text.count("BEGIN:VEVENT")

        with ThreadPoolExecutor(4) as pool:
            counts = list(pool.map(one, range(4)))
        assert all(c == counts[0] for c in counts), counts
        return counts[0]

    if n <= 20000:  # 4 x a 100k-event calendar (~120 MB each) measures the client, not the server
        out["get_all_4clients_s"] = timed(get_all_concurrent, 1, n + 1)
    # PUT throughput: new events, one after the other
    t = time.perf_counter()
    for k in range(1, puts + 1):
        uid = f"bench-put-{k}-{n}@example.com"
        text = calendar_text(vevent(uid, FUTURE + timedelta(hours=k), "Put", "UTC"))
        r = s.put(server.url(f"{uid}.ics"), data=text, headers={"Content-Type": "text/calendar"}, timeout=600)
        assert r.status_code == 201, (r.status_code, r.text[:200])
    out["put_per_s"] = puts / (time.perf_counter() - t)
    # remove the PUT events again so that the next size starts from exactly its own events
    for k in range(0, puts + 1):
        s.delete(server.url(f"bench-put-{k}-{n}@example.com.ics"), timeout=600)
    return out


# ---------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="sizes loaded into both servers")
    parser.add_argument("--ours-only-sizes", default="100000", help="further sizes for our server only")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="", help="ours on this database (default: a fresh SQLite file)")
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument(
        "--rss-syncs", type=int, default=10, help="back-to-back initial syncs at the largest size, RSS read after each"
    )
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",") if x]
    ours_only = [int(x) for x in args.ours_only_sizes.split(",") if x]
    work = Path(tempfile.mkdtemp(prefix="caldav-bench-"))
    results: dict[tuple[str, int], dict[str, float]] = {}
    rss_curve: list[float] = []
    try:
        if not args.skip_stock:
            with stock_radicale(work / "radicale") as stock:
                stock.session.request("MKCALENDAR", stock.url(), timeout=60)
                for n in sizes:
                    t = time.perf_counter()
                    load_stock(stock, n)
                    print(f"stock: loaded {n} in {time.perf_counter() - t:.1f}s", flush=True)
                    puts = 40 if n <= 1000 else 10
                    results[("stock", n)] = measure(stock, n, args.repeat, puts)
                    print(f"stock {n}: {results[('stock', n)]}", flush=True)
        url = args.database_url or f"sqlite:///{work / 'ours.db'}"
        prepare_ours(url)
        loaded = 0
        for n in sorted(set(sizes + ours_only)):
            t = time.perf_counter()
            _reload_ours(url, loaded, n)
            loaded = n
            print(f"ours: loaded {n} in {time.perf_counter() - t:.1f}s", flush=True)
            with our_server(url, work / "data") as ours:
                results[("ours", n)] = measure(ours, n, args.repeat, 200)
                results[("ours", n)]["rss_end_mb"] = ours.rss_mb()
                if n == max(sizes + ours_only) and args.rss_syncs:
                    rss_curve = rss_over_syncs(ours, n, args.rss_syncs)
            print(f"ours {n}: {results[('ours', n)]}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print(results, sizes, ours_only)
    if rss_curve:
        print(
            f"\nRSS over {len(rss_curve) - 1} back-to-back initial syncs of {max(sizes + ours_only)} items: "
            + " -> ".join(f"{v:.0f}" for v in rss_curve)
            + f" MB; grew {rss_curve[-1] - rss_curve[0]:.0f} MB"
            + f" (peak {max(rss_curve) - rss_curve[0]:.0f} MB over the start)"
        )
    for line in MISMATCHES:
        print("WRONG ANSWER:", line)
    return 1 if MISMATCHES else 0


def rss_over_syncs(server: Server, n: int, count: int) -> list[float]:
    """Our server's resident memory (MB) before and after each of ``count`` back-to-back initial syncs."""
    rss = [server.rss_mb()]
    for _ in range(count):
        r = server.session.request(
            "REPORT", server.url(), data=SYNC.format(token=""), headers={"Depth": "1"}, timeout=600
        )
        assert r.status_code == 207, r.status_code
        if _responses(r.content) != n:
            MISMATCHES.append(f"ours {n}: a back-to-back sync did not list {n} items")
        rss.append(server.rss_mb())
    return rss


def _reload_ours(url: str, loaded: int, n: int) -> None:
    """Make the calendar hold exactly events 0..n-1 spread for n: drop the old ones, load afresh."""
    from sqlalchemy import delete, select

    from caldav_bridge.runtime import Runtime
    from caldav_bridge.store.dav_tables import DavChangeRow, DavCollectionRow, DavItemRow
    from caldav_bridge.store.tables import AppointmentRow
    from config import load_settings

    if loaded:
        rt = Runtime.from_settings(load_settings(environ={}, database_url=url))
        with rt.engine.begin() as conn:
            coll = conn.execute(select(DavCollectionRow).where(DavCollectionRow.path == f"{USER}/appointments")).one()
            conn.execute(delete(DavItemRow).where(DavItemRow.collection_id == coll.id))
            conn.execute(delete(DavChangeRow).where(DavChangeRow.collection_id == coll.id))
            conn.execute(delete(AppointmentRow).where(AppointmentRow.calendar_id == coll.calendar_id))
        rt.close()
    load_ours(url, n)


def _print(results: dict[tuple[str, int], dict[str, float]], sizes: list[int], ours_only: list[int]) -> None:
    metrics = [
        "put_per_s",
        "propfind_depth1_s",
        "propfind_depth1_cpu_s",
        "week_report_s",
        "multiget50_s",
        "multiget50_cpu_s",
        "sync_initial_s",
        "sync_initial_cpu_s",
        "sync_incremental_s",
        "get_all_4clients_s",
    ]
    print("\n| metric | " + " | ".join(f"{who} {n}" for (who, n) in results) + " |")
    print("|---|" + "---|" * len(results))
    for m in [*metrics, "rss_after_load_mb", "rss_end_mb"]:
        row = []
        for key in results:
            v = results[key].get(m)
            row.append(
                ""
                if v is None
                else (f"{v:.1f}" if m in ("put_per_s", "rss_after_load_mb", "rss_end_mb") else f"{v * 1000:.0f} ms")
            )
        print(f"| {m} | " + " | ".join(row) + " |")
    print("\nratios (one run):")
    for n in sizes:
        st, ou = results.get(("stock", n)), results.get(("ours", n))
        if st and ou:
            print(
                f"  {n}: week REPORT stock/ours = {st['week_report_s'] / ou['week_report_s']:.1f}x, "
                f"PUT/s ours/stock = {ou['put_per_s'] / st['put_per_s']:.1f}x, "
                f"PROPFIND stock/ours = {st['propfind_depth1_s'] / ou['propfind_depth1_s']:.1f}x, "
                f"initial sync stock/ours = {st['sync_initial_s'] / ou['sync_initial_s']:.1f}x, "
                f"multiget of 50 stock/ours = {st['multiget50_s'] / ou['multiget50_s']:.1f}x"
            )
    small, big = min(sizes + ours_only), max(sizes + ours_only)
    a, b = results.get(("ours", small)), results.get(("ours", big))
    if a and b:
        print(
            f"  ours {big} vs {small}: week REPORT {b['week_report_s'] / a['week_report_s']:.2f}x, "
            f"PUT/s {b['put_per_s'] / a['put_per_s']:.2f}x, "
            f"RSS after the {big} load: {b.get('rss_after_load_mb', float('nan')):.0f} MB, "
            f"after every measurement: {b.get('rss_end_mb', float('nan')):.0f} MB"
        )


if __name__ == "__main__":
    raise SystemExit(main())
