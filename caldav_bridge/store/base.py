"""The declarative base every table module maps onto (one metadata for Alembic and the schema test).

Kept apart from :mod:`caldav_bridge.store.tables` so that the feature packages' table modules
(scheduling, webhooks, self-booking, the CalDAV store, the Salesforce sync, jobs) import it without
importing the core tables, which import them in turn to register them: no import cycle.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from caldav_bridge.store.types import JsonDocument, UtcDateTime

__all__ = ["NAMING", "Base", "new_id"]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}
