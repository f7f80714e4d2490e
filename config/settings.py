"""Typed settings for the Appointment Service.

Precedence, lowest first: the documented defaults below, an optional TOML file
(``APPOINTMENTS_CONFIG`` or ``--config``), then ``APPOINTMENTS_*`` environment
variables, then explicit overrides (tests). Invalid settings raise
:class:`SettingsError` naming the setting, so start-up stops with a clear message.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "APPOINTMENTS_"
#: The demo's settings file (code tables that make every export work), used by ``serve --demo`` when no
#: other settings file is given.
DEMO_CONFIG = Path(__file__).with_name("demo.toml")

#: OLS free-text appointment labels and their canonical type (``ols_type_labels``).
DEFAULT_OLS_TYPE_LABELS: dict[str, str] = {
    "HEARING AID EVALUATION": "INITIAL",
    "INITIAL CONSULTATION": "INITIAL",
    "FOLLOW UP": "FOLLOW_UP",
    "FITTING": "FOLLOW_UP",
    "TECH SETUP": "TECH_SETUP",
}
#: OLS status labels and their canonical status (``ols_status_labels``).
DEFAULT_OLS_STATUS_LABELS: dict[str, str] = {
    "unknown-status": "INITIAL",
    "scheduled": "BOOKED",
    "reserved": "RESERVED",
    "cancelled": "CANCELLED",
    "rescheduled": "RESCHEDULED",
}
#: Blueprint ``eventTypeId`` → canonical type (``blueprint_event_types``); placeholders, see docs/converters.md.
DEFAULT_BLUEPRINT_EVENT_TYPES: dict[str, str] = {"1": "INITIAL", "2": "FOLLOW_UP", "3": "TECH_SETUP"}
#: Blueprint integer ``status`` → canonical status (``blueprint_statuses``); placeholders, see docs/converters.md.
DEFAULT_BLUEPRINT_STATUSES: dict[str, str] = {
    "1": "INITIAL",
    "2": "RESERVED",
    "3": "BOOKED",
    "4": "CANCELLED",
    "5": "RESCHEDULED",
    "7": "BOOKED",
}

_CANONICAL_TYPES = {"INITIAL", "FOLLOW_UP", "TECH_SETUP"}
_CANONICAL_STATUSES = {"INITIAL", "RESERVED", "BOOKED", "CANCELLED", "RESCHEDULED"}

#: ServiceAppointment ``StatusCategory`` → canonical status (``sf_status_categories``).
DEFAULT_SF_STATUS_CATEGORIES: dict[str, str] = {
    "None": "INITIAL",
    "Scheduled": "BOOKED",
    "Dispatched": "BOOKED",
    "InProgress": "BOOKED",
    "In Progress": "BOOKED",
    "Completed": "BOOKED",
    "CannotComplete": "CANCELLED",
    "Cannot Complete": "CANCELLED",
    "Canceled": "CANCELLED",
}
#: Canonical status → ServiceAppointment ``Status`` written back (``sf_service_statuses``).
DEFAULT_SF_SERVICE_STATUSES: dict[str, str] = {
    "INITIAL": "None",
    "RESERVED": "None",
    "BOOKED": "Scheduled",
    "RESCHEDULED": "Scheduled",
    "CANCELLED": "Canceled",
}

#: Minutes per scheduling purpose (``scheduling_durations``).
DEFAULT_SCHEDULING_DURATIONS: dict[str, str] = {
    "INITIAL": "60",
    "TECH_SETUP": "30",
    "FITTING": "90",
    "FOLLOW_UP": "45",
}


class SettingsError(ValueError):
    """A setting has an invalid value; ``name`` is the setting's environment variable."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"invalid setting {name}: {message}")
        self.name = name


@dataclass(frozen=True)
class Settings:
    """All settings, with their defaults. Each is ``APPOINTMENTS_<NAME>`` in the environment."""

    #: SQLAlchemy URL; empty means a SQLite file ``appointments.db`` in ``data_dir``.
    database_url: str = ""
    #: Directory for the embedded SQLite database and other local state.
    data_dir: str = "var"
    #: External base URL of the service, used in links (feeds, OpenAPI servers, the demo's banner).
    #: Empty: the address served, ``http://<host>:<port>`` (127.0.0.1 when listening on every interface).
    public_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    #: ``text`` or ``json`` (JSON lines).
    log_format: str = "text"
    log_level: str = "INFO"
    #: Largest accepted request body, in bytes.
    max_body_bytes: int = 1_048_576
    #: Refused requests (400, 403, 413, 414, 415, 422, 431) per minute one credential may cause, in bursts of up
    #: to the same; beyond it its requests get 429 with ``Retry-After`` (feeds/refusal_throttle.py), per process.
    refusal_limit_per_minute: int = 60
    #: Path prefix of the OLS-compatible API.
    ols_prefix: str = "/ols"
    #: The zone whose wall-clock time OLS's legacy ``date`` field shows, labelled ``Z``.
    ols_legacy_timezone: str = "Europe/Berlin"
    #: Duration of an appointment created through OLS, which carries no end time.
    ols_default_duration_minutes: int = 60
    ols_type_labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OLS_TYPE_LABELS))
    ols_status_labels: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_OLS_STATUS_LABELS))
    #: Canonical type given to an OLS label missing from ``ols_type_labels`` (the label is kept).
    ols_unknown_type: str = "FOLLOW_UP"
    #: Default and largest page size of list endpoints.
    page_size: int = 50
    max_page_size: int = 500
    #: How long an ``Idempotency-Key`` is remembered, in hours.
    idempotency_ttl_hours: int = 24
    #: iCal feeds and the calendar page: the window of appointments served, in days before and after now.
    feed_window_back_days: int = 30
    feed_window_ahead_days: int = 180
    #: How long a cancelled appointment stays in feeds (as STATUS:CANCELLED) after it was cancelled, in days.
    feed_cancelled_grace_days: int = 14
    #: Suggested polling interval written to feeds (REFRESH-INTERVAL, X-PUBLISHED-TTL), in minutes.
    feed_refresh_minutes: int = 60
    #: Requests per minute allowed for one feed token (feed and calendar page together), per process.
    feed_rate_limit_per_minute: int = 60
    #: Link to an appointment in fitter-cockpit, with ``{id}`` for the appointment id; empty: no link.
    cockpit_url_template: str = ""
    #: CSP ``frame-ancestors`` of the calendar page (hosts allowed to embed it): Salesforce's enhanced domains
    #: (Lightning, Visualforce ``<org>--<pkg>.vf.force.com``, My Domain, Experience Cloud and Salesforce Sites)
    #: of any org; narrow it to your org's hosts (``docs/feeds.md``, "Embedding in Salesforce").
    calendar_frame_ancestors: str = (
        "'self' https://*.lightning.force.com https://*.vf.force.com https://*.my.salesforce.com "
        "https://*.my.site.com https://*.my.salesforce-sites.com"
    )
    # Interchange (import/export) code tables: see docs/converters.md. Keys are the other system's ids.
    blueprint_event_types: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BLUEPRINT_EVENT_TYPES))
    blueprint_statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_BLUEPRINT_STATUSES))
    #: Read and write Blueprint's ``birthdate`` (patient data) as the guest's ``birthdate``.
    blueprint_include_patient_details: bool = False
    #: Calendly event type URI (or its UUID) → canonical type. No defaults.
    calendly_event_types: Mapping[str, str] = field(default_factory=dict)
    #: Timekit ``calendar.id`` → canonical type. No defaults.
    timekit_calendar_types: Mapping[str, str] = field(default_factory=dict)
    #: OnSched ``serviceId`` → canonical type. No defaults.
    onsched_service_types: Mapping[str, str] = field(default_factory=dict)

    # Salesforce sync (docs/salesforce.md). Empty ``sf_auth`` means Salesforce is not configured:
    # no scheduler starts and nothing calls Salesforce. Secrets are never logged or repr'd.
    #: ``jwt``, ``client_credentials``, ``password`` (username + password + security token), ``session``, or empty.
    sf_auth: str = ""
    #: Login domain: ``login``, ``test`` or a My Domain prefix such as ``acme.my`` (client credentials need one).
    sf_domain: str = "login"
    #: Instance URL (``session`` mode), e.g. ``https://acme.my.salesforce.com``.
    sf_instance_url: str = ""
    sf_session_id: str = field(default="", repr=False)
    sf_username: str = ""
    sf_password: str = field(default="", repr=False)
    sf_security_token: str = field(default="", repr=False)
    sf_consumer_key: str = ""
    sf_consumer_secret: str = field(default="", repr=False)
    #: PEM private key file of the connected app's certificate (JWT bearer flow).
    sf_private_key_file: str = ""
    sf_api_version: str = "59.0"
    #: Timeout of every Salesforce HTTP call, in seconds.
    sf_timeout_seconds: int = 30
    #: ``event`` (standard Event) or ``service_appointment`` (ServiceAppointment + AssignedResource).
    sf_mode: str = "event"
    #: External-id field (Text, External ID, Unique) holding our appointment id.
    sf_external_id_field: str = "Appointment_Service_Id__c"
    #: Custom fields carrying the canonical type and status (empty: not written or read).
    sf_type_field: str = "Appointment_Type__c"
    sf_status_field: str = "Appointment_Status__c"
    #: Field on the fitter's User (event mode) or ServiceResource that receives their feed URLs; empty: off.
    sf_feed_url_field: str = ""
    #: A cancellation ``status`` (set the status, ShowAs Free) or ``delete`` (delete the record).
    sf_cancel_mode: str = "status"
    #: Push the fitters' busy blocks (``meta.kind`` busy: lunch, the dentist) as Events without details
    #: (Subject "Busy", ShowAs Busy, no Who/What, no description or place), so that dispatchers see the fitter
    #: is away. Off: busy blocks are not pushed at all. Event mode only.
    sf_push_busy_blocks: bool = False
    #: ServiceAppointment StatusCategory → canonical status (mirror).
    sf_status_categories: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SF_STATUS_CATEGORIES))
    #: Canonical status → ServiceAppointment Status written back.
    sf_service_statuses: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SF_SERVICE_STATUSES))
    #: Canonical type → value of the type picklist written (read back the same way; default: the canonical names).
    sf_type_values: Mapping[str, str] = field(default_factory=lambda: {t: t for t in sorted(_CANONICAL_TYPES)})
    #: Further type picklist values read as a canonical type (``Tech Setup=TECH_SETUP``); never written.
    sf_type_aliases: Mapping[str, str] = field(default_factory=dict)
    #: Canonical status → value of the Event status picklist written (read back the same way).
    sf_status_values: Mapping[str, str] = field(default_factory=lambda: {t: t for t in sorted(_CANONICAL_STATUSES)})
    #: Further Event status values read as a canonical status (``Cancelled=CANCELLED``); never written.
    sf_status_aliases: Mapping[str, str] = field(default_factory=dict)
    #: Type of a mirrored record whose type field is empty.
    sf_default_type: str = "INITIAL"
    #: What happens when a booked INITIAL appears through the mirror (scheduled in Salesforce): ``off``
    #: (nothing), ``propose`` (its tech-setup slot is found and recorded, nothing booked) or ``book`` (the
    #: tech-setup call is booked as a booking through the API books it, and pushed to Salesforce).
    sf_tech_setup_policy: str = "off"
    #: ServiceAppointment mode: WorkType id of new records by calendar id, team calendar id, or ``*`` (any other).
    sf_work_types: Mapping[str, str] = field(default_factory=dict)
    #: ServiceAppointment mode: ServiceTerritory id of new records by calendar id, team calendar id, or ``*``.
    sf_service_territories: Mapping[str, str] = field(default_factory=dict)
    #: Deprecated alias of ``jobs_in_serve`` (false: ``serve`` runs no background jobs).
    sf_scheduler_in_serve: bool = True
    sf_mirror_interval_seconds: int = 60
    sf_push_interval_seconds: int = 30
    #: Hour (UTC) of the nightly reconcile.
    sf_reconcile_hour: int = 3
    #: The mirror re-reads this many minutes before its watermark.
    sf_overlap_minutes: int = 5
    #: Records per mirror query (keyset page); Salesforce serves up to 2,000 a page.
    sf_page_size: int = 2000
    #: Records per sObject Collections call (at most 200).
    sf_push_batch_size: int = 200
    #: Attempts before a change that keeps failing with 5xx/timeouts becomes a dead letter.
    sf_max_attempts: int = 10
    #: The mirrored window: appointments starting this many days back and ahead.
    sf_window_back_days: int = 90
    sf_window_ahead_days: int = 365
    # Scheduling by availability (docs/scheduling.md).
    #: How a team's slot names its member: ``round_robin`` (least recently assigned) or ``least_loaded``.
    scheduling_assignment: str = "round_robin"
    #: The TECH_SETUP call is scheduled this many days before the INITIAL appointment.
    scheduling_tech_setup_offset_days: int = 2
    #: If that day has no slot, up to this many earlier days are tried, nearest first.
    scheduling_tech_setup_fallback_days: int = 5
    #: ``automatic`` books the call; ``proposed`` holds it (RESERVED) until someone confirms it.
    scheduling_tech_setup_mode: str = "automatic"
    #: The tech-setup team's calendar id; empty: the only team whose members are tech-setup staff.
    scheduling_tech_setup_team_id: str = ""
    #: How long a hold (a RESERVED booking) keeps its slot before it expires, in minutes.
    scheduling_hold_minutes: int = 15
    #: Minutes per purpose when a calendar's rules name none (INITIAL, TECH_SETUP, FITTING, FOLLOW_UP).
    scheduling_durations: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCHEDULING_DURATIONS))
    #: Longest window one availability request may cover, in days.
    scheduling_max_window_days: int = 62
    #: Webhooks: attempts per delivery before it is marked failed.
    webhook_max_attempts: int = 8
    #: Webhooks: the first retry waits this long; each further one twice as long, up to the maximum.
    webhook_backoff_seconds: int = 30
    webhook_backoff_max_seconds: int = 3600
    #: Webhooks: timeout of one delivery attempt, in seconds.
    webhook_timeout_seconds: int = 10
    #: Webhooks: comma-separated host names (as written in subscription URLs) that may be reached over
    #: plain http and on private or loopback addresses. For development and tests only; empty in production.
    webhook_insecure_hosts: str = ""

    # Background jobs (docs/architecture.md, "Background jobs").
    #: Run the background jobs inside ``serve`` too; false: only ``appointment-service worker`` runs them.
    jobs_in_serve: bool = True
    #: ``/metrics`` without a token (counts, latencies, backlogs: no patient data); false: an ``admin`` API token.
    metrics_public: bool = False
    webhook_delivery_interval_seconds: int = 10
    hold_expiry_interval_seconds: int = 60
    #: How often the CalDAV change logs that no CalDAV write prunes are pruned.
    dav_prune_interval_seconds: int = 3600

    # Self-booking pages and customer messages (docs/self-booking.md).
    #: Signs the booking pages' form tokens (CSRF); empty: a random key per process (set it when several
    #: instances serve the pages).
    secret_key: str = field(default="", repr=False)
    #: The company named in the pages and messages, and how customers reach it.
    booking_company_name: str = "Appointment Service"
    booking_company_phone: str = ""
    booking_company_email: str = ""
    #: How many weeks ahead the booking page offers slots.
    booking_weeks_ahead: int = 4
    #: Form posts (hold, book, reschedule, cancel) per minute per client address, and per link.
    booking_rate_limit_per_minute: int = 20
    booking_link_rate_limit_per_minute: int = 120
    #: Reminders, in hours before the appointment, comma-separated ("24", "48,2"); empty: no reminders.
    booking_reminder_offsets_hours: str = "24"
    #: Opportunity field that receives each personal booking link's URL (the push's schedule); empty: not written.
    sf_booking_link_field: str = ""
    #: Checkbox on the Event/ServiceAppointment that receives a no-show marked by staff; empty: not written.
    sf_no_show_field: str = ""
    #: SMTP relay for customer messages; empty host: messages are written as .eml files to ``data_dir``/mail.
    smtp_host: str = ""
    smtp_port: int = 587
    #: ``starttls`` (upgrade a plain connection), ``tls`` (implicit TLS, usually port 465) or ``none`` (loopback).
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "appointments@localhost"
    smtp_timeout_seconds: int = 30
    #: PEM file of CA certificates to trust for the SMTP relay (a private CA); empty: the system's.
    smtp_ca_file: str = ""
    #: Messages: attempts before a message is parked as a dead letter; the backoff doubles up to the maximum.
    message_max_attempts: int = 8
    message_backoff_seconds: int = 60
    message_backoff_max_seconds: int = 3600

    #: Whether ``public_url`` was derived from ``host`` and ``port`` (so a copy with another port follows it).
    public_url_derived: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.public_url:
            object.__setattr__(self, "public_url", served_url(self.host, self.port))
            object.__setattr__(self, "public_url_derived", True)

    def salesforce_configured(self) -> bool:
        """Whether Salesforce credentials are configured (``sf_auth`` set)."""
        return bool(self.sf_auth)

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir).resolve() / 'appointments.db'}"

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and validated."""
        if self.public_url_derived and "public_url" not in changes:
            changes["public_url"] = ""
        return _validated(dataclasses.replace(self, **changes))


def served_url(host: str, port: int) -> str:
    """``http://host:port`` as a browser on this machine reaches it (a wildcard host is 127.0.0.1)."""
    if host in {"", "0.0.0.0", "::", "[::]"}:  # noqa: S104 (a name for "every interface", not a bind)
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def env_name(name: str) -> str:
    """The environment variable of setting ``name``."""
    return ENV_PREFIX + name.upper()


def load_settings(
    environ: Mapping[str, str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read settings from defaults, an optional TOML file, the environment and ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or environ.get(env_name("config"))
    if path:
        values.update(_read_toml(Path(path)))
    known = {f.name: f for f in fields(Settings) if f.init}
    for f in known.values():
        raw = environ.get(env_name(f.name))
        if raw is not None:
            values[f.name] = _coerce(f.name, raw, _default_of(f))
    values.update(overrides)
    unknown = set(values) - set(known)
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(env_name(name), "unknown setting")
    for name, value in list(values.items()):
        values[name] = _coerce(name, value, _default_of(known[name]))
    return _validated(Settings(**values))


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[operator]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise SettingsError(env_name("config"), f"file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(env_name("config"), f"{path} is not valid TOML: {exc}") from exc
    section = data.get("appointments", data)
    if not isinstance(section, dict):
        raise SettingsError(env_name("config"), "[appointments] must be a table")
    return dict(section)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Turn ``value`` (a string from the environment, or a TOML value) into the default's type."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            if str(value).lower() in {"1", "true", "yes", "on"}:
                return True
            if str(value).lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected a boolean, got {value!r}")
        if isinstance(default, int):
            if isinstance(value, bool):
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        if isinstance(default, Mapping):
            if isinstance(value, str):
                value = _parse_mapping(value)
            if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
                raise ValueError("expected a table of strings")
            return dict(value)
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    except ValueError as exc:
        raise SettingsError(env_name(name), str(exc)) from exc


def _parse_mapping(raw: str) -> dict[str, str]:
    """Parse ``LABEL=VALUE;LABEL=VALUE`` (the environment form of a table)."""
    result: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        label, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"expected LABEL=VALUE pairs separated by ';', got {part!r}")
        result[label.strip()] = value.strip()
    return result


def _validated(settings: Settings) -> Settings:
    if not 1 <= settings.port <= 65535:
        raise SettingsError(env_name("port"), f"{settings.port} is not a TCP port")
    if settings.log_format not in {"text", "json"}:
        raise SettingsError(env_name("log_format"), "must be 'text' or 'json'")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(env_name("log_level"), "must be DEBUG, INFO, WARNING or ERROR")
    if settings.max_body_bytes < 1024:
        raise SettingsError(env_name("max_body_bytes"), "must be at least 1024")
    if not settings.ols_prefix.startswith("/") or settings.ols_prefix.endswith("/"):
        raise SettingsError(env_name("ols_prefix"), "must start with '/' and not end with one")
    for name in ("ols_legacy_timezone",):
        try:
            ZoneInfo(getattr(settings, name))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(env_name(name), f"unknown IANA time zone {getattr(settings, name)!r}") from exc
    url = urlsplit(settings.public_url)
    if url.scheme not in {"http", "https"} or not url.netloc:
        raise SettingsError(env_name("public_url"), "must be an absolute http(s) URL")
    if settings.database_url and "://" not in settings.database_url:
        raise SettingsError(
            env_name("database_url"), "must be a SQLAlchemy URL such as sqlite:///path or postgresql+psycopg://..."
        )
    if not 1 <= settings.page_size <= settings.max_page_size:
        raise SettingsError(env_name("page_size"), "must be between 1 and max_page_size")
    _validate_code_tables(settings)
    _validate_feeds(settings)
    _validate_salesforce(settings)
    _validate_scheduling(settings)
    _validate_booking(settings)
    _validate_jobs(settings)
    return settings


def _validate_jobs(settings: Settings) -> None:
    for name in ("webhook_delivery_interval_seconds", "hold_expiry_interval_seconds", "dav_prune_interval_seconds"):
        if not 1 <= getattr(settings, name) <= 86400:
            raise SettingsError(env_name(name), "must be between 1 and 86400")


def _validate_code_tables(settings: Settings) -> None:
    """The OLS labels and the interchange formats' code tables name canonical types and statuses."""
    bad = {v for v in settings.ols_type_labels.values()} - _CANONICAL_TYPES
    if bad or settings.ols_unknown_type not in _CANONICAL_TYPES:
        raise SettingsError(
            env_name("ols_type_labels"), f"unknown canonical types {sorted(bad) or [settings.ols_unknown_type]}"
        )
    bad = {v for v in settings.ols_status_labels.values()} - _CANONICAL_STATUSES
    if bad:
        raise SettingsError(env_name("ols_status_labels"), f"unknown canonical statuses {sorted(bad)}")
    for name in ("blueprint_event_types", "calendly_event_types", "timekit_calendar_types", "onsched_service_types"):
        bad = set(getattr(settings, name).values()) - _CANONICAL_TYPES
        if bad:
            raise SettingsError(env_name(name), f"unknown canonical types {sorted(bad)}")
    bad = set(settings.blueprint_statuses.values()) - _CANONICAL_STATUSES
    if bad:
        raise SettingsError(env_name("blueprint_statuses"), f"unknown canonical statuses {sorted(bad)}")
    for name in ("blueprint_event_types", "blueprint_statuses"):
        not_integers = [k for k in getattr(settings, name) if not k.strip().lstrip("-").isdigit()]
        if not_integers:
            raise SettingsError(env_name(name), f"Blueprint codes are integers, not {sorted(not_integers)}")


def _validate_feeds(settings: Settings) -> None:
    for name, low, high in (
        ("feed_window_back_days", 0, 3660),
        ("feed_window_ahead_days", 1, 3660),
        ("feed_cancelled_grace_days", 0, 3660),
        ("feed_refresh_minutes", 5, 10080),
        ("feed_rate_limit_per_minute", 1, 1_000_000),
        ("refusal_limit_per_minute", 1, 1_000_000),
    ):
        if not low <= getattr(settings, name) <= high:
            raise SettingsError(env_name(name), f"must be between {low} and {high}")
    template = settings.cockpit_url_template
    if template:
        parsed = urlsplit(template.replace("{id}", "x"))
        if "{id}" not in template or parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise SettingsError(env_name("cockpit_url_template"), "must be an http(s) URL containing {id}, or empty")
    ancestors = settings.calendar_frame_ancestors
    if not ancestors.strip() or any(c in ancestors for c in ";,\r\n"):
        raise SettingsError(env_name("calendar_frame_ancestors"), "a space-separated list of CSP sources")


def _validate_salesforce(settings: Settings) -> None:
    if settings.sf_auth not in {"", "jwt", "client_credentials", "password", "session"}:
        raise SettingsError(env_name("sf_auth"), "must be jwt, client_credentials, password, session or empty")
    if settings.sf_mode not in {"event", "service_appointment"}:
        raise SettingsError(env_name("sf_mode"), "must be 'event' or 'service_appointment'")
    if settings.sf_cancel_mode not in {"status", "delete"}:
        raise SettingsError(env_name("sf_cancel_mode"), "must be 'status' or 'delete'")
    if settings.sf_tech_setup_policy not in {"off", "propose", "book"}:
        raise SettingsError(env_name("sf_tech_setup_policy"), "must be 'off', 'propose' or 'book'")
    if settings.sf_push_busy_blocks and settings.sf_mode != "event":
        raise SettingsError(env_name("sf_push_busy_blocks"), "busy blocks are pushed as Events: needs sf_mode 'event'")
    if settings.sf_auth == "session" and not (settings.sf_instance_url and settings.sf_session_id):
        raise SettingsError(env_name("sf_instance_url"), "session mode needs sf_instance_url and sf_session_id")
    for name, low, high in (
        ("sf_timeout_seconds", 1, 600),
        ("sf_mirror_interval_seconds", 5, 86400),
        ("sf_push_interval_seconds", 5, 86400),
        ("sf_reconcile_hour", 0, 23),
        ("sf_overlap_minutes", 0, 1440),
        ("sf_page_size", 2, 2000),
        ("sf_push_batch_size", 1, 200),
        ("sf_max_attempts", 1, 100),
        ("sf_window_back_days", 1, 3660),
        ("sf_window_ahead_days", 1, 3660),
    ):
        if not low <= getattr(settings, name) <= high:
            raise SettingsError(env_name(name), f"must be between {low} and {high}")
    bad = set(settings.sf_status_categories.values()) - _CANONICAL_STATUSES
    if bad:
        raise SettingsError(env_name("sf_status_categories"), f"unknown canonical statuses {sorted(bad)}")
    bad = set(settings.sf_service_statuses) - _CANONICAL_STATUSES
    if bad:
        raise SettingsError(env_name("sf_service_statuses"), f"unknown canonical statuses {sorted(bad)}")
    _validate_value_table(settings, "sf_type_values", "sf_type_aliases", _CANONICAL_TYPES)
    _validate_value_table(settings, "sf_status_values", "sf_status_aliases", _CANONICAL_STATUSES)
    if settings.sf_default_type not in _CANONICAL_TYPES:
        raise SettingsError(env_name("sf_default_type"), f"must be one of {sorted(_CANONICAL_TYPES)}")
    for name, prefix, sobject in (
        ("sf_work_types", "08q", "WorkType"),
        ("sf_service_territories", "0Hh", "ServiceTerritory"),
    ):
        wrong = sorted(f"{k}={v}" for k, v in getattr(settings, name).items() if not _is_sf_id(v, prefix))
        if wrong:
            raise SettingsError(env_name(name), f"not {sobject} ids (15 or 18 characters starting {prefix}): {wrong}")


def _is_sf_id(value: object, prefix: str) -> bool:
    return isinstance(value, str) and len(value) in (15, 18) and value.isalnum() and value.startswith(prefix)


def _validate_value_table(settings: Settings, values_name: str, aliases_name: str, canonical: set[str]) -> None:
    """A picklist mapping: every canonical value written, aliases naming canonical values, no value read two ways."""
    values: Mapping[str, str] = getattr(settings, values_name)
    aliases: Mapping[str, str] = getattr(settings, aliases_name)
    if set(values) != canonical or not all(v.strip() for v in values.values()):
        missing, extra = sorted(canonical - set(values)), sorted(set(values) - canonical)
        raise SettingsError(
            env_name(values_name),
            f"needs a non-empty value for each of {sorted(canonical)} (missing {missing}, unknown {extra})",
        )
    bad = {f"{k}={v}" for k, v in aliases.items() if v not in canonical}
    if bad:
        raise SettingsError(env_name(aliases_name), f"unknown canonical values in {sorted(bad)}")
    written: dict[str, list[str]] = {}
    for name, value in values.items():
        written.setdefault(value, []).append(name)
    for value, names in written.items():
        read = aliases.get(value)
        if len(names) > 1 and read is None:
            raise SettingsError(
                env_name(aliases_name), f"{value!r} is written for {sorted(names)}: say which one it reads as"
            )
        if read is not None and read not in names:
            raise SettingsError(env_name(aliases_name), f"{value!r} is written for {names[0]} but read as {read}")


def _validate_scheduling(settings: Settings) -> None:
    if settings.scheduling_assignment not in {"round_robin", "least_loaded"}:
        raise SettingsError(env_name("scheduling_assignment"), "must be 'round_robin' or 'least_loaded'")
    if settings.scheduling_tech_setup_mode not in {"automatic", "proposed"}:
        raise SettingsError(env_name("scheduling_tech_setup_mode"), "must be 'automatic' or 'proposed'")
    for name, low, high in (
        ("scheduling_tech_setup_offset_days", 0, 60),
        ("scheduling_tech_setup_fallback_days", 0, 30),
        ("scheduling_hold_minutes", 1, 7 * 24 * 60),
        ("scheduling_max_window_days", 1, 366),
        ("webhook_max_attempts", 1, 100),
        ("webhook_backoff_seconds", 1, 86400),
        ("webhook_backoff_max_seconds", 1, 7 * 86400),
        ("webhook_timeout_seconds", 1, 300),
    ):
        if not low <= getattr(settings, name) <= high:
            raise SettingsError(env_name(name), f"must be between {low} and {high}")
    purposes = {"INITIAL", "TECH_SETUP", "FITTING", "FOLLOW_UP"}
    for purpose, minutes in settings.scheduling_durations.items():
        if purpose not in purposes or not minutes.isdigit() or not 5 <= int(minutes) <= 24 * 60:
            raise SettingsError(
                env_name("scheduling_durations"),
                f"{purpose}={minutes}: purposes are {sorted(purposes)}, 5..1440 minutes",
            )


def _validate_booking(settings: Settings) -> None:
    if settings.smtp_security not in {"starttls", "tls", "none"}:
        raise SettingsError(env_name("smtp_security"), "must be 'starttls', 'tls' or 'none'")
    for name, low, high in (
        ("booking_weeks_ahead", 1, 26),
        ("booking_rate_limit_per_minute", 1, 100_000),
        ("booking_link_rate_limit_per_minute", 1, 1_000_000),
        ("smtp_port", 1, 65535),
        ("smtp_timeout_seconds", 1, 600),
        ("message_max_attempts", 1, 100),
        ("message_backoff_seconds", 1, 86400),
        ("message_backoff_max_seconds", 1, 7 * 86400),
    ):
        if not low <= getattr(settings, name) <= high:
            raise SettingsError(env_name(name), f"must be between {low} and {high}")
    if settings.booking_weeks_ahead * 7 > settings.scheduling_max_window_days:
        raise SettingsError(env_name("booking_weeks_ahead"), "must fit in scheduling_max_window_days")
    try:
        reminder_offsets(settings.booking_reminder_offsets_hours)
    except ValueError as exc:
        raise SettingsError(env_name("booking_reminder_offsets_hours"), str(exc)) from exc


def reminder_offsets(text: str) -> tuple[int, ...]:
    """The reminder offsets in hours (``"24"``, ``"48,2"``; empty: none), largest first."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() and 1 <= int(p) <= 24 * 30 for p in parts):
        raise ValueError(f"comma-separated whole hours between 1 and 720, got {text!r}")
    return tuple(sorted({int(p) for p in parts}, reverse=True))
