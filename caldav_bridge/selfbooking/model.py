"""What the self-booking services take and give (pydantic at the edges, dataclasses inside)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from caldav_bridge.model.appointment import ShortText
from caldav_bridge.model.timestamps import UtcTimestamp

__all__ = ["BookingLink", "IssuedBookingLink", "LinkDraft", "LinkSalesforce", "is_active"]

LinkKind = Literal["team", "personal"]


class LinkSalesforce(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opportunity_gid: ShortText | None = None
    customer_gid: ShortText | None = None


class LinkDraft(BaseModel):
    """A booking link to issue: for a team's purpose, or personal (one lead or opportunity)."""

    model_config = ConfigDict(extra="forbid")

    kind: LinkKind = Field("team", description="``team``: anyone with the link; ``personal``: one lead/opportunity")
    team_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(description="The team whose members are booked")
    purpose: Literal["INITIAL"] = Field("INITIAL", description="What customers book (the INITIAL consultation)")
    name: Annotated[str, Field(min_length=1, max_length=255)] = Field(description="For staff: what the link is for")
    expires_at: UtcTimestamp | None = Field(None, description="The link stops working then; default: never")
    salesforce: LinkSalesforce = Field(default_factory=LinkSalesforce)

    @model_validator(mode="after")
    def _personal_has_ids(self) -> LinkDraft:
        has_ids = bool(self.salesforce.opportunity_gid or self.salesforce.customer_gid)
        if self.kind == "personal" and not has_ids:
            raise ValueError("a personal link needs salesforce.opportunity_gid or salesforce.customer_gid")
        if self.kind == "team" and has_ids:
            raise ValueError("a team link is for anyone: Salesforce ids belong on a personal link")
        return self


class BookingLink(BaseModel):
    id: str
    kind: LinkKind
    team_id: str
    purpose: str
    name: str
    salesforce: LinkSalesforce
    expires_at: UtcTimestamp | None
    revoked_at: UtcTimestamp | None
    created_at: UtcTimestamp
    created_by: str | None
    bookings: int = Field(0, description="Bookings made through the link (held ones aside)")
    active: bool = Field(description="Neither revoked nor expired")


class IssuedBookingLink(BaseModel):
    """A new link: its secret URL is shown here once (only its hash is stored)."""

    link: BookingLink
    secret: str | None = Field(description="null only in a replay (Idempotency-Key): the secret was shown once")
    url: str | None = Field(description="null only in a replay (Idempotency-Key): it holds the secret")


def is_active(expires_at: datetime | None, revoked_at: datetime | None, now: datetime) -> bool:
    return revoked_at is None and (expires_at is None or expires_at > now)
