"""WatchMyCase's rules (domain/watching.py): which events the citizen sees, and when a stream
ends; and through which frontend channel a citizen's rating came (domain/frontends.py)."""

from __future__ import annotations

import pytest

from casedesk_intake.domain.frontends import Frontend
from casedesk_intake.domain.watching import StreamLifetime, WatchLimits, citizen_sees
from casedesk_vocabulary.enums import Channel


@pytest.mark.parametrize(
    ("event", "public", "seen"),
    [
        ("status_changed", False, True),
        ("answer_rated", False, True),
        ("commented", True, True),
        ("commented", False, False),  # an internal note
        ("assigned", False, False),
        ("escalated", False, False),
        ("attachment_added", False, False),
        ("linked", False, False),
        ("callback_recorded", False, False),
        ("", False, False),  # an event this intake does not know yet
    ],
)
def test_only_what_the_citizen_sees_is_a_change(event: str, public: bool, seen: bool) -> None:
    assert citizen_sees(event, public) is seen


def test_a_stream_ends_idle_after_its_last_change_and_at_the_latest_at_its_lifetime() -> None:
    lifetime = StreamLifetime(WatchLimits(idle_s=10, max_s=25), began=100.0, proof_ends=None)
    assert lifetime.seconds_left(100.0) == 10
    lifetime.sent(108.0)
    assert lifetime.seconds_left(108.0) == 10, "the idle time counts from the last change"
    lifetime.sent(120.0)
    assert lifetime.seconds_left(120.0) == 5, "never beyond the lifetime"
    assert lifetime.seconds_left(130.0) == 0
    assert not lifetime.proof_expired(1e9)


def test_an_expiring_proof_ends_the_stream_first() -> None:
    lifetime = StreamLifetime(WatchLimits(idle_s=10, max_s=25), began=0.0, proof_ends=4.0)
    assert lifetime.seconds_left(1.0) == 3
    assert not lifetime.proof_expired(3.9) and lifetime.proof_expired(4.0)


@pytest.mark.parametrize(("idle", "lifetime"), [(0, 1), (1, 0), (-1, 5)])
def test_limits_must_be_positive(idle: float, lifetime: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        WatchLimits(idle, lifetime)


@pytest.mark.parametrize(
    ("channels", "case_channel", "expected"),
    [
        ({"PORTAL_CHAT"}, Channel.EMAIL, Channel.PORTAL_CHAT),
        ({"PORTAL_CHAT"}, Channel.PORTAL_CHAT, Channel.PORTAL_CHAT),
        ({"EMAIL", "PHONE"}, Channel.PHONE, Channel.PHONE),
        ({"PHONE", "EMAIL"}, Channel.MFC, Channel.EMAIL),  # the contract's order
        ({"SOCIAL"}, None, Channel.SOCIAL),
    ],
)
def test_a_rating_comes_by_the_frontends_channel(
    channels: set[str], case_channel: Channel | None, expected: Channel
) -> None:
    assert Frontend("f", frozenset(channels)).channel_for(case_channel) is expected
