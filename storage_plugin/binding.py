"""The plugins bound to the service's own runtime, for a Radicale mounted in the service (``feeds.dav``).

Radicale accepts a callable as a plugin ``type`` and calls it with its configuration; these callables hand the
plugins the :class:`Runtime` the service already holds, so the server process keeps no registry of runtimes.
:class:`BoundPlugins` also keeps the instances Radicale made, for the layer in front of it that uses the same
auth, rights and storage (``storage_plugin.listings``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from caldav_bridge.runtime import Runtime
from storage_plugin.auth import Auth
from storage_plugin.rights import Rights
from storage_plugin.storage import Storage

__all__ = ["BoundPlugins", "plugins_for"]


def plugins_for(rt: Runtime) -> dict[str, Callable[[Any], Any]]:
    """Radicale's ``type`` of the storage, auth and rights sections, each a plugin working on ``rt``."""
    return {
        "storage": partial(Storage, runtime=rt),
        "auth": partial(Auth, runtime=rt),
        "rights": partial(Rights, runtime=rt),
    }


class BoundPlugins:
    """Plugin types for Radicale (:meth:`types`) that remember the instances Radicale makes with them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.storage: Storage | None = None
        self.auth: Auth | None = None
        self.rights: Rights | None = None

    def types(self) -> dict[str, Callable[[Any], Any]]:
        return {"storage": self._storage, "auth": self._auth, "rights": self._rights}

    def _storage(self, configuration: Any) -> Storage:
        self.storage = Storage(configuration, runtime=self.rt)
        return self.storage

    def _auth(self, configuration: Any) -> Auth:
        self.auth = Auth(configuration, runtime=self.rt)
        return self.auth

    def _rights(self, configuration: Any) -> Rights:
        self.rights = Rights(configuration, runtime=self.rt)
        return self.rights
