"""The runtime (database) a plugin works on: bound by ``feeds.dav`` or built from a URL."""

from __future__ import annotations

from typing import Any

from caldav_bridge.runtime import Runtime
from caldav_bridge.store.engine import make_engine, make_session_factory
from config import load_settings
from storage_plugin import context

__all__ = ["runtime_from_config"]


def _get(configuration: Any, section: str, option: str) -> str:
    try:
        return str(configuration.get(section, option) or "")
    except KeyError:
        return ""


def runtime_from_config(configuration: Any) -> tuple[Runtime, bool]:
    """The runtime named by ``[storage] runtime`` or built for ``[storage] url``; True if built."""
    key = _get(configuration, "storage", "runtime")
    rt = context.runtime_for(key) if key else None
    if rt is not None:
        return rt, False
    url = _get(configuration, "storage", "url") or load_settings().resolved_database_url()
    engine = make_engine(url)
    return Runtime(load_settings(environ={}, database_url=url), engine, make_session_factory(engine)), True
