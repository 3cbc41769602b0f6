"""Token buckets: bursts, refill, and all-or-nothing admission."""

from __future__ import annotations

import pytest

from casedesk_intake.domain.rate_limits import Rate, RateLimited, RateLimiter, admit


def test_burst_then_refusal_with_the_wait_until_the_next_token() -> None:
    citizens = RateLimiter("citizen", Rate(per_second=2, burst=3))
    for _ in range(3):
        admit(100.0, (citizens, "ivanov"))
    with pytest.raises(RateLimited) as refused:
        admit(100.0, (citizens, "ivanov"))
    assert refused.value.scope == "citizen"
    assert refused.value.retry_after == pytest.approx(0.5)
    admit(100.5, (citizens, "ivanov"))


def test_buckets_are_per_key() -> None:
    citizens = RateLimiter("citizen", Rate(per_second=1, burst=1))
    admit(0.0, (citizens, "ivanov"))
    admit(0.0, (citizens, "petrov"))
    with pytest.raises(RateLimited):
        admit(0.0, (citizens, "ivanov"))


def test_a_refused_call_takes_no_token_from_the_other_bucket() -> None:
    frontends = RateLimiter("frontend", Rate(per_second=1, burst=2))
    citizens = RateLimiter("citizen", Rate(per_second=1, burst=1))
    admit(0.0, (frontends, "chat"), (citizens, "ivanov"))
    with pytest.raises(RateLimited):
        admit(0.0, (frontends, "chat"), (citizens, "ivanov"))
    admit(0.0, (frontends, "chat"), (citizens, "petrov"))  # the frontend still had its token


def test_refill_never_exceeds_the_burst() -> None:
    citizens = RateLimiter("citizen", Rate(per_second=10, burst=2))
    admit(0.0, (citizens, "ivanov"))
    for _ in range(2):
        admit(1000.0, (citizens, "ivanov"))
    with pytest.raises(RateLimited):
        admit(1000.0, (citizens, "ivanov"))


def test_least_recently_used_buckets_are_dropped_beyond_the_limit() -> None:
    citizens = RateLimiter("citizen", Rate(per_second=1, burst=1), max_keys=2)
    admit(0.0, (citizens, "a"))
    admit(0.0, (citizens, "b"))
    admit(0.0, (citizens, "c"))  # "a" is forgotten and comes back with a full bucket
    admit(0.0, (citizens, "a"))
    with pytest.raises(RateLimited):
        admit(0.0, (citizens, "c"))


@pytest.mark.parametrize(("per_second", "burst"), [(0, 1), (1, 0.5), (-1, 5)])
def test_nonsense_rates_are_refused(per_second: float, burst: float) -> None:
    with pytest.raises(ValueError):
        Rate(per_second, burst)
