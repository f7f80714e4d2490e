"""The plugins bound to the service's own runtime, for a Radicale mounted in the service (``feeds.dav``).

Radicale accepts a callable as a plugin ``type`` and calls it with its configuration; these callables hand the
plugins the :class:`Runtime` the service already holds, so the server process keeps no registry of runtimes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from caldav_bridge.runtime import Runtime
from storage_plugin.auth import Auth
from storage_plugin.rights import Rights
from storage_plugin.storage import Storage

__all__ = ["plugins_for"]


def plugins_for(rt: Runtime) -> dict[str, Callable[[Any], Any]]:
    """Radicale's ``type`` of the storage, auth and rights sections, each a plugin working on ``rt``."""
    return {
        "storage": partial(Storage, runtime=rt),
        "auth": partial(Auth, runtime=rt),
        "rights": partial(Rights, runtime=rt),
    }
