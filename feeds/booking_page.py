"""``/book/<token>`` and ``/manage/<token>``: customers book, move and cancel their own appointments.

Server-rendered (Flask templates), usable without JavaScript (a script only detects the time zone).
Every form carries a Flask-WTF CSRF token; form posts are rate-limited per client address and per link;
the booking form has a honeypot field. Secrets travel only in the path (capability URLs, never logged in
full by us) and in form bodies; no name, address or other patient data is ever put in a URL. Every page
is ``Cache-Control: no-store`` with the calendar page's security headers and a nonce CSP.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel.dates import format_date, format_time, get_timezone_name
from flask import Blueprint, Flask, Response, current_app, render_template, request, session, url_for
from flask_babel import Babel, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

from caldav_bridge.credentials import token_digest
from caldav_bridge.errors import NotFound, ValidationFailed
from caldav_bridge.infra.rate_limit import RateLimiter
from caldav_bridge.model.timestamps import parse_timestamp
from caldav_bridge.scheduling.hooks import SlotUnavailable
from caldav_bridge.scheduling.rules import SchedulingOptions
from caldav_bridge.selfbooking import customer
from caldav_bridge.selfbooking.keys import service_key
from caldav_bridge.selfbooking.templates import LOCALES
from feeds.feed_http import CAPABILITY_HEADERS
from feeds.runtime import runtime

__all__ = ["bp", "init_app"]

bp = Blueprint("booking_page", __name__, template_folder="templates")
_LIMITS = "appointments.booking_limits"
#: The session key of the visitor's current hold secret per link (a prefix of the link's digest).
_HOLDS = "booking_holds"
# An email address is exactly one RFC 5322 addr-spec in dot-atom form (no display name, comment, quoted local
# part, list or group), letters beyond ASCII allowed (RFC 6531); the domain's labels are letters, digits and
# inner hyphens, the last one starts with a letter.
_ATOM = r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\x00-\x7f])+"
_ALNUM = r"(?:[A-Za-z0-9]|[^\x00-\x7f])"
_LABEL = rf"{_ALNUM}(?:(?:{_ALNUM}|-){{0,61}}{_ALNUM})?"
_TLD = rf"(?:[A-Za-z]|[^\x00-\x7f])(?:(?:{_ALNUM}|-){{0,61}}{_ALNUM})"
_EMAIL = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?:{_LABEL}\.)+{_TLD}")
_PHONE = re.compile(r"\+?[0-9 ()./-]{5,30}")
#: Characters no field of the forms may hold: controls (line breaks, tabs, NUL), line and paragraph separators,
#: surrogates, private-use and unassigned code points, and the bidirectional overrides and isolates.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/")))


def init_app(app: Flask) -> None:
    settings = runtime_of(app).settings
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = service_key(settings).decode()
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        WTF_CSRF_TIME_LIMIT=3600,
        BABEL_DEFAULT_LOCALE="en",
        BABEL_TRANSLATION_DIRECTORIES="translations",
    )
    Babel(app, locale_selector=_locale)
    app.extensions[_LIMITS] = (
        RateLimiter(settings.booking_rate_limit_per_minute),
        RateLimiter(settings.booking_link_rate_limit_per_minute),
    )
    app.register_blueprint(bp)


def runtime_of(app: Flask) -> Any:
    return app.extensions["appointments.runtime"]


def _locale() -> str:
    asked = request.values.get("lang")
    if asked in LOCALES:
        return asked
    return request.accept_languages.best_match(LOCALES) or "en"


def _zone() -> tuple[ZoneInfo, bool]:
    """The customer's zone (``tz``, else the team's default UTC until the script detects it), and whether given."""
    name = request.values.get("tz", "")
    try:
        return ZoneInfo(name), True
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC"), False


def _options() -> SchedulingOptions:
    return SchedulingOptions.from_settings(runtime().settings)


def _key() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


# --------------------------------------------------------------------------- rendering


def _page(template: str, status: int = 200, shown_zone: ZoneInfo | None = None, **context: Any) -> Response:
    nonce = secrets.token_urlsafe(16)
    settings = runtime().settings
    zone, given = _zone()
    zone = shown_zone or zone
    html = render_template(
        template,
        nonce=nonce,
        locale=str(get_locale()),
        locales=LOCALES,
        zone=zone.key,
        zone_given=given,
        detect_zone=request.method == "GET" and not given,
        zones=_ZONES,
        company=settings.booking_company_name,
        company_phone=settings.booking_company_phone,
        company_email=settings.booking_company_email,
        csrf_token=generate_csrf(),
        fmt_day=_fmt_day,
        fmt_time=_fmt_time,
        zone_name=_zone_name,
        **context,
    )
    response = Response(html, status=status, content_type="text/html; charset=utf-8")
    response.headers.update(CAPABILITY_HEADERS)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self' data:; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    return response


def _fmt_day(value: datetime | date, zone: str) -> str:
    day = value.astimezone(ZoneInfo(zone)).date() if isinstance(value, datetime) else value
    return format_date(day, format="full", locale=str(get_locale()))


def _fmt_time(value: datetime, zone: str) -> str:
    return format_time(value.astimezone(ZoneInfo(zone)).timetz(), format="short", locale=str(get_locale()))


def _zone_name(zone: str) -> str:
    return get_timezone_name(ZoneInfo(zone), width="long", locale=str(get_locale()))


def _message(status: int, title: str, text: str) -> Response:
    return _page("booking/message.html", status, None, title=title, text=text)


def _not_found() -> Response:
    return _message(404, _("This link does not work"), _("The link is not valid any more. Please contact us."))


# --------------------------------------------------------------------------- guards


def _guard(token: str) -> Response | None:
    """CSRF and rate limits of a form post (per address, per link); an answer if refused."""
    per_address, per_link = current_app.extensions[_LIMITS]
    for limiter, key in ((per_address, f"a:{request.remote_addr}"), (per_link, f"l:{token_digest(token)}")):
        decision = limiter.check(key)
        if not decision.allowed:
            response = _message(429, _("Too many attempts"), _("Please wait a minute and try again."))
            response.headers["Retry-After"] = str(int(decision.retry_after) + 1)
            return response
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return _message(400, _("Please try again"), _("The form had expired. Please start again."))
    return None


def _slot_start(raw: str | None) -> datetime | None:
    try:
        return parse_timestamp(raw or "")
    except (ValueError, TypeError):
        return None


# --------------------------------------------------------------------------- booking


def _week() -> date | None:
    try:
        return date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        return None


def _offer_page(token: str, status: int = 200, notice: str | None = None, week: date | None = None) -> Response:
    zone, given = _zone()
    settings = runtime().settings
    try:
        window = customer.OfferWindow(zone, _options(), settings.booking_weeks_ahead, week or _week())
        offer = customer.offer(runtime().uow, token, window)
    except NotFound:
        return _not_found()
    return _page("booking/book.html", status, token=token, offer=offer, tz_given=given, notice=notice)


@bp.get("/book/<token>")
def book(token: str) -> Response:
    return _offer_page(token)


@bp.post("/book/<token>/hold")
def hold(token: str) -> Response:
    refused = _guard(token)
    if refused is not None:
        return refused
    start = _slot_start(request.form.get("start"))
    zone, _given = _zone()
    if start is None:
        return _offer_page(token, 400, _("Please choose a time."))
    holds = dict(session.get(_HOLDS) or {})  # the visitor's hold on each link (one at a time)
    key = token_digest(token)[:16]
    try:
        held = customer.hold(
            runtime().uow, token, start, zone.key, str(get_locale()), _options(), previous=holds.get(key)
        )
    except NotFound:
        return _not_found()
    except customer.AlreadyBooked:
        return _message(
            409,
            _("Already booked"),
            _("This link already has an appointment. Use the link in your confirmation email to change it."),
        )
    except (SlotUnavailable, ValidationFailed):
        taken = _("Sorry, that time was just taken. Please choose another one.")
        return _offer_page(token, 409, taken, start.astimezone(zone).date())  # fresh slots, that week open
    holds[key] = held.secret
    session[_HOLDS] = holds
    return _page("booking/details.html", token=token, held=held, errors={}, values={})


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch) in _REFUSED_CATEGORIES or ch in _BIDI_CONTROLS for ch in value)


def _is_address(value: str) -> bool:
    """Exactly one addr-spec (``x,victim@example.org`` or ``Name <a@b>`` are not)."""
    found = _EMAIL.fullmatch(value)
    return (
        found is not None
        and len(found.group("local")) <= 64
        and len(value) <= 254
        and not _has_control(value)
        and not any(ch.isspace() for ch in value)
    )


def _details_errors(form: Any) -> dict[str, str]:
    errors = {}
    for name in ("first_name", "last_name"):
        value = form.get(name, "").strip()
        if not value or len(value) > 100:
            errors[name] = _("Please enter your name (up to 100 characters).")
        elif _has_control(value):
            errors[name] = _("Please enter your name without line breaks or control characters.")
    if not _is_address(form.get("email", "").strip()):
        errors["email"] = _("Please enter a valid email address.")
    phone = form.get("phone", "").strip()
    if phone and not _PHONE.fullmatch(phone):
        errors["phone"] = _("Please enter a valid phone number, or leave it empty.")
    return errors


@bp.post("/book/<token>/confirm")
def confirm(token: str) -> Response:
    refused = _guard(token)
    if refused is not None:
        return refused
    form = request.form
    if form.get("website"):  # the honeypot: people never see it, bots fill it in
        return _message(400, _("Please try again"), _("Something went wrong. Please start again."))
    held = customer.Held(
        form.get("hold", ""), _slot_start(form.get("start")) or datetime.min, datetime.min, datetime.min
    )
    errors = _details_errors(form)
    if errors:
        return _page("booking/details.html", 400, token=token, held=held, errors=errors, values=form)
    zone, _given = _zone()
    details = customer.CustomerDetails(
        first_name=form["first_name"].strip(),
        last_name=form["last_name"].strip(),
        email=form["email"].strip(),
        phone=form.get("phone", "").strip() or None,
        consent_reminders=form.get("consent") == "yes",
        timezone=zone.key,
        locale=str(get_locale()),
    )
    try:
        view = customer.confirm(runtime().uow, token, held.secret, details, _options(), _key())
    except NotFound:
        return _offer_page(token, 409, _("Sorry, your hold has expired. Please choose a time again."))
    except customer.AlreadyBooked:
        return _message(
            409,
            _("Already booked"),
            _("This link already has an appointment. Use the link in your confirmation email to change it."),
        )
    except SlotUnavailable:
        return _offer_page(token, 409, _("Sorry, that time was just taken. Please choose another one."))
    return _page("booking/done.html", view=view)


# --------------------------------------------------------------------------- manage


def _manage_page(token: str, status: int = 200, notice: str | None = None) -> Response:
    try:
        view = customer.manage_view(runtime().uow, token, _key())
        given_zone, given = _zone()
        zone = given_zone if given else ZoneInfo(view.timezone)  # else the zone the customer booked in
        week = _week() or view.start.astimezone(zone).date()  # the appointment's week first
        window = customer.OfferWindow(zone, _options(), runtime().settings.booking_weeks_ahead, week)
        offer = customer.reschedule_offer(runtime().uow, token, window)
    except NotFound:
        return _not_found()
    return _page("booking/manage.html", status, zone, token=token, view=view, offer=offer, notice=notice)


@bp.get("/manage/<token>")
def manage(token: str) -> Response:
    moved = request.args.get("done") == "moved"
    return _manage_page(
        token, 200, _("Your appointment has been moved. We have sent you an updated invitation.") if moved else None
    )


@bp.post("/manage/<token>/reschedule")
def reschedule(token: str) -> Response:
    refused = _guard(token)
    if refused is not None:
        return refused
    start = _slot_start(request.form.get("start"))
    if start is None:
        return _manage_page(token, 400, _("Please choose a time."))
    try:
        customer.reschedule(runtime().uow, token, start, _options(), _key())
    except NotFound:
        return _not_found()
    except (SlotUnavailable, ValidationFailed):
        return _manage_page(token, 409, _("Sorry, that time was just taken. Please choose another one."))
    zone, _given = _zone()
    target = url_for("booking_page.manage", token=token, tz=zone.key, lang=str(get_locale()), done="moved")
    response = Response(status=303, headers={"Location": target, **CAPABILITY_HEADERS})  # a reload does not post again
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/manage/<token>/cancel")
def cancel(token: str) -> Response:
    refused = _guard(token)
    if refused is not None:
        return refused
    reason = request.form.get("reason", "").strip()[:500] or None
    try:
        customer.cancel(runtime().uow, token, reason)
    except NotFound:
        return _not_found()
    return _message(200, _("Your appointment is cancelled"), _("We have sent you a confirmation by email."))
