"""``serve --workers N`` (N > 1): gunicorn's arbiter forks N worker processes that serve the Flask app.

Why gunicorn (``bench/README.md``, "Serving with several processes"): granian, the other server measured,
answered the cheapest requests (a feed's 304) faster, but the API, where the app's own work dominates,
the same; gunicorn is pure Python and has what an operator expects of a pre-fork server: a dead or hung
worker is replaced, SIGTERM stops every worker gracefully, SIGHUP reloads, and its hooks let each worker
build its runtime after the fork and stop its scheduler at exit.

Fork safety: the master migrates (and seeds the demo), then releases its database connections and
starts no thread. Each worker builds its own :class:`~caldav_bridge.runtime.Runtime` (engine, pool),
app and background-job scheduler after the fork; the jobs' tick claims in the database
(``jobs/ticks.py``) let exactly one process run each tick, however many workers schedule it. When a
worker stops, it writes the feed fetches it still holds and stops its scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gunicorn.app.base import BaseApplication

from feeds.cli import cpu_affinity

__all__ = ["Worker", "run_workers"]

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """What one worker process built: its app and what to stop when it exits."""

    app: Any
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        for stop in self.stops:
            try:
                stop()
            except Exception:  # one failing stop must not keep the others from running
                log.exception("stopping the worker")


class _Arbiter(BaseApplication):
    def __init__(self, build: Callable[[], Worker], options: dict[str, Any]) -> None:
        self._build = build
        self._options = options
        self._worker: Worker | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("worker_exit", self._on_worker_exit)

    def load(self) -> Any:
        """In the worker, after the fork: its runtime, app and scheduler."""
        self._worker = self._build()
        return self._worker.app

    def _on_worker_exit(self, _server: Any, _worker: Any) -> None:
        if self._worker is not None:
            self._worker.stop()


def run_workers(
    build: Callable[[], Worker], *, host: str, port: int, workers: int, threads: int, bind_cpus: bool = True
) -> None:
    """Serve with ``workers`` processes of ``threads`` threads each until SIGTERM or SIGINT (returns then); with
    ``bind_cpus`` each worker bound to a CPU of its own (``feeds/cli/cpu_affinity.py``)."""
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "proc_name": "appointment-service",
        "graceful_timeout": 10,
        "timeout": 120,
        "keepalive": 5,
        # Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new connections over
        # them. On the master's one socket, whichever gthread worker woke first accepted every connection waiting,
        # and keep-alive clients stayed there: under 8 connections one worker ran at 79 % of its CPU, the other at
        # 2 %, so two workers served no more than one (bench/README.md, eleventh session).
        "reuse_port": True,
        "preload_app": False,
        "accesslog": None,  # the app logs each request itself (feeds/access_log.py)
        "errorlog": "-",
        "loglevel": "warning",
        "forwarded_allow_ips": "127.0.0.1",
    }
    if bind_cpus:
        options.update(pre_fork=cpu_affinity.pre_fork, post_fork=cpu_affinity.post_fork)
    _Arbiter(build, options).run()
