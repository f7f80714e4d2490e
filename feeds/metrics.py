"""``/metrics``: the service's state in Prometheus' text format (prometheus_client).

What is measured:

* HTTP requests by route (the URL rule, e.g. ``/api/v1/appointments/<id>``, never the raw path), method
  and status, with a latency histogram by route and method;
* CalDAV requests (``/dav/``) by method and status, with a latency histogram by method;
* feed and calendar-page fetches by status (the share of 304s is ``…{status="304"}`` over all);
* outbox depth and the age of the oldest waiting entry per consumer (Salesforce, webhooks, messages:
  ``caldav_bridge.jobs.backlog.OUTBOX_CONSUMERS``), read from the database at each scrape;
* each background job's last successful run (by whichever process ran it) and the seconds since;
* the reads' audit the fold has yet to take into ``audit_log`` (an SQLite file database stages it in spool
  files: ``caldav_bridge/store/read_spool.py``): the bytes staged and the age of the oldest read among them (both
  0 when nothing waits, and on PostgreSQL, which keeps each read's row as it is);
* the database connection pool: size and connections in use.

Label values are route templates, HTTP methods and statuses, job ids and consumer names: never an id,
a token or anything about a patient (tests/e2e/test_metrics.py checks it).

Access (docs/operations.md): an API token with the ``admin`` scope, unless ``APPOINTMENTS_METRICS_PUBLIC``
is true (then anyone who reaches the service may read these counts, which carry no patient data).
Every app has its own registry: nothing here is a process global.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from caldav_bridge.clock import utcnow
from caldav_bridge.jobs.backlog import OUTBOX_CONSUMERS, OutboxConsumer, job_last_success, outbox_backlogs
from caldav_bridge.runtime import Runtime
from feeds.auth import current_actor

__all__ = ["PATH", "Metrics", "init_app"]

PATH = "/metrics"
log = logging.getLogger(__name__)
#: Methods counted by name; anything else is ``OTHER`` (a client cannot grow the label set).
METHODS = frozenset(
    {
        "GET",
        "HEAD",
        "POST",
        "PUT",
        "PATCH",
        "DELETE",
        "OPTIONS",
        "PROPFIND",
        "PROPPATCH",
        "REPORT",
        "MKCALENDAR",
        "MKCOL",
        "MOVE",
        "COPY",
        "LOCK",
        "UNLOCK",
    }
)
#: The endpoints that are feed fetches (``kind`` label): the iCal feed and the calendar page.
FEED_ENDPOINTS = {"ical_feed.feed": "feed", "calendar_page.calendar": "page", "calendar_page.calendar_json": "page"}
UNMATCHED = "(unmatched)"
DAV_PREFIX = "/dav"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _method(name: str) -> str:
    return name if name in METHODS else "OTHER"


class Metrics:
    """One app's metrics: its registry, the request counters and the database-backed collector."""

    def __init__(self, rt: Runtime, consumers: Sequence[OutboxConsumer] = OUTBOX_CONSUMERS) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "appointments_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "appointments_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            registry=self.registry,
        )
        self.caldav = Counter(
            "appointments_caldav_requests",
            "CalDAV requests by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        self.caldav_latency = Histogram(
            "appointments_caldav_request_duration_seconds",
            "CalDAV request latency by method",
            ["method"],
            registry=self.registry,
        )
        self.feed_fetches = Counter(
            "appointments_feed_fetches",
            "Feed (kind=feed) and calendar page (kind=page) fetches by status; 304: the client's copy was current",
            ["kind", "status"],
            registry=self.registry,
        )
        self.registry.register(StateCollector(rt, consumers))

    def observe(self, route: str, method: str, status: int, seconds: float, endpoint: str | None) -> None:
        method = _method(method)
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)
        kind = FEED_ENDPOINTS.get(endpoint or "")
        if kind:
            self.feed_fetches.labels(kind, str(status)).inc()

    def observe_caldav(self, method: str, status: int, seconds: float) -> None:
        method = _method(method)
        self.caldav.labels(method, str(status)).inc()
        self.caldav_latency.labels(method).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Gauges read at scrape time: outbox backlogs, jobs' last good runs, the connection pool."""

    def __init__(self, rt: Runtime, consumers: Sequence[OutboxConsumer]) -> None:
        self.rt = rt
        self.consumers = tuple(consumers)

    def describe(self) -> list[Metric]:
        return []  # read from the database at each scrape: nothing to describe at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._pool()
        try:
            yield from self._database()
        except SQLAlchemyError:
            log.warning("metrics: the database could not be read; outbox and job gauges left out", exc_info=True)

    def _database(self) -> Iterator[Metric]:
        now = utcnow()
        with self.rt.uow() as uow:
            backlogs = outbox_backlogs(uow, self.consumers, now)
            last = job_last_success(uow)
            staged = uow.audit.staged_backlog()
        depth = GaugeMetricFamily("appointments_outbox_depth", "Entries waiting to be delivered", labels=["consumer"])
        age = GaugeMetricFamily(
            "appointments_outbox_oldest_age_seconds", "Age of the oldest waiting entry (0: none)", labels=["consumer"]
        )
        for backlog in backlogs:
            depth.add_metric([backlog.consumer], backlog.depth)
            age.add_metric([backlog.consumer], backlog.oldest_age_seconds)
        success = GaugeMetricFamily(
            "appointments_job_last_success_timestamp_seconds", "When each job last ran to success", labels=["job"]
        )
        lag = GaugeMetricFamily("appointments_job_lag_seconds", "Seconds since each job last succeeded", labels=["job"])
        for job, finished in sorted(last.items()):
            finished = finished if finished.tzinfo else finished.replace(tzinfo=now.tzinfo)
            success.add_metric([job], finished.timestamp())
            lag.add_metric([job], max((now - finished).total_seconds(), 0.0))
        unfolded = GaugeMetricFamily(
            "appointments_audit_reads_unfolded_bytes", "Reads' audit staged and not yet folded into audit_log (bytes)"
        )
        unfolded.add_metric([], staged.bytes)
        unfolded_age = GaugeMetricFamily(
            "appointments_audit_reads_unfolded_oldest_age_seconds",
            "Age of the oldest read whose audit is not yet folded into audit_log (0: none)",
        )
        unfolded_age.add_metric([], max((now - staged.oldest).total_seconds(), 0.0) if staged.oldest else 0.0)
        yield from (depth, age, success, lag, unfolded, unfolded_age)

    def _pool(self) -> Iterator[Metric]:
        pool = self.rt.engine.pool
        size = GaugeMetricFamily("appointments_db_pool_size", "Connections the pool keeps (its size)")
        size.add_metric([], _number(pool, "size"))
        used = GaugeMetricFamily("appointments_db_pool_checked_out", "Connections in use")
        used.add_metric([], _number(pool, "checkedout"))
        overflow = GaugeMetricFamily("appointments_db_pool_overflow", "Connections beyond the pool's size")
        overflow.add_metric([], _number(pool, "overflow"))
        yield from (size, used, overflow)


def _number(pool: Any, name: str) -> float:
    """A pool statistic; pools without it (SQLite's) report 0."""
    method = getattr(pool, name, None)
    try:
        return float(method()) if callable(method) else 0.0
    except (TypeError, ValueError):
        return 0.0


class CalDavTimer:
    """WSGI middleware: times the CalDAV requests (``/dav/``) that go past Flask's request hooks."""

    def __init__(self, app: WSGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or ""
        if not (path == DAV_PREFIX or path.startswith(DAV_PREFIX + "/")):
            return self.app(environ, start_response)
        started = time.perf_counter()
        status = [500]

        def recording(code: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status[0] = int(code.split(" ", 1)[0])
            return start_response(code, headers, *rest)

        try:
            return self.app(environ, recording)
        finally:
            self.metrics.observe_caldav(environ.get("REQUEST_METHOD", "GET"), status[0], time.perf_counter() - started)


def init_app(app: Flask, rt: Runtime, consumers: Sequence[OutboxConsumer] = OUTBOX_CONSUMERS) -> Metrics:
    """Count ``app``'s requests and serve ``/metrics``; call after CalDAV is mounted."""
    metrics = Metrics(rt, consumers)
    app.extensions["metrics"] = metrics

    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule
            metrics.observe(
                rule.rule if rule is not None else UNMATCHED,
                request.method,
                response.status_code,
                time.perf_counter() - started,
                request.endpoint,
            )
        return response

    @app.get(PATH)
    def prometheus_metrics() -> Response:
        if not rt.settings.metrics_public:
            current_actor("api").require("admin")
        return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

    app.wsgi_app = CalDavTimer(app.wsgi_app, metrics)  # type: ignore[method-assign]
    return metrics
