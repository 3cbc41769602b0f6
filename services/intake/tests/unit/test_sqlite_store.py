"""Idempotency records, the linking index and one-time codes on SQLite (PostgreSQL:
tests/integration)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from casedesk_intake.__main__ import open_store
from casedesk_intake.application.ports import IntakeStore, RecentCase, RequestMismatch


@pytest.fixture
async def store(tmp_path: Path):
    opened = await open_store(f"sqlite:///{tmp_path / 'intake.sqlite3'}")
    yield opened
    await opened.close()


async def test_first_claim_runs_then_the_reply_is_replayed(store: IntakeStore) -> None:
    assert await store.claim("chat", "k1", "hash-a") is None
    await store.complete("chat", "k1", "hash-a", b"reply")
    assert await store.claim("chat", "k1", "hash-a") == b"reply"


async def test_unfinished_claim_runs_again(store: IntakeStore) -> None:
    assert await store.claim("chat", "k1", "hash-a") is None
    assert await store.claim("chat", "k1", "hash-a") is None


async def test_reused_key_with_other_content_is_refused(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "hash-a")
    with pytest.raises(RequestMismatch):
        await store.claim("chat", "k1", "hash-b")


async def test_keys_are_per_frontend(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "hash-a")
    await store.complete("chat", "k1", "hash-a", b"reply")
    assert await store.claim("mfc", "k1", "hash-b") is None


async def test_released_claim_frees_the_key_but_a_finished_one_stays(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "hash-a")
    await store.release("chat", "k1")
    assert await store.claim("chat", "k1", "hash-b") is None
    await store.complete("chat", "k1", "hash-b", b"reply")
    await store.release("chat", "k1")
    assert await store.claim("chat", "k1", "hash-b") == b"reply"


async def test_latest_case_within_the_window(store: IntakeStore) -> None:
    for case_id, at in (("c1", 100.0), ("c2", 200.0)):
        await store.claim("chat", case_id, "h")
        await store.complete(
            "chat", case_id, "h", b"r", RecentCase("ref", "code:1", case_id, case_id, at)
        )
    latest = await store.latest_case("ref", "code:1", since=150.0)
    assert latest is not None and latest.case_id == "c2"
    assert await store.latest_case("ref", "code:1", since=250.0) is None
    assert await store.latest_case("ref", "code:2", since=0.0) is None
    assert await store.latest_case("other", "code:1", since=0.0) is None


async def test_a_remembered_case_links_but_not_for_its_own_calls_retry(store: IntakeStore) -> None:
    await store.remember(RecentCase("ref", "s", "c1", "n1", 10.0, command_key="intake-k1"))
    assert await store.claim("chat", "k1", "h") is None  # no reply was kept with it
    found = await store.latest_case("ref", "s", since=0.0)
    assert found is not None and found.case_id == "c1"
    assert await store.latest_case("ref", "s", since=0.0, call_key="intake-k1") is None
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k2")
    assert found is not None and found.case_id == "c1"
    # A later case (linked to c1): the retry of c1's call still sees none, c2's sees c1.
    await store.remember(RecentCase("ref", "s", "c2", "n2", 20.0, command_key="intake-k2"))
    assert await store.latest_case("ref", "s", since=0.0, call_key="intake-k1") is None
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k2")
    assert found is not None and found.case_id == "c1"
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k3")
    assert found is not None and found.case_id == "c2"


async def test_a_store_from_before_command_keys_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE intake_recent_cases (case_id TEXT PRIMARY KEY, citizen_ref TEXT NOT "
            "NULL, service_key TEXT NOT NULL, case_number TEXT NOT NULL, registered_at REAL NOT "
            "NULL)"
        )
        db.execute("INSERT INTO intake_recent_cases VALUES ('c0', 'ref', 's', 'n0', 5.0)")
    opened = await open_store(f"sqlite:///{path}")
    try:
        old = await opened.latest_case("ref", "s", since=0.0, call_key="intake-k1")
        assert old is not None and old.case_id == "c0"
        await opened.remember(RecentCase("ref", "s", "c1", "n1", 10.0, command_key="intake-k1"))
        found = await opened.latest_case("ref", "s", since=0.0, call_key="intake-k1")
        assert found is not None and found.case_id == "c0"
    finally:
        await opened.close()


async def test_purge_forgets_old_records(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "h")
    await store.complete("chat", "k1", "h", b"r", RecentCase("ref", "s", "c1", "n1", 10.0))
    await store.purge(idempotency_before=1e12, recent_before=20.0)
    assert await store.claim("chat", "k1", "other") is None
    assert await store.latest_case("ref", "s", since=0.0) is None


async def test_records_survive_reopening(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'intake.sqlite3'}"
    first = await open_store(url)
    await first.claim("chat", "k1", "h")
    await first.complete("chat", "k1", "h", b"reply")
    await first.close()
    second = await open_store(url)
    assert await second.claim("chat", "k1", "h") == b"reply"
    await second.close()


async def test_unknown_database_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        await open_store("mysql://x")


async def test_a_completion_whose_claim_was_purged_is_stored_afresh(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "h")
    await store.purge(idempotency_before=1e12, recent_before=0.0)
    await store.complete("chat", "k1", "h", b"reply")
    assert await store.claim("chat", "k1", "h") == b"reply"
    with pytest.raises(RequestMismatch):
        await store.claim("chat", "k1", "other")


async def test_a_code_opens_until_it_expires(store: IntakeStore) -> None:
    await store.issue_code("2026-0000001", "hash-1", expires_at=100.0)
    assert await store.use_code("2026-0000001", "hash-1", now=99.0, max_wrong=3)
    assert await store.use_code("2026-0000001", "hash-1", now=99.5, max_wrong=3), "reusable"
    assert not await store.use_code("2026-0000001", "hash-1", now=100.0, max_wrong=3)
    assert not await store.use_code("2026-0000002", "hash-1", now=1.0, max_wrong=3)


async def test_the_last_allowed_wrong_code_locks_it_and_a_new_code_unlocks(
    store: IntakeStore,
) -> None:
    await store.issue_code("2026-0000001", "hash-1", expires_at=100.0)
    for _ in range(2):
        assert not await store.use_code("2026-0000001", "wrong", now=1.0, max_wrong=3)
    assert await store.use_code("2026-0000001", "hash-1", now=1.0, max_wrong=3)
    assert not await store.use_code("2026-0000001", "wrong", now=1.0, max_wrong=3)
    assert not await store.use_code("2026-0000001", "hash-1", now=1.0, max_wrong=3), "locked"
    await store.issue_code("2026-0000001", "hash-2", expires_at=100.0)
    assert not await store.use_code("2026-0000001", "hash-1", now=1.0, max_wrong=3), "replaced"
    assert await store.use_code("2026-0000001", "hash-2", now=1.0, max_wrong=3)


async def test_expired_codes_are_purged(store: IntakeStore) -> None:
    await store.issue_code("2026-0000001", "hash-1", expires_at=100.0)
    await store.purge(idempotency_before=0.0, recent_before=0.0, codes_before=50.0)
    assert await store.use_code("2026-0000001", "hash-1", now=1.0, max_wrong=3)
    await store.purge(idempotency_before=0.0, recent_before=0.0, codes_before=150.0)
    assert not await store.use_code("2026-0000001", "hash-1", now=1.0, max_wrong=3)


async def test_a_store_once_sealed_refuses_a_start_with_sealing_off(tmp_path: Path) -> None:
    from casedesk_intake.application.sealing_guard import SealingTurnedOff, check_sealing

    url = f"sqlite:///{tmp_path / 'sealed.sqlite3'}"
    first = await open_store(url)
    await check_sealing(first, False, 1_000.0)  # never sealed: starts as before
    await check_sealing(first, True, 1_764_000_000.0)
    await check_sealing(first, True, 1_764_999_999.0)  # the first mark stays
    await first.close()
    again = await open_store(url)
    try:
        with pytest.raises(SealingTurnedOff) as refused:
            await check_sealing(again, False, 1_765_000_000.0)
    finally:
        await again.close()
    assert refused.value.since == 1_764_000_000.0
    assert "CASEDESK_SEAL_PERSONAL_DATA=true" in str(refused.value)
    assert "sealed since 2025-11-24T16:00:00+00:00" in str(refused.value)
