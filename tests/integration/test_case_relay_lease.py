"""Two case-service replicas on one PostgreSQL schema and a real Kafka: one relay lease.

Only the replica holding the lease (a session advisory lock, adapters/outbox/lease.py) relays,
so every event created through either reaches case.events.v1 exactly once; kill -9 of the holder
ends its session, the other replica takes the lease within seconds and publishes what was
created after, each event once too. The lease itself: one session holds it, a lease of another
schema is another lock, and it is free again as soon as its session ends.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from support.services import free_port
from test_case_service import TOPIC, case_env, change, create_request, history, stub_factory
from test_workers import published

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk_case.adapters.outbox.lease import APPLICATION_NAME, PostgresLease, lease_key
from casedesk_case.application.positions import outbox_tracking_name
from casedesk_case.cli.outbox_status import read_status
from casedesk_runtime.testing.metrics import Scrape

__all__ = ["case_env", "stub_factory"]  # fixtures, defined beside the service test

CASES_PER_REPLICA = 6
TAKEOVER_S = 20.0  # a standby tries every 2 s; the dead holder's session ends at once


def lease_metric(metrics_port: int) -> float | None:
    """casedesk_case_lease_held{lease="outbox relay"} of one replica, None before it reports."""
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as reply:
        scrape = Scrape(reply.read().decode())
    samples = [s for s in scrape.samples("casedesk_case_lease_held")
               if s.labels.get("lease") == "outbox relay"]  # fmt: skip
    return samples[0].value if samples else None


def published_count(metrics_port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as reply:
        return Scrape(reply.read().decode()).value("casedesk_case_outbox_published_total")


async def until(what: str, timeout_s: float, check: Any) -> float:
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        assert time.monotonic() - started < timeout_s, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def create_cases(stub: Any, count: int) -> list[str]:
    case_ids = []
    for _ in range(count):
        case = await stub.CreateCase(create_request())
        await stub.ChangeStatus(change(case.case_id, pb.TAKE_IN_WORK))
        case_ids.append(case.case_id)
    return case_ids


async def stored_events(stub: Any, case_ids: list[str]) -> set[str]:
    return {e.meta.event_id for case_id in case_ids for e in await history(stub, case_id)}


def assert_each_once(stored: set[str], events: list[Any]) -> None:
    counts = collections.Counter(e.meta.event_id for e in events)
    assert set(counts) == stored, f"{len(stored - set(counts))} stored events not on {TOPIC}"
    twice = {event_id: n for event_id, n in counts.items() if n > 1}
    assert not twice, f"events on {TOPIC} more than once: {twice}"


def relay_lease_holders(dsn: str, schema: str) -> list[str]:
    """The names of the sessions holding the relay's advisory lock on `schema` (pg_locks shows
    the bigint key as its high and low halves)."""
    key = lease_key(schema, outbox_tracking_name("Cases", TOPIC)) & 0xFFFF_FFFF_FFFF_FFFF
    with psycopg.connect(dsn, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid::int8 = %s "
            "AND l.objid::int8 = %s",
            [key >> 32, key & 0xFFFF_FFFF],
        ).fetchall()
    return [row[0] for row in rows]


def session_name(service: Any) -> str:
    return f"{APPLICATION_NAME} {socket.gethostname()} pid {service.pid}"[:63]


async def test_one_replica_relays_and_the_other_takes_over_after_a_kill(
    services: Any,
    case_env: dict[str, str],
    kafka_bootstrap: str,
    stub_factory: Any,
    postgres_dsn: str,
) -> None:
    ports = {name: free_port() for name in ("a", "b")}
    replicas = {
        name: services("casedesk_case", {**case_env, "CASEDESK_METRICS_PORT": str(port)})
        for name, port in ports.items()
    }
    await until("one replica holding the relay lease", TAKEOVER_S,
                lambda: sorted(lease_metric(p) or 0 for p in ports.values()) == [0, 1])  # fmt: skip
    holder = next(name for name, port in ports.items() if lease_metric(port) == 1)
    standby = "b" if holder == "a" else "a"
    schema = case_env["POSTGRES_SCHEMA"]
    assert relay_lease_holders(postgres_dsn, schema) == [session_name(replicas[holder])]

    stubs = {name: stub_factory(service.address) for name, service in replicas.items()}
    through_each = [create_cases(stub, CASES_PER_REPLICA) for stub in stubs.values()]
    first = [case_id for ids in await asyncio.gather(*through_each) for case_id in ids]
    stored = await stored_events(stubs[standby], first)
    assert_each_once(stored, await published(kafka_bootstrap, set(first), len(stored)))
    assert published_count(ports[standby]) == 0  # the standby relayed nothing
    # Everything relayed is recorded as relayed: the kill below re-publishes nothing.
    await until("the relay's position recorded", 30,
                lambda: read_status(TOPIC, case_env).unpublished == 0)  # fmt: skip

    replicas[holder].kill()
    took = await until("the standby taking the lease", TAKEOVER_S,
                       lambda: lease_metric(ports[standby]) == 1)  # fmt: skip
    print(f"\nLEASE takeover_s {took:.1f}")
    second = await create_cases(stubs[standby], CASES_PER_REPLICA)
    everything = stored | await stored_events(stubs[standby], second)
    events = await published(kafka_bootstrap, set(first + second), len(everything))
    assert_each_once(everything, events)
    assert relay_lease_holders(postgres_dsn, schema) == [session_name(replicas[standby])]


@pytest.fixture
def datastores(case_env: dict[str, str], postgres_dsn: str) -> Iterator[list[PostgresDatastore]]:
    """Datastores on the test's schema (twice: two replicas) and on another one."""
    other = case_env["POSTGRES_SCHEMA"] + "_other"
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {other}")
    connection_env = (case_env[f"POSTGRES_{k}"] for k in ("DBNAME", "HOST", "PORT", "USER"))
    dbname, host, port, user = connection_env
    stores = [
        PostgresDatastore(dbname, host, port, user, case_env["POSTGRES_PASSWORD"], schema=schema)
        for schema in (case_env["POSTGRES_SCHEMA"], case_env["POSTGRES_SCHEMA"], other)
    ]
    yield stores
    for store in stores:
        store.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {other} CASCADE")


def test_one_session_holds_a_lease_until_it_ends(
    datastores: list[PostgresDatastore], postgres_dsn: str
) -> None:
    first, second, elsewhere = (
        PostgresLease(store, "cases.outbox.case.events.v1", holder=name)
        for store, name in zip(datastores, ("first", "second", "elsewhere"), strict=True)
    )
    try:
        assert first.take() and first.still_held()
        assert not second.take() and not second.still_held()
        assert second.holder() == "first"
        assert elsewhere.take()  # another schema: another lock
        with psycopg.connect(postgres_dsn, autocommit=True) as admin:
            admin.execute(  # what PostgreSQL does to the session of a process that died
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [f"{APPLICATION_NAME} first"],
            )
        assert not first.still_held()
        assert second.take() and second.holder() == "second"
        second.give_up()
        assert first.take()  # a fresh session of its own
    finally:
        for lease in (first, second, elsewhere):
            lease.give_up()
