"""The runtime (database) a plugin works on when Radicale runs on its own, configured from a file.

In the service, ``feeds.dav`` hands its own :class:`Runtime` to the plugins (:func:`storage_plugin.binding.plugins_for`)
and nothing here is used. Radicale on its own (``radicale --storage-type storage_plugin``, Radicale's test suite)
builds its plugins from a configuration alone, a Storage, Auth and Rights per ``Application`` (hundreds in its test
suite): those share one runtime per database URL, made here, and the schema is brought up to date once per URL.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.pool import NullPool

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.engine import make_engine, make_session_factory
from caldav_bridge.store.migrate import ensure_schema
from config import load_settings

__all__ = ["runtime_from_config", "schema_ready"]

_BY_URL: dict[str, Runtime] = {}
#: URLs whose schema this process has brought up to date (Radicale makes a Storage per Application: hundreds
#: in its test suite, each would otherwise inspect the database again).
_SCHEMA_READY: set[str] = set()
_LOCK = threading.Lock()


def schema_ready(rt: Runtime) -> None:
    """Bring ``rt``'s database to the current schema (:func:`ensure_schema`), once per database and process."""
    key = rt.engine.url.render_as_string(hide_password=False)
    with _LOCK:
        if key in _SCHEMA_READY:
            return
        ensure_schema(rt.engine)
        _SCHEMA_READY.add(key)


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
        if rt is None:
            # One engine per URL and process: Radicale makes a Storage (and auth, rights) for every
            # Application, and Radicale's test suite makes hundreds. SQLite files (one per test
            # there) are opened per use instead of pooled.
            kwargs: dict[str, Any] = {"poolclass": NullPool} if url.startswith("sqlite") else {}
            engine = make_engine(url, **kwargs)
            rt = Runtime(load_settings(environ={}, database_url=url), engine, make_session_factory(engine))
            _BY_URL[url] = rt
    return rt
