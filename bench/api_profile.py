#!/usr/bin/env python3
"""Where one API read spends its CPU: the list of 50 and the single read, in process, without HTTP.

Seeds the same data as ``bench/load_bench.py`` (a fitter's 200 appointments, a dispatcher's read token), builds
the service's WSGI app (``feeds.create_app``: every middleware, the access log, the metrics) and calls it directly
with a prepared WSGI environ, ``--requests`` times per request kind. Prints, per request: CPU (process time),
Python function calls (cProfile), SQL statements sent to the database (by kind), and with ``--top N`` the
functions with the most cumulative time. Load does not change the call and statement counts, so they compare
across runs on a shared machine where the milliseconds do not.

    .venv/bin/python bench/api_profile.py                 # SQLite in a temporary directory
    .venv/bin/python bench/api_profile.py --postgres      # a throwaway PostgreSQL
    .venv/bin/python bench/api_profile.py --top 40 --only list
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, event  # noqa: E402

from bench.load_bench import seed  # noqa: E402
from caldav_bridge.runtime import Runtime  # noqa: E402
from config import load_settings  # noqa: E402
from feeds.app import create_app  # noqa: E402

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def environ(path: str, query: str, token: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8080",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_ACCEPT": "*/*",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def call(app: WsgiApp, env: dict[str, Any]) -> bytes:
    status: list[str] = []

    def start_response(s: str, _headers: Any, _exc: Any = None) -> Callable[[bytes], None]:
        status.append(s)
        return lambda _b: None

    result = app(dict(env), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    if not status or not status[0].startswith("200"):
        raise SystemExit(f"{env['PATH_INFO']}: {status} {body[:300]!r}")
    return body


@contextmanager
def counting(engine: Engine) -> Iterator[Counter[str]]:
    """Statements by kind: the engine's, and on SQLite also those sent on a driver connection past the engine
    (``caldav_bridge/store/driver.py``), counted as ``(driver) KIND``."""
    counts: Counter[str] = Counter()
    engine_sending = threading.local()
    engine.dispose()  # closes the driver's connections too (made again, and traced, from now on); a new pool

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        engine_sending.on = True
        counts[statement.split(None, 1)[0].upper() + (" (many)" if _many else "")] += 1

    def after(*_args: Any) -> None:
        engine_sending.on = False

    def begin(_conn: Any) -> None:
        counts["(begin)"] += 1

    def commit(_conn: Any) -> None:
        counts["(commit)"] += 1

    def rollback(_conn: Any) -> None:
        counts["(rollback)"] += 1

    def driver_statement(statement: str) -> None:
        if not getattr(engine_sending, "on", False):
            counts["(driver) " + statement.split(None, 1)[0].upper()] += 1

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.set_trace_callback(driver_statement)

    hooks: list[tuple[Any, str, Any]] = [
        (engine, "before_cursor_execute", before),
        (engine, "after_cursor_execute", after),
        (engine, "begin", begin),
        (engine, "commit", commit),
        (engine, "rollback", rollback),
    ]
    if engine.dialect.name == "sqlite":
        hooks.append((engine.pool, "checkout", checkout))
    for target, name, hook in hooks:
        event.listen(target, name, hook)
    try:
        yield counts
    finally:
        for target, name, hook in hooks:
            event.remove(target, name, hook)
        engine.dispose()  # the pooled connections drop their trace callbacks with them


def measure(label: str, app: WsgiApp, engine: Engine, env: dict[str, Any], n: int, top: int) -> None:
    for _ in range(20):  # warm caches: compiled statements, the token cache, the pool
        call(app, env)
    start = time.process_time()
    for _ in range(n):
        call(app, env)
    cpu_ms = (time.process_time() - start) * 1000 / n
    with counting(engine) as statements:
        profile = cProfile.Profile(time.process_time)  # CPU, not wall time (waits for locks or disks excluded)
        profile.enable()
        for _ in range(n):
            call(app, env)
        profile.disable()
    stats = pstats.Stats(profile)
    calls = stats.total_calls  # type: ignore[attr-defined]
    sql = ", ".join(f"{k} {v / n:g}" for k, v in sorted(statements.items()))
    print(f"{label:12} {cpu_ms:6.3f} ms CPU/request   {calls / n:8.0f} calls/request   SQL/request: {sql}")
    if top:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL (default SQLite)")
    parser.add_argument("--requests", type=int, default=300, help="requests measured per kind (default 300)")
    parser.add_argument("--top", type=int, default=0, help="print the N functions with the most time")
    parser.add_argument("--only", choices=["list", "single"], help="only one kind of request")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-profile-") as name, ExitStack() as stack:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'bench.db'}"
        if args.postgres:
            from tests.support.postgres import PostgresServer

            url = stack.enter_context(PostgresServer()).create_database("api_profile")
        seeded = seed(url, tmp / "data", 200)
        settings = load_settings(
            environ={"APPOINTMENTS_LOG_LEVEL": "WARNING"}, database_url=url, data_dir=str(tmp / "data")
        )
        rt = Runtime.from_settings(settings)
        stack.callback(rt.close)
        app = create_app(rt=rt)
        wsgi = app.wsgi_app  # the whole middleware stack, as a server calls it
        kinds = {
            "list": environ("/api/v1/appointments", "limit=50", seeded["token"]),
            "single": environ(f"/api/v1/appointments/{seeded['appointment']}", "", seeded["token"]),
        }
        for kind, env in kinds.items():
            if args.only in (None, kind):
                measure(kind, wsgi, rt.engine, env, args.requests, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
