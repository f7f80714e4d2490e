"""The calendar as the API shows it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = ["Calendar"]


class Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    kind: CalendarKind
    timezone: str
    owner_user_id: str | None
    team_id: str | None
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
