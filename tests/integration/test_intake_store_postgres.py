"""Intake's idempotency records and linking index on real PostgreSQL (SQLite: unit tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from support.postgres_schemas import fresh_schemas, in_schema

from casedesk_intake.__main__ import open_store
from casedesk_intake.application.ports import IntakeStore, RecentCase, RequestMismatch


@pytest.fixture
async def store(postgres_dsn: str) -> AsyncIterator[IntakeStore]:
    with fresh_schemas(postgres_dsn, "intake_store") as (schema,):
        opened = await open_store(in_schema(postgres_dsn, schema))
        yield opened
        await opened.close()


async def test_claim_complete_replay_and_mismatch(store: IntakeStore) -> None:
    assert await store.claim("chat", "k1", "hash-a") is None
    assert await store.claim("chat", "k1", "hash-a") is None  # unfinished: run again
    await store.complete(
        "chat", "k1", "hash-a", b"reply", RecentCase("ref", "code:1", "c1", "2026-1", 5.0)
    )
    assert await store.claim("chat", "k1", "hash-a") == b"reply"
    with pytest.raises(RequestMismatch):
        await store.claim("chat", "k1", "hash-b")
    assert await store.claim("mfc", "k1", "hash-b") is None
    latest = await store.latest_case("ref", "code:1", since=1.0)
    assert latest == RecentCase("ref", "code:1", "c1", "2026-1", 5.0)


async def test_a_remembered_case_links_but_not_for_its_own_calls_retry(
    store: IntakeStore,
) -> None:
    """A new case the case service's receipt answers for (no reply kept): remembered together
    with other writes, found by later calls, never by a retry of the call that made it."""
    await asyncio.gather(
        store.remember(RecentCase("ref", "s", "c1", "n1", 10.0, command_key="intake-k1")),
        store.claim("chat", "other", "h"),
        store.complete("chat", "done", "h", b"r", RecentCase("ref", "t", "c2", "n2", 11.0)),
    )
    assert await store.claim("chat", "k1", "h") is None  # no reply was kept with it
    found = await store.latest_case("ref", "s", since=0.0)
    assert found is not None and found.case_id == "c1"
    assert await store.latest_case("ref", "s", since=0.0, call_key="intake-k1") is None
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k2")
    assert found is not None and found.case_id == "c1"
    linked = await store.latest_case("ref", "t", since=0.0, call_key="intake-k1")
    assert linked is not None and linked.case_id == "c2"
    # A later case (linked to c1): the retry of c1's call still sees none, c3's sees c1.
    await store.remember(RecentCase("ref", "s", "c3", "n3", 20.0, command_key="intake-k3"))
    assert await store.latest_case("ref", "s", since=0.0, call_key="intake-k1") is None
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k3")
    assert found is not None and found.case_id == "c1"
    found = await store.latest_case("ref", "s", since=0.0, call_key="intake-k4")
    assert found is not None and found.case_id == "c3"


async def test_concurrent_first_claims_let_both_run_and_one_reply_stays(store: IntakeStore) -> None:
    first, second = await asyncio.gather(
        store.claim("chat", "race", "h"), store.claim("chat", "race", "h")
    )
    assert first is None and second is None
    await store.complete("chat", "race", "h", b"winner")
    assert await store.claim("chat", "race", "h") == b"winner"


async def test_release_and_purge(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "h")
    await store.release("chat", "k1")
    assert await store.claim("chat", "k1", "other") is None
    await store.complete("chat", "k1", "other", b"r", RecentCase("ref", "s", "c1", "n1", 10.0))
    await store.purge(idempotency_before=float("inf"), recent_before=20.0)
    assert await store.claim("chat", "k1", "again") is None
    assert await store.latest_case("ref", "s", since=0.0) is None


async def test_concurrent_calls_share_statements_and_keep_their_own_answers(
    store: IntakeStore,
) -> None:
    """Claims and completions made together go to PostgreSQL as batches: each call still gets
    its own answer, a key twice in one batch included."""
    await store.claim("chat", "done", "h-done")
    await store.complete("chat", "done", "h-done", b"stored reply")
    claims = await asyncio.gather(
        *(store.claim("chat", f"new-{i}", f"h{i}") for i in range(50)),
        store.claim("chat", "done", "h-done"),
        store.claim("chat", "done", "h-other"),
        store.claim("chat", "twice", "h-twice"),
        store.claim("chat", "twice", "h-twice"),
        store.claim("chat", "twice", "h-changed"),
        return_exceptions=True,
    )
    assert claims[:50] == [None] * 50
    assert claims[50] == b"stored reply"
    assert isinstance(claims[51], RequestMismatch)
    assert claims[52:54] == [None, None]
    assert isinstance(claims[54], RequestMismatch)

    await asyncio.gather(
        *(
            store.complete(
                "chat",
                f"new-{i}",
                f"h{i}",
                f"reply {i}".encode(),
                RecentCase("ref", f"s{i}", f"c{i}", f"n{i}", 7.0),
            )
            for i in range(50)
        ),
        store.complete("chat", "twice", "h-twice", b"no case to remember"),
    )
    replayed = await asyncio.gather(*(store.claim("chat", f"new-{i}", f"h{i}") for i in range(50)))
    assert replayed == [f"reply {i}".encode() for i in range(50)]
    assert await store.claim("chat", "twice", "h-twice") == b"no case to remember"
    remembered = await asyncio.gather(*(store.latest_case("ref", f"s{i}", 0.0) for i in range(50)))
    assert [r.case_id if r else None for r in remembered] == [f"c{i}" for i in range(50)]


async def test_a_completion_whose_claim_was_purged_is_stored_afresh(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "h")
    await store.purge(idempotency_before=float("inf"), recent_before=0.0)
    await store.complete("chat", "k1", "h", b"reply")
    assert await store.claim("chat", "k1", "h") == b"reply"
    with pytest.raises(RequestMismatch):
        await store.claim("chat", "k1", "other")


async def test_a_retry_in_the_same_statement_as_its_completion_gets_the_reply(
    store: IntakeStore,
) -> None:
    """Claims and completions share statements: a retry claimed together with its first
    attempt's completion finds the reply, and new claims in that statement still run."""
    await store.claim("chat", "k1", "h1")
    _, retry, fresh = await asyncio.gather(
        store.complete("chat", "k1", "h1", b"first reply"),
        store.claim("chat", "k1", "h1"),
        store.claim("chat", "k2", "h2"),
    )
    assert (retry, fresh) == (b"first reply", None)
