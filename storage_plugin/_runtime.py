"""The runtime (database) a plugin works on when Radicale runs on its own, configured from a file.

In the service, ``feeds.dav`` hands its own :class:`Runtime` to the plugins (:func:`storage_plugin.binding.plugins_for`)
and nothing here is used. Radicale on its own (``radicale --storage-type storage_plugin``, Radicale's test suite)
builds its plugins from a configuration alone, a Storage, Auth and Rights per ``Application`` (hundreds in its test
suite): those share one runtime per database URL, made here, and the schema is brought up to date once per URL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.engine import make_engine, make_session_factory
from caldav_bridge.store.migrate import ensure_schema
from config import load_settings

__all__ = ["POOLED_SQLITE_DATABASES", "runtime_from_config", "schema_ready"]

#: How many SQLite databases keep their runtime (and its pooled connections) in this process: the most recently
#: used. Radicale on its own has one; Radicale's test suite one per test (hundreds), whose files would otherwise
#: all stay open. An older one's connections are closed and it is forgotten (a Storage still holding it opens
#: connections again if it is used). Pooled, a request reuses its connection: opened per use, each connection
#: parsed the service's schema again (~1 ms) and closing it checkpointed the WAL.
POOLED_SQLITE_DATABASES = 4

#: The runtimes by URL, least recently used first.
_BY_URL: OrderedDict[str, Runtime] = OrderedDict()
#: URLs whose schema this process has brought up to date (Radicale makes a Storage per Application: hundreds
#: in its test suite, each would otherwise inspect the database again).
_SCHEMA_READY: set[str] = set()
_LOCK = threading.Lock()


def schema_ready(rt: Runtime) -> None:
    """Bring ``rt``'s database to the current schema (:func:`ensure_schema`), once per database and process."""
    key = _key(rt)
    with _LOCK:
        if key in _SCHEMA_READY:
            return
        ensure_schema(rt.engine)
        _SCHEMA_READY.add(key)


def _key(rt: Runtime) -> str:
    return rt.engine.url.render_as_string(hide_password=False)


def _get(configuration: Any, section: str, option: str) -> str:
    try:
        return str(configuration.get(section, option) or "")
    except KeyError:
        return ""


def runtime_from_config(configuration: Any) -> Runtime:
    """The runtime for ``[storage] url`` (or the settings' database), one per URL and process."""
    url = _get(configuration, "storage", "url") or load_settings().resolved_database_url()
    with _LOCK:
        rt = _BY_URL.get(url)
        if rt is not None:
            _BY_URL.move_to_end(url)
            return rt
        # One engine per URL and process: Radicale makes a Storage (and auth, rights) for every
        # Application, and Radicale's test suite makes hundreds.
        engine = make_engine(url)
        rt = Runtime(load_settings(environ={}, database_url=url), engine, make_session_factory(engine))
        _BY_URL[url] = rt
        if engine.dialect.name == "sqlite":
            _forget_old_sqlite()
    return rt


def _forget_old_sqlite() -> None:
    """Close and forget the SQLite runtimes beyond the :data:`POOLED_SQLITE_DATABASES` most recent (under ``_LOCK``)."""
    sqlite = [url for url, rt in _BY_URL.items() if rt.engine.dialect.name == "sqlite"]
    for url in sqlite[: max(0, len(sqlite) - POOLED_SQLITE_DATABASES)]:
        old = _BY_URL.pop(url)
        _SCHEMA_READY.discard(_key(old))
        old.engine.dispose()
