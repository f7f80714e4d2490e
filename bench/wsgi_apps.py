"""WSGI apps for ``bench/load_bench.py``, built by a WSGI server in each of its worker processes.

``ours()``: the service's Flask app from the ``APPOINTMENTS_*`` environment (what ``serve`` builds in a worker),
for servers that ``serve`` does not start itself (granian). ``minimal()``: the peer, a minimal Flask app that
answers the same paths with the same bytes, read from ``LOAD_BENCH_BYTES`` (a directory the benchmark
fills from the service's own answers): ``/api/v1/appointments`` (the list), ``/api/v1/appointments/one``
and ``/feeds/feed.ics`` (200, or 304 when ``If-None-Match`` names the file's ETag).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

__all__ = ["minimal", "ours"]


def ours() -> Any:
    from caldav_bridge.runtime import Runtime
    from config import load_settings
    from feeds.app import create_app

    return create_app(rt=Runtime.from_settings(load_settings()))


def minimal() -> Flask:
    folder = Path(os.environ["LOAD_BENCH_BYTES"])
    listed = (folder / "list.json").read_bytes()
    one = (folder / "one.json").read_bytes()
    feed = (folder / "feed.ics").read_bytes()
    etag = (folder / "feed.etag").read_text().strip()
    app = Flask(__name__)

    @app.get("/api/v1/appointments")
    def list_page() -> Response:
        return Response(listed, content_type="application/json")

    @app.get("/api/v1/appointments/one")
    def single() -> Response:
        return Response(one, content_type="application/json")

    @app.get("/feeds/feed.ics")
    def feed_file() -> Response:
        if request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(feed, content_type="text/calendar; charset=utf-8", headers={"ETag": etag})

    return app
