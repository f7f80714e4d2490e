"""``RateLimiter.try_take``: takes a request when one is left, and leaves a refusal for ``check`` to report."""

from __future__ import annotations

import pytest

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


def test_retry_after_says_when_a_request_is_back_and_changes_nothing() -> None:
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert limiter.retry_after("k") == 0.0
    assert limiter.try_take("k") and limiter.try_take("k")
    assert limiter.retry_after("k") == 30.0
    now[0] = 10.0
    assert limiter.retry_after("k") == pytest.approx(20.0) == limiter.retry_after("k")  # asking takes nothing
    now[0] = 30.0
    assert limiter.retry_after("k") == 0.0 and limiter.try_take("k")
