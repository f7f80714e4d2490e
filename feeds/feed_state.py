"""The process-wide feed state (caches, rate limiter, settings) bound to the Flask app."""

from __future__ import annotations

from flask import Flask, current_app

from caldav_bridge.runtime import Runtime
from caldav_bridge.services.feed_serving import FeedConfig, FeedContext

__all__ = ["close_app", "feed_context", "feed_context_of", "init_app"]

_KEY = "appointments.feeds"


def init_app(app: Flask, rt: Runtime) -> None:
    config = FeedConfig.from_settings(rt.settings)
    ctx = FeedContext.create(config, rt.settings.feed_rate_limit_per_minute, rt.uow, rt.write_clocks, rt.feed_changes)
    if ctx.fetch_log is not None:
        rt.fetch_logs.add(ctx.fetch_log)  # flushed before the API reads fetches, closed with the runtime
    app.extensions[_KEY] = ctx


def feed_context() -> FeedContext:
    ctx: FeedContext = current_app.extensions[_KEY]
    return ctx


def feed_context_of(app: Flask) -> FeedContext:
    ctx: FeedContext = app.extensions[_KEY]
    return ctx


def close_app(app: Flask) -> None:
    """Stop the app's fetch-log thread and write the fetches it still holds (at shutdown)."""
    ctx: FeedContext | None = app.extensions.get(_KEY)
    if ctx is not None and ctx.fetch_log is not None:
        ctx.fetch_log.close()
