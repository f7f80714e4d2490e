"""A real HTTP server (waitress, on a loopback port) around the app, and a small client for it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask
from waitress.server import create_server

from caldav_bridge.runtime import Runtime
from feeds.app import create_app
from feeds.feed_state import close_app

__all__ = ["Api", "LiveServer", "loopback", "loopback_session", "serve"]


@dataclass
class LiveServer:
    base_url: str
    runtime: Runtime
    app: Flask | None = None

    def client(self, token: str | None = None) -> Api:
        return Api(self.base_url, token)


def loopback_session() -> requests.Session:
    """A ``requests`` session for servers on loopback: it takes no proxy, netrc or CA bundle from the environment.
    With ``trust_env`` (requests' default) every request scans the whole environment for proxy variables, twice:
    ~0.4 ms of CPU a request here (about 1 % of an HTTP-heavy test module's CPU)."""
    session = requests.Session()
    session.trust_env = False
    return session


def loopback(method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request on a connection of its own (as ``requests.request``), from a :func:`loopback_session`."""
    with loopback_session() as session:
        return session.request(method, url, **kwargs)


class Api:
    """``requests`` against the live server, with an optional bearer token."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.session = loopback_session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.base_url + path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@contextmanager
def serve(runtime: Runtime, threads: int = 8) -> Iterator[LiveServer]:
    """Serve the app for ``runtime`` on 127.0.0.1 and an OS-chosen port until the block ends."""
    app = create_app(rt=runtime)
    server = create_server(app, host="127.0.0.1", port=0, threads=threads)
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.effective_port}", runtime, app)
    finally:
        # Let the worker threads finish what they are doing first (they poke the loop's trigger when
        # they have output), then close every socket from inside the loop thread itself: closing them
        # from here races with its select() and ends in EBADF. The loop ends once nothing is left.
        server.task_dispatcher.shutdown(timeout=10)
        # EBADF here means the loop has already ended and closed its trigger (seen once in a full run).
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger(lambda: [d.close() for d in list(server._map.values())])
        thread.join(10)
        assert not thread.is_alive(), "the test server did not stop"
        close_app(app)  # write the fetches still buffered while the database is there
