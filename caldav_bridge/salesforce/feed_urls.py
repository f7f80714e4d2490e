"""Write each fitter's feed URL to a configurable field on their Salesforce record (a step of the push job).

- Target: the fitter's mirrored Salesforce User (``event`` mode) or the active ServiceResource whose
  ``RelatedRecordId`` is that User (``service_appointment`` mode); field ``sf_feed_url_field``
  (empty: the step is off). Fitters without a mirrored, active record are left alone.
- The URL comes from the fitter's dedicated feed token named ``Salesforce`` (the consumer that
  ``appointment-service feeds urls --consumer Salesforce`` also uses). Tokens are stored hashed,
  so a URL exists only at the moment a token is issued: a fitter without that token gets one; one
  whose token is not the one last written (rotated or revoked by someone, written field or public
  URL changed, or never written) gets it rotated, and the new URL is written.
- ``sf_users.feed_urls_hash`` records what was written (record field, token id, public URL), after
  Salesforce accepted it. A run with nothing to change makes no Salesforce call (idempotent). A
  failed write leaves the hash alone, so the next run rotates and writes again: a URL is never
  recorded as written unless it was.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from caldav_bridge.model.feeds import FeedTokenDraft, Privacy
from caldav_bridge.model.requests import CalendarKind
from caldav_bridge.salesforce.gateway import SalesforceGateway, SalesforcePermanentError, SalesforceTransientError
from caldav_bridge.salesforce.mirror import RunResult
from caldav_bridge.salesforce.sf_users import SfUsers
from caldav_bridge.salesforce.sync_context import SyncContext
from caldav_bridge.services import feed_tokens

__all__ = ["CONSUMER", "publish_feed_urls", "written_hash"]

log = logging.getLogger(__name__)
#: The feed token's name (its consumer): one per fitter, revocable on its own.
CONSUMER = "Salesforce"


def written_hash(sobject: str, field_name: str, token_id: str, base_url: str) -> str:
    """What ``sf_users.feed_urls_hash`` holds once a token's URL is written to ``sobject.field_name``."""
    return hashlib.sha256(f"{sobject}.{field_name}\n{token_id}\n{base_url.rstrip('/')}".encode()).hexdigest()


@dataclass
class _Target:
    calendar_id: str
    sf_id: str
    sobject: str
    token_id: str | None


def _plan(ctx: SyncContext) -> list[_Target]:
    field_name, base = ctx.feed_url_field, ctx.public_url
    resource_mode = ctx.mapping.mode == "service_appointment"
    sobject = "ServiceResource" if resource_mode else "User"
    plan: list[_Target] = []
    with ctx.uow_factory() as uow:
        sf_users = uow.repo(SfUsers)
        calendars = uow.calendars.owned_of_kind(CalendarKind.FITTER.value)
        users = sf_users.active_users_of(c.owner_user_id for c in calendars)
        resources = sf_users.resources_of(u.sf_id for u in users.values()) if resource_mode else {}
        seen: set[str] = set()
        for calendar in calendars:
            user = users.get(calendar.owner_user_id or "")
            target = (resources.get(user.sf_id) if resource_mode else user) if user is not None else None
            if target is None or target.sf_id in seen:
                continue  # no Salesforce record to write to (yet); or a second fitter calendar of one person
            seen.add(target.sf_id)
            active = [t for t in uow.feeds.tokens_of(calendar.id) if t.name == CONSUMER and t.revoked_at is None]
            token_id = active[-1].id if active else None
            if token_id is not None and target.feed_urls_hash == written_hash(sobject, field_name, token_id, base):
                continue  # the record holds the current URL
            plan.append(_Target(calendar.id, target.sf_id, sobject, token_id))
    return plan


def publish_feed_urls(ctx: SyncContext, gw: SalesforceGateway, result: RunResult) -> None:
    """Issue or rotate the Salesforce feed token of each fitter whose record lacks a current URL, and write it."""
    field_name, base = ctx.feed_url_field, ctx.public_url
    if not field_name:
        return
    plan = _plan(ctx)
    for start in range(0, len(plan), 200):
        chunk = plan[start : start + 200]
        written: list[tuple[_Target, str]] = []
        bodies: list[dict[str, str]] = []
        for target in chunk:
            if target.token_id is None:
                draft = FeedTokenDraft(name=CONSUMER, privacy=Privacy.MINIMAL)
                issued = feed_tokens.issue(ctx.uow_factory(), ctx.actor, target.calendar_id, draft, base)
            else:
                issued = feed_tokens.rotate(ctx.uow_factory(), ctx.actor, target.calendar_id, target.token_id, base)
            assert issued.urls is not None  # null only in an HTTP replay; a token issued here always has them
            written.append((target, issued.token.id))
            bodies.append({"id": target.sf_id, field_name: issued.urls.url})
        try:  # one sObject per mode, so one call per chunk
            answers = gw.update_many(chunk[0].sobject, bodies)
        except (SalesforceTransientError, SalesforcePermanentError) as exc:
            result.failed += len(written)
            result.note(f"feed URLs: {exc.code or exc.status or type(exc).__name__}: {exc.message}"[:500])
            continue
        with ctx.uow_factory() as uow:
            for (target, token_id), answer in zip(written, answers, strict=True):
                if not answer.success:
                    result.failed += 1
                    result.note(f"feed URL of {target.sf_id}: {answer.code}: {answer.message}")
                    continue
                row = uow.repo(SfUsers).get(target.sf_id)
                if row is not None:
                    row.feed_urls_hash = written_hash(target.sobject, field_name, token_id, base)
                result.feed_urls += 1
            uow.commit()
