"""What a sync job needs: the runtime's unit of work, a gateway, the field mapping and the knobs."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from caldav_bridge.converters.salesforce import SalesforceMapping
from caldav_bridge.salesforce.gateway import GatewayConfig, SalesforceGateway
from caldav_bridge.salesforce.preflight import PreflightGate
from caldav_bridge.services.actor import Actor, system_actor
from caldav_bridge.store.uow import UnitOfWork

__all__ = ["Progress", "SyncContext"]

#: ``progress(done, total_or_None)``: called as a run advances (the CLI draws a bar with it).
Progress = Callable[[int, int | None], None]


@dataclass
class SyncContext:
    """One sync job's world. ``gateway_factory`` builds a fresh gateway per run."""

    uow_factory: Callable[[], UnitOfWork]
    gateway_factory: Callable[[], SalesforceGateway]
    mapping: SalesforceMapping
    page_size: int = 2000
    push_batch_size: int = 200
    max_attempts: int = 10
    overlap: timedelta = timedelta(minutes=5)
    window_back: timedelta = timedelta(days=90)
    window_ahead: timedelta = timedelta(days=365)
    #: How long a claimed outbox row stays claimed before another worker may take it over.
    claim_lease: timedelta = timedelta(minutes=5)
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    rng: random.Random = field(default_factory=random.Random)
    #: Field on the fitter's User / ServiceResource that receives their feed URL ("" = off).
    feed_url_field: str = ""
    #: The service's public base URL, from which feed URLs are built.
    public_url: str = ""
    actor: Actor = field(default_factory=lambda: system_actor("sync", "salesforce"))
    #: Set by ``serve`` and ``worker``: the jobs stay off until the org passes the preflight.
    gate: PreflightGate | None = None

    @classmethod
    def from_runtime(cls, rt: Any, session_factory: Callable[[], Any] | None = None) -> SyncContext:
        """Build from a :class:`caldav_bridge.runtime.Runtime`; ``session_factory`` makes the ``requests.Session``."""
        s = rt.settings
        config = GatewayConfig.from_settings(s)

        def gateway() -> SalesforceGateway:
            return SalesforceGateway(config, session_factory() if session_factory else None)

        return cls(
            uow_factory=rt.uow,
            gateway_factory=gateway,
            mapping=SalesforceMapping.from_settings(s),
            page_size=s.sf_page_size,
            push_batch_size=s.sf_push_batch_size,
            max_attempts=s.sf_max_attempts,
            overlap=timedelta(minutes=s.sf_overlap_minutes),
            window_back=timedelta(days=s.sf_window_back_days),
            window_ahead=timedelta(days=s.sf_window_ahead_days),
            feed_url_field=s.sf_feed_url_field,
            public_url=s.public_url,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with full jitter: a random delay up to base·2^(attempts-1), capped."""
        ceiling = min(self.backoff_cap.total_seconds(), self.backoff_base.total_seconds() * 2 ** max(0, attempts - 1))
        return timedelta(seconds=self.rng.uniform(ceiling / 2, ceiling))
