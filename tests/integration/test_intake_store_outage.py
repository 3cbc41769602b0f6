"""Intake's PostgreSQL store when its connections die (chaos defect 2): while PostgreSQL restarts a
call must fail with StoreUnavailable, which the frontends retry (UNAVAILABLE), never with a raw
driver error that intake answers INTERNAL; and the store must serve again once PostgreSQL does.

The connections are cut with pg_terminate_backend, which is what a PostgreSQL restart does to
them, on a server other tests share: only this store's own connections are cut (their
application_name is the test's)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
import psycopg
import pytest
import pytest_asyncio
from support.postgres_schemas import fresh_schemas, in_schema

from casedesk_intake.adapters.persistence.postgres import PostgresStore
from casedesk_intake.domain.errors import StoreUnavailable
from casedesk_intake.grpc_api.status import status_code_of

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="function")]


@pytest_asyncio.fixture
async def store(postgres_dsn: str) -> AsyncIterator[tuple[PostgresStore, str]]:
    with fresh_schemas(postgres_dsn, "intake_outage") as (schema,):
        opened = await PostgresStore.open(in_schema(postgres_dsn, schema, application_name=schema))
        try:
            yield opened, schema
        finally:
            await opened.close()


def cut_connections(postgres_dsn: str, application_name: str) -> int:
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchall()
    return len(rows)


async def test_a_lost_connection_is_retryable_and_the_store_serves_again(
    store: tuple[PostgresStore, str], postgres_dsn: str
) -> None:
    intake_store, application_name = store
    await intake_store.issue_code("2026-0000001", "right", expires_at=time.time() + 600)

    assert cut_connections(postgres_dsn, application_name) >= 1
    with pytest.raises(StoreUnavailable) as refused:
        # The pool keeps two connections, both cut: whichever this call gets is dead.
        await intake_store.use_code("2026-0000001", "wrong", time.time(), 10)
    assert status_code_of(refused.value) is grpc.StatusCode.UNAVAILABLE
    assert "retry" in str(refused.value)

    # The pool replaces dead connections: the retry is served, and nothing stored was lost.
    for _ in range(2):
        try:
            assert await intake_store.use_code("2026-0000001", "right", time.time(), 10)
            break
        except StoreUnavailable:
            continue  # the pool's second dead connection
    else:
        pytest.fail("the store did not serve again after its connections were replaced")


async def test_a_claim_during_the_outage_fails_retryably_and_a_retry_claims_it(
    store: tuple[PostgresStore, str], postgres_dsn: str
) -> None:
    intake_store, application_name = store
    cut_connections(postgres_dsn, application_name)
    outcomes: list[object] = []
    for _ in range(3):
        try:
            outcomes.append(await intake_store.claim("portal", "key-1", "hash-1"))
            break
        except StoreUnavailable as refusal:
            outcomes.append(refusal)
    assert isinstance(outcomes[0], StoreUnavailable)
    assert outcomes[-1] is None, "the retry is the first claim of this key: nothing stored before"
