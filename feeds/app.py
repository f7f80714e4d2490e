"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from caldav_bridge.infra.rate_limit import RateLimiter
from caldav_bridge.runtime import Runtime
from config import Settings, load_settings
from feeds import access_log, auth, booking_page, calendar_page, docs, feed_state, health, ical_feed, metrics, ols
from feeds import runtime as runtime_ext
from feeds.api import bp as api_v1
from feeds.api.direct_reads import appointment_reads
from feeds.dav import mount as mount_dav
from feeds.direct import DEFAULT_HEADERS, Direct
from feeds.held_feeds import held_feed_route
from feeds.openapi import openapi_document
from feeds.problems import register_error_handlers
from feeds.refusal_throttle import RefusalThrottle

__all__ = ["API_VERSION", "create_app"]

API_VERSION = "1.0.0"


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, without building the signing serializer for a request that sends no session cookie
    (every API call and feed poll): the same empty session Flask would open, at a fraction of the cost."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def create_app(settings: Settings | None = None, *, rt: Runtime | None = None) -> Flask:
    """Build the app for ``settings`` (default: from the environment) or an existing runtime."""
    rt = rt or Runtime.from_settings(settings or load_settings())
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=rt.settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = _CookieSessions()
    runtime_ext.init_app(app, rt)
    access_log.init_app(app)
    auth.init_app(app)
    register_error_handlers(app)
    feed_state.init_app(app, rt)

    blueprints = [(health.bp, ""), (api_v1, "/api/v1"), (ols.bp, rt.settings.ols_prefix)]
    for blueprint, prefix in blueprints:
        app.register_blueprint(blueprint, url_prefix=prefix or None)
    app.register_blueprint(ical_feed.bp)
    app.register_blueprint(calendar_page.bp)
    docs.init_app(app)  # / and /api/docs
    booking_page.init_app(app)  # /book/<token>, /manage/<token>: customers' self-booking pages
    document = openapi_document(
        blueprints, title="Appointment Service", version=API_VERSION, server_url=rt.settings.public_url
    )

    @app.get("/api/openapi.json")
    def openapi() -> Response:
        return jsonify(document)

    mount_dav(app, rt)  # CalDAV (Radicale over our plugins) at /dav/, /.well-known/caldav redirects
    counted = metrics.init_app(app, rt)  # /metrics; counts every request, CalDAV's too (so after the mount)
    # outermost: the hottest reads answered by their routes before Flask (feeds/direct.py): a feed poll that the
    # token's held answer decides, an appointment, a page of the list
    direct = [held_feed_route(feed_state.feed_context_of(app)), *appointment_reads(rt, auth.token_cache(app))]
    app.wsgi_app = Direct(app.wsgi_app, app.url_map, direct, counted.observe)  # type: ignore[method-assign]
    # outside it: a credential whose requests keep being refused gets 429 before anything else runs
    throttle = RateLimiter(rt.settings.refusal_limit_per_minute)
    app.wsgi_app = RefusalThrottle(app.wsgi_app, throttle, counted.observe)  # type: ignore[method-assign]

    @app.after_request
    def _default_headers(response: Response) -> Response:
        for name, value in DEFAULT_HEADERS:
            response.headers.setdefault(name, value)
        return response

    return app
