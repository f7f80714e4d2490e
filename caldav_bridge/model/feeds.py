"""Feed tokens, feed URLs and feed fetches as the API and CLI show them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = [
    "FULL_PRIVACY_WARNING",
    "MAX_ALARM_MINUTES",
    "FeedFetch",
    "FeedToken",
    "FeedTokenDraft",
    "FeedUrls",
    "FitterFeedUrls",
    "IssuedFeedToken",
    "Privacy",
]

MAX_ALARM_MINUTES = 7 * 24 * 60
FULL_PRIVACY_WARNING = (
    "privacy 'full' puts customers' names and appointment notes into the feed: Google, Microsoft and every other "
    "subscriber keep their own copies, which revoking the token does not delete. Prefer 'minimal'."
)


class Privacy(StrEnum):
    """How much of an appointment a feed or calendar page shows."""

    #: Only that the time is taken: "Busy", no type, location, names or link.
    BUSY = "busy"
    #: Type, location and the customer's initials; no names, phone, notes or birthdate (the default).
    MINIMAL = "minimal"
    #: The appointment's name, description and customers' names (opt-in: subscribers keep copies).
    FULL = "full"


class FeedTokenDraft(BaseModel):
    """A new feed token: one per consumer (e.g. "Google", "Salesforce")."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=64, examples=["Google"])]
    privacy: Privacy = Field(
        Privacy.BUSY,
        description="busy (default), minimal or full; more than busy only by the calendar's owner or an admin "
        "(audited). Warning: with 'full', Google and Microsoft keep copies of customers' names and notes.",
    )
    alarm_minutes: Annotated[
        int | None, Field(ge=0, le=MAX_ALARM_MINUTES, description="A VALARM this many minutes before each start")
    ] = None


class FeedUrls(BaseModel):
    """Where a feed token can be used."""

    url: str = Field(
        description="The feed, http or https as the public URL is (paste into Google 'From URL', Outlook "
        "'Subscribe from web', Salesforce)"
    )
    webcal: str = Field(description="The feed as webcal:// (click to subscribe in Apple Calendar, Outlook desktop)")
    google: str = Field(description="Google Calendar's one-click subscribe link")
    page: str = Field(description="The calendar page (HTML week and agenda view, embeddable in Salesforce)")


class FeedToken(BaseModel):
    """A feed token without its secret (only its SHA-256 is stored)."""

    id: str
    calendar_id: str
    name: str
    privacy: Privacy
    alarm_minutes: int | None
    created_at: UtcTimestamp
    revoked_at: UtcTimestamp | None
    last_used_at: UtcTimestamp | None


class IssuedFeedToken(BaseModel):
    """A newly issued (or rotated) token: ``secret`` and ``urls`` are shown this once."""

    token: FeedToken
    secret: str | None = Field(description="null only in a replay (Idempotency-Key): the secret was shown once")
    urls: FeedUrls | None = Field(description="null only in a replay (Idempotency-Key): they hold the secret")
    warning: str | None = None


class FitterFeedUrls(BaseModel):
    """A fitter's feed for one consumer (e.g. Salesforce); ``urls`` only when a token was issued now."""

    username: str
    calendar_id: str
    calendar_name: str
    token_id: str
    issued: bool = Field(description="true: a token was issued (or rotated) now and its URLs are shown")
    privacy: Privacy = Field(description="the token's privacy level (an existing token keeps its own)")
    urls: FeedUrls | None


class FeedFetch(BaseModel):
    """One fetch of a feed or calendar page."""

    at: UtcTimestamp
    token_id: str | None
    calendar_id: str | None
    user_agent: str | None
    client_addr: str | None
    status: int
