"""Intake's idempotency records and linking index on real PostgreSQL (SQLite: unit tests)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import psycopg
import pytest

from casedesk_intake.adapters.store import IntakeStore, RecentCase, RequestMismatch, open_store


@pytest.fixture
async def store(postgres_dsn: str) -> AsyncIterator[IntakeStore]:
    schema = f"intake_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in postgres_dsn else "?"
    opened = await open_store(
        f"{postgres_dsn}{separator}options=" + quote(f"-csearch_path={schema}")
    )
    yield opened
    await opened.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


async def test_claim_complete_replay_and_mismatch(store: IntakeStore) -> None:
    assert await store.claim("chat", "k1", "hash-a") is None
    assert await store.claim("chat", "k1", "hash-a") is None  # unfinished: run again
    await store.complete("chat", "k1", b"reply", RecentCase("ref", "code:1", "c1", "2026-1", 5.0))
    assert await store.claim("chat", "k1", "hash-a") == b"reply"
    with pytest.raises(RequestMismatch):
        await store.claim("chat", "k1", "hash-b")
    assert await store.claim("mfc", "k1", "hash-b") is None
    latest = await store.latest_case("ref", "code:1", since=1.0)
    assert latest == RecentCase("ref", "code:1", "c1", "2026-1", 5.0)


async def test_concurrent_first_claims_let_both_run_and_one_reply_stays(store: IntakeStore) -> None:
    first, second = await asyncio.gather(
        store.claim("chat", "race", "h"), store.claim("chat", "race", "h")
    )
    assert first is None and second is None
    await store.complete("chat", "race", b"winner")
    assert await store.claim("chat", "race", "h") == b"winner"


async def test_release_and_purge(store: IntakeStore) -> None:
    await store.claim("chat", "k1", "h")
    await store.release("chat", "k1")
    assert await store.claim("chat", "k1", "other") is None
    await store.complete("chat", "k1", b"r", RecentCase("ref", "s", "c1", "n1", 10.0))
    await store.purge(idempotency_before=float("inf"), recent_before=20.0)
    assert await store.claim("chat", "k1", "again") is None
    assert await store.latest_case("ref", "s", since=0.0) is None
