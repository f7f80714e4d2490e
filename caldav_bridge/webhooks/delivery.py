"""Deliver queued webhook events: signed POSTs with retries and exponential backoff.

:func:`deliver_due` is the job (``appointment-service webhooks deliver --once``, or the
scheduler): it leases due deliveries in one short transaction, POSTs them outside any
transaction, and records each attempt in another. A delivery that fails is retried after
``backoff * 2**(attempts-1)`` seconds (capped); after ``max_attempts`` it is marked ``failed``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from caldav_bridge.clock import utcnow
from caldav_bridge.store.uow import UnitOfWork
from caldav_bridge.webhooks.destinations import insecure_hosts, post
from caldav_bridge.webhooks.privacy import DEFAULT_PRIVACY, redact
from caldav_bridge.webhooks.repository import WebhookRepository
from caldav_bridge.webhooks.signing import signature_header
from caldav_bridge.webhooks.tables import WebhookAttemptRow

__all__ = ["DeliveryReport", "WebhookOptions", "backoff", "deliver_due", "http_post"]

USER_AGENT = "appointment-service-webhooks/1"
MAX_ERROR = 1000


@dataclass(frozen=True)
class WebhookOptions:
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(hours=1)
    timeout: float = 10.0
    #: Hosts (as written in URLs) that may be reached over http and on private addresses.
    insecure_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Any) -> WebhookOptions:
        return cls(
            max_attempts=settings.webhook_max_attempts,
            backoff=timedelta(seconds=settings.webhook_backoff_seconds),
            backoff_max=timedelta(seconds=settings.webhook_backoff_max_seconds),
            timeout=float(settings.webhook_timeout_seconds),
            insecure_hosts=insecure_hosts(settings.webhook_insecure_hosts),
        )


@dataclass(frozen=True)
class DeliveryReport:
    attempted: int
    delivered: int
    failed: int
    retrying: int


#: ``(url, body, headers, timeout) -> (status or None, error or None)``.
Sender = Callable[[str, bytes, dict[str, str], float], tuple[int | None, str | None]]


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST to a public https destination (see :mod:`caldav_bridge.webhooks.destinations`)."""
    return post(url, body, headers, timeout)


def backoff(attempts: int, options: WebhookOptions) -> timedelta:
    """The wait after the ``attempts``-th failed attempt."""
    return min(options.backoff * (2 ** max(attempts - 1, 0)), options.backoff_max)


def deliver_due(
    make_uow: Callable[[], UnitOfWork],
    options: WebhookOptions,
    *,
    limit: int = 50,
    sender: Sender | None = None,
    now: Callable[[], datetime] = utcnow,
) -> DeliveryReport:
    """Attempt every delivery that is due (at most ``limit``), once each.

    The default sender checks each destination, and the address it resolves to, at every attempt
    (``options.insecure_hosts`` as the exceptions); each payload is cut to its subscription's privacy.
    """
    send: Sender = sender if sender is not None else functools.partial(post, insecure=options.insecure_hosts)

    leased: list[tuple[str, str, str, str, bytes]] = []
    with make_uow() as uow:
        moment = now()
        lease = moment + timedelta(seconds=options.timeout + 30)
        for delivery, subscription in uow.repo(WebhookRepository).lease_due(moment, limit):
            payload = redact(delivery.payload, subscription.events.get("privacy", DEFAULT_PRIVACY))
            body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
            leased.append((delivery.id, delivery.event_type, subscription.url, subscription.secret, body))
            delivery.next_attempt_at = lease  # another worker skips it while this one tries
        uow.commit()
    delivered = failed = retrying = 0
    for delivery_id, event_type, url, secret, body in leased:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Webhook-Id": delivery_id,
            "Webhook-Event": event_type,
            "Webhook-Timestamp": str(timestamp),
            "Webhook-Signature": signature_header(secret, timestamp, body),
        }
        started = time.monotonic()
        status, error = send(url, body, headers, options.timeout)
        elapsed = int((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        with make_uow() as uow:
            webhooks = uow.repo(WebhookRepository)
            row = webhooks.delivery(delivery_id)
            if row is None:  # the subscription was deleted meanwhile
                continue
            moment = now()
            row.attempts += 1
            row.last_status = status
            row.last_error = None if ok else (error or f"HTTP {status}")[:MAX_ERROR]
            webhooks.add(
                WebhookAttemptRow(
                    delivery_id=row.id, at=moment, status=status, error=row.last_error, duration_ms=elapsed
                )
            )
            if ok:
                row.state, row.delivered_at = "delivered", moment
                delivered += 1
            elif row.attempts >= options.max_attempts:
                row.state = "failed"
                failed += 1
            else:
                row.next_attempt_at = moment + backoff(row.attempts, options)
                retrying += 1
            uow.commit()
    return DeliveryReport(len(leased), delivered, failed, retrying)
