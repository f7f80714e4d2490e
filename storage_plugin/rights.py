"""Radicale rights plugin (``[rights] type = storage_plugin.rights``); rules in caldav_bridge.dav.access."""

from __future__ import annotations

import threading
import time
from typing import Any

from radicale import pathutils, rights

from caldav_bridge.dav.access import DavAccess, access_in, dav_access, rights_for
from caldav_bridge.runtime import Runtime
from storage_plugin import request_state
from storage_plugin._runtime import runtime_from_config

__all__ = ["Rights"]

_TTL = 10.0


class Rights(rights.BaseRights):
    def __init__(self, configuration: Any, runtime: Runtime | None = None) -> None:
        super().__init__(configuration)
        self.runtime = runtime or runtime_from_config(configuration)
        self._cache: dict[str, tuple[DavAccess, float]] = {}
        self._lock = threading.Lock()

    def _access(self, user: str) -> DavAccess:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user)
        if hit and hit[1] > now:
            return hit[0]
        # Inside a storage lock (Radicale checks rights while it iterates a PROPFIND's items) the
        # lookup joins that transaction: on SQLite a second one would wait for the lock this thread
        # holds until the busy timeout, and the request would fail.
        txn = getattr(request_state.local, "txn", None)
        access = access_in(txn.uow, user) if txn is not None else dav_access(self.runtime.uow(), user)
        with self._lock:
            self._cache[user] = (access, now + _TTL)
        return access

    def authorization(self, user: str, user_groups: set[str], path: str) -> str:
        if not user:
            return ""
        return rights_for(self._access(user), user, pathutils.strip_path(path))
