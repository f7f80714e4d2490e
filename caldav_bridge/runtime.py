"""What a running service holds: its settings, database engine, event handlers and unit-of-work factory.

Built by the entry points (``feeds.create_app``, the CLI) when they start, never at import time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from caldav_bridge.converters import (
    BlueprintOptions,
    CalendlyOptions,
    CanonicalOptions,
    OnschedOptions,
    TimekitOptions,
)
from caldav_bridge.converters.ical_items import IcalOptions
from caldav_bridge.converters.ols import OlsOptions
from caldav_bridge.converters.salesforce import SalesforceMapping
from caldav_bridge.events.bus import MessageBus
from caldav_bridge.events.wiring import build_bus, register_feed_changes
from caldav_bridge.infra.feed_changes import FeedChanges
from caldav_bridge.infra.fetch_log import FetchLogs
from caldav_bridge.store import encoded_copies
from caldav_bridge.store.engine import make_engine, make_session_factory
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.store.write_clock import WriteClocks
from config import Settings

__all__ = ["Runtime"]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    #: Every domain-event handler, registered once here (:func:`caldav_bridge.events.wiring.build_bus`).
    bus: MessageBus = field(init=False)
    #: Committed writes seen through this runtime's sessions (the feeds' caches follow them).
    write_clocks: WriteClocks = field(init=False)

    #: The feeds' fetch logs of the apps built on this runtime (closed with it).
    fetch_logs: FetchLogs = field(init=False)
    #: Calendars whose feeds changed, shared with the deployment's other processes on this host.
    feed_changes: FeedChanges = field(init=False)

    def __post_init__(self) -> None:
        self.bus = build_bus(self.settings)
        self.write_clocks = WriteClocks.attached_to(self.session_factory)
        encoded_copies.keep_in_step(self.session_factory)
        self.fetch_logs = FetchLogs()
        self.feed_changes = FeedChanges(self._feed_changes_path())
        register_feed_changes(self.bus, self.feed_changes)

    def _feed_changes_path(self) -> Path | None:
        """One file per database in ``data_dir`` (``None``, private to the process, for an in-memory database)."""
        url = self.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None
        key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
        return Path(self.settings.data_dir).resolve() / f"feed-changes-{key}"

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.resolved_database_url())
        return cls(settings, engine, make_session_factory(engine))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory, self.bus)

    @property
    def ols_options(self) -> OlsOptions:
        s = self.settings
        return OlsOptions(
            legacy_timezone=s.ols_legacy_timezone,
            type_labels=s.ols_type_labels,
            status_labels=s.ols_status_labels,
            unknown_type=s.ols_unknown_type,
            default_duration=timedelta(minutes=s.ols_default_duration_minutes),
        )

    @property
    def converter_options(self) -> dict[str, Any]:
        """The interchange converters' options (code tables, switches), by format name, from the settings."""
        s = self.settings
        return {
            "canonical": CanonicalOptions(),
            "blueprint": BlueprintOptions(
                event_types=s.blueprint_event_types,  # type: ignore[arg-type]  # "7" keys: converted on build
                statuses=s.blueprint_statuses,  # type: ignore[arg-type]
                include_patient_details=s.blueprint_include_patient_details,
            ),
            "calendly": CalendlyOptions(event_types=s.calendly_event_types),  # type: ignore[arg-type]
            "timekit": TimekitOptions(calendar_types=s.timekit_calendar_types),  # type: ignore[arg-type]
            "onsched": OnschedOptions(service_types=s.onsched_service_types),  # type: ignore[arg-type]
            "ols": self.ols_options,
            "ical": IcalOptions(),
            "salesforce": SalesforceMapping.from_settings(s),  # the sync's mapping (value tables included)
        }

    def close(self) -> None:
        """Write what the fetch logs still hold, then release the database connections."""
        self.fetch_logs.close()
        self.engine.dispose()
