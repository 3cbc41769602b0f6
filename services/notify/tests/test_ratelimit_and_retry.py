from __future__ import annotations

import random

import pytest

from casedesk_notify.adapters.rate_limit import TokenBucket
from casedesk_notify.domain.retry import RetryPolicy
from casedesk_runtime.testing.clocks import ManualClock


def test_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock = ManualClock(100.0)
    bucket = TokenBucket(rate_per_s=4, burst=3, clock=clock)  # binary fractions: exact sums
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == 0.25
    clock.now += 0.125
    assert bucket.try_take() == 0.125
    clock.now += 0.125
    assert bucket.try_take() == 0.0
    clock.now += 100  # a long pause refills up to the burst, not beyond
    assert [bucket.try_take() for _ in range(4)][-1] > 0


async def test_acquire_waits_for_the_next_token() -> None:
    bucket = TokenBucket(rate_per_s=200, burst=1)
    await bucket.acquire()
    assert bucket.try_take() > 0
    await bucket.acquire()  # returns after ~5 ms instead of failing


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (1, 0)])
def test_bucket_rejects_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


def test_backoff_grows_exponentially_with_jitter_below_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=1, max_delay_s=30, rng=random.Random(1))
    for attempts in range(1, 10):
        ceiling = min(30, 2 ** (attempts - 1))
        delays = [policy.delay_after(attempts) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered, not synchronised
    assert policy.gives_up_after(10) and not policy.gives_up_after(9)


def test_the_default_budget_outlasts_a_provider_refusing_for_minutes() -> None:
    # Chaos defect 3: a minute of SMTP 421s dead-lettered notices; the budget must not end
    # inside a few minutes of refusals, whatever the jitter draws.
    policy = RetryPolicy(rng=random.Random(5))
    assert policy.shortest_span_s() >= 6 * 60
    for _ in range(200):
        spent = sum(policy.delay_after(n) for n in range(1, policy.max_attempts))
        assert spent >= policy.shortest_span_s()
    assert policy.shortest_span_s() == sum(min(300.0, 0.5 * 2 ** (n - 1)) / 2 for n in range(1, 12))
