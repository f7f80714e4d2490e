"""``RateLimiter.try_take``: takes a request when one is left, and leaves a refusal for ``check`` to report."""

from __future__ import annotations

from caldav_bridge.infra.rate_limit import RateLimiter


def test_try_take_takes_while_allowed_and_changes_nothing_when_not() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.try_take("k") and limiter.try_take("k")
    assert not limiter.try_take("k") and not limiter.try_take("k")
    refused = limiter.check("k")
    assert not refused.allowed and refused.first_refusal  # try_take's misses did not use up the first refusal
    now[0] = 30.0  # one request back (2 a minute)
    assert limiter.try_take("k") and not limiter.try_take("k")
