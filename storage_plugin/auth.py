"""Radicale auth plugin (``[auth] type = storage_plugin.auth``): our users and app passwords.

Passwords are checked against the stored scrypt hash (``caldav_bridge.services.users``). A
successful check is remembered in memory for a minute (as a salted digest, never the password),
because every CalDAV request carries Basic credentials and scrypt is deliberately slow.

Failed logins are logged (the username if it names a user, the client address; never the password,
nor an unknown name, which may be a password typed into the wrong field: Radicale's own log line of
a failed login withholds the name too) and slowed down per
username and per client address: after 3 failures within 15 minutes each further failed attempt is
answered 0.5 s later, doubling up to 8 s. A right password is never delayed: before, every request
from an address with 3 recent failures waited, so one mistyped password slowed every user behind the
same address (an office's NAT, the loopback of a test run) for 15 minutes. The counters live in the
memory of each server process (a restart or another process starts afresh; documented in
docs/caldav.md).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from radicale import auth, types

from caldav_bridge.runtime import Runtime
from caldav_bridge.services import users
from storage_plugin import precheck, request_state
from storage_plugin._runtime import runtime_from_config

__all__ = ["Auth", "Backoff"]

log = logging.getLogger("appointments.caldav.auth")


class Backoff:
    """Failure counters per key with a sliding window; ``delay`` grows with repeated failures."""

    def __init__(self, free: int = 3, window: float = 900.0, base: float = 0.5, cap: float = 8.0) -> None:
        self.free, self.window, self.base, self.cap = free, window, base, cap
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def delay(self, *keys: str) -> float:
        now = time.monotonic()
        with self._lock:
            n = max((len(self._recent(k, now)) for k in keys), default=0)
        if n < self.free:
            return 0.0
        return float(min(self.cap, self.base * 2 ** (n - self.free)))

    def failed(self, *keys: str) -> int:
        now = time.monotonic()
        with self._lock:
            counts = []
            for key in keys:
                times = self._recent(key, now)
                times.append(now)
                self._failures[key] = times
                counts.append(len(times))
        return max(counts)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class _WithholdLoginName(logging.Filter):
    """Radicale logs ``Failed login attempt from <address>: <login> (...)``: the login is withheld."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        failed_login = isinstance(record.msg, str) and record.msg.startswith("Failed login attempt")
        if failed_login and isinstance(args, tuple) and len(args) > 1:
            record.args = (args[0], "(name withheld)", *args[2:])
        return True


def _withhold_radicale_login_names() -> None:
    radicale_log = logging.getLogger("radicale")
    if not any(isinstance(f, _WithholdLoginName) for f in radicale_log.filters):
        radicale_log.addFilter(_WithholdLoginName())


class Auth(auth.BaseAuth):
    def __init__(self, configuration: Any, runtime: Runtime | None = None) -> None:
        super().__init__(configuration)
        _withhold_radicale_login_names()
        self.runtime = runtime or runtime_from_config(configuration)
        self.backoff = Backoff()
        self._salt = secrets.token_bytes(16)
        self._ok: dict[str, tuple[bytes, float]] = {}
        self._ok_lock = threading.Lock()
        self.sleep: Callable[[float], None] = time.sleep

    def get_external_login(self, environ: types.WSGIEnviron) -> tuple[()] | tuple[str, str]:
        """Radicale asks this for every request, with its environ, before the method handler reads the
        body: Radicale on its own (no ``feeds.dav`` in front) gets the pre-parse checks of a PUT body
        here (:mod:`storage_plugin.precheck`). The login itself is left to Radicale's HTTP auth."""
        if getattr(request_state.local, "request", None) is None:  # feeds.dav has checked it already
            self._precheck(environ)
        return ()

    def _precheck(self, env: types.WSGIEnviron) -> None:
        environ = cast(dict[str, Any], env)  # the server's environ, a dict: the body is put back into it
        max_body = int(self.configuration.get("server", "max_content_length"))
        if max_body and precheck.declared_length(environ) > max_body:
            return  # Radicale answers 413 without reading it
        max_resource = int(self.configuration.get("server", "max_resource_size"))
        if max_body:
            max_resource = min(max_resource, int(max_body * 0.8))  # Radicale's own cap
        refused = precheck.refused_put(environ, max_resource) or precheck.refused_xml(environ)
        if refused is not None:
            precheck.replace_refused_body(environ, refused)

    def _digest(self, login: str, password: str) -> bytes:
        return hmac.new(self._salt, f"{login}\0{password}".encode(), hashlib.sha256).digest()

    def _login_ext(self, login: str, password: str, context: Any) -> str:
        addr = str(getattr(context, "remote_addr", None) or "-")
        keys = (f"user:{login}", f"addr:{addr}")
        digest = self._digest(login, password)
        now = time.monotonic()
        with self._ok_lock:
            cached = self._ok.get(login)
        if cached and cached[1] > now and hmac.compare_digest(cached[0], digest):
            return login
        actor = users.actor_for_password(self.runtime.uow(), login, password, "caldav") if login and password else None
        if actor is None:
            # Only a failed attempt waits (after 3 recent failures of the name or the address): a right
            # password is answered at once, also from an address where someone else mistyped theirs.
            wait = self.backoff.delay(*keys)
            n = self.backoff.failed(*keys)
            # An unknown name may be a password typed into the user field: it is not written down.
            who = f"user {login!r}" if login and users.is_known(self.runtime.uow(), login) else "an unknown user name"
            log.warning("CalDAV login failed for %s from %s (%d recent failures)", who, addr, n)
            if wait:
                self.sleep(wait)
            return ""
        self.backoff.succeeded(keys[0])
        with self._ok_lock:
            self._ok[login] = (digest, now + 60.0)
        return login
