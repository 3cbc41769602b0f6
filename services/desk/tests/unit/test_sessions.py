from __future__ import annotations

import pytest

from casedesk_desk.domain.sessions import SessionStore
from casedesk_runtime.testing.clocks import ManualClock


def test_a_session_lives_while_used_and_ends_after_the_idle_time() -> None:
    clock = ManualClock()
    store = SessionStore(idle_s=60, clock=clock)
    session = store.new()
    clock.now += 50
    assert store.get(session.session_id) is session  # touched: another 60 s from here
    clock.now += 50
    assert store.get(session.session_id) is session
    clock.now += 61
    assert store.get(session.session_id) is None
    assert len(store) == 0


def test_renewal_kills_the_old_id_and_changes_the_csrf_token() -> None:
    store = SessionStore(idle_s=60)
    session = store.new()
    old_id, old_csrf = session.session_id, session.csrf_token
    store.renew(session)
    assert store.get(old_id) is None
    assert store.get(session.session_id) is session
    assert session.csrf_token != old_csrf


def test_an_ended_or_unknown_session_is_none() -> None:
    store = SessionStore(idle_s=60)
    session = store.new()
    store.end(session.session_id)
    assert store.get(session.session_id) is None
    assert store.get("") is None and store.get(None) is None and store.get("forged") is None


def test_idle_sessions_are_dropped_when_new_ones_start() -> None:
    clock = ManualClock()
    store = SessionStore(idle_s=60, clock=clock)
    store.new()
    clock.now += 61
    store.new()
    assert len(store) == 1


def test_the_idle_time_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SessionStore(idle_s=0)
