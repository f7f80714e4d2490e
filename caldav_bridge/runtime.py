"""What a running service holds: its settings, database engine and unit-of-work factory.

Built by the entry points (``feeds.create_app``, the CLI) when they start, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from caldav_bridge.converters.ols import OlsOptions
from caldav_bridge.store.engine import make_engine, make_session_factory
from caldav_bridge.store.uow import UnitOfWork
from config import Settings

__all__ = ["Runtime"]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine | None = None) -> Runtime:
        engine = engine or make_engine(settings.resolved_database_url())
        return cls(settings, engine, make_session_factory(engine))

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

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

    def close(self) -> None:
        self.engine.dispose()
