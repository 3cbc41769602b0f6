"""The case service as two worker processes (CASEDESK_WORKERS=2) on real PostgreSQL and Kafka.

Both workers listen on one port and serve creates; the first alone runs the outbox relay, so
every event of either worker reaches case.events.v1 once; case numbers never collide; SIGTERM
drains both. On SQLite a second worker is refused at start.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import grpc
from aiokafka import AIOKafkaConsumer
from test_case_service import TOPIC, case_env, change, create_request, history

from casedesk.case.v1 import case_service_pb2 as pb
from casedesk.case.v1 import case_service_pb2_grpc, events_pb2
from casedesk_runtime.testing.metrics import Scrape
from casedesk_runtime.testing.sockets import (
    ESTABLISHED,
    connections_by_worker,
    listeners,
    sockets_on,
)

__all__ = ["case_env"]  # the fixture, defined beside the service test

WORKERS = 2
CONNECTIONS_PER_WORKER = 2
CASES_PER_CONNECTION = 8


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive loopback ports free now (below the ephemeral range)."""
    while True:
        first = random.randrange(20000, 32000 - count)
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


def owner_of_new_connection(supervisor: int, port: int, before: set[str]) -> int:
    """The worker holding the one connection on `port` made since `before`."""
    new = set(sockets_on(port, ESTABLISHED)) - before
    (owner,) = [pid for pid, held in connections_by_worker(supervisor, port).items() if held & new]
    return owner


async def connections_to_each_worker(
    address: str, supervisor: int
) -> tuple[list[grpc.aio.Channel], dict[int, list[grpc.aio.Channel]]]:
    """CONNECTIONS_PER_WORKER connections held by each worker (the kernel picks the worker of a
    new connection at random: connections are made until each has its share)."""
    port = int(address.rsplit(":", 1)[1])
    opened: list[grpc.aio.Channel] = []
    by_worker: dict[int, list[grpc.aio.Channel]] = collections.defaultdict(list)
    for _ in range(200):
        before = set(sockets_on(port, ESTABLISHED))
        channel = grpc.aio.insecure_channel(
            address, options=[("grpc.use_local_subchannel_pool", 1)]
        )
        opened.append(channel)
        await asyncio.wait_for(channel.channel_ready(), 10)
        by_worker[owner_of_new_connection(supervisor, port, before)].append(channel)
        if len(by_worker) == WORKERS and all(
            len(c) >= CONNECTIONS_PER_WORKER for c in by_worker.values()
        ):
            return opened, by_worker
    raise AssertionError(f"connections never reached both workers: {dict(by_worker)}")


def scrape(port: int) -> Scrape:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return Scrape(reply.read().decode())


async def published(
    bootstrap: str, case_ids: set[str], expected: int, linger_s: float = 3.0
) -> list[events_pb2.CaseEvent]:
    """Every record of these cases on case.events.v1: until `expected` distinct events were seen,
    then `linger_s` more, so that a second publication of any of them would be read too."""
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[events_pb2.CaseEvent] = []
    deadline, stop_at = time.monotonic() + 60, float("inf")
    try:
        while time.monotonic() < min(deadline, stop_at):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    event = events_pb2.CaseEvent.FromString(record.value)
                    if event.meta.case_id in case_ids:
                        found.append(event)
            if stop_at == float("inf") and len({e.meta.event_id for e in found}) >= expected:
                stop_at = time.monotonic() + linger_s
    finally:
        await consumer.stop()
    return found


async def test_two_workers_serve_creates_and_publish_every_event_once(
    services: Any, case_env: dict[str, str], kafka_bootstrap: str
) -> None:
    metrics_port = consecutive_free_ports(WORKERS)
    service = services(
        "casedesk_case",
        {**case_env, "CASEDESK_WORKERS": str(WORKERS), "CASEDESK_METRICS_PORT": str(metrics_port)},
        timeout=90,
    )
    assert service.pid is not None
    deadline = time.monotonic() + 60  # workers start one after another
    while len(listeners(service.port)) < WORKERS:
        assert time.monotonic() < deadline, service.log_tail()
        await asyncio.sleep(0.2)
    opened, by_worker = await connections_to_each_worker(service.address, service.pid)
    try:
        stubs = [
            case_service_pb2_grpc.CaseServiceStub(channel)
            for channels in by_worker.values()
            for channel in channels[:CONNECTIONS_PER_WORKER]
        ]

        async def work(stub: Any) -> list[pb.CaseView]:
            views = []
            for n in range(CASES_PER_CONNECTION):
                view = await stub.CreateCase(create_request(f"citizen-{n}"))
                await stub.ChangeStatus(change(view.case_id, pb.TAKE_IN_WORK))
                views.append(view)
            return views

        views = [v for done in await asyncio.gather(*map(work, stubs)) for v in done]
        stored = [e for view in views for e in await history(stubs[0], view.case_id)]
    finally:
        for channel in opened:
            await channel.close()

    assert len({v.number for v in views}) == len(views)  # numbers from both workers' blocks
    # Each worker served creates on its own connections; only the first published.
    served = [scrape(metrics_port + i) for i in range(WORKERS)]
    creates = [
        s.value("casedesk_grpc_server_handled_total", grpc_method="CreateCase") for s in served
    ]
    assert creates == [CASES_PER_CONNECTION * CONNECTIONS_PER_WORKER] * WORKERS
    events = await published(kafka_bootstrap, {v.case_id for v in views}, len(stored))
    counts = collections.Counter(e.meta.event_id for e in events)
    assert set(counts) == {e.meta.event_id for e in stored}
    assert set(counts.values()) == {1}, "an event reached case.events.v1 more than once"
    # Scraped again now that every event is on the topic: the first scrape may precede the
    # relay's batch.
    after = [scrape(metrics_port + i) for i in range(WORKERS)]
    outbox = [s.value("casedesk_case_outbox_published_total") for s in after]
    assert outbox[0] >= len(stored) and outbox[1:] == [0] * (WORKERS - 1)

    assert service.terminate(timeout=30) == 0  # SIGTERM: both drained, the supervisor exits 0


def test_a_second_worker_is_refused_on_sqlite(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CASEDESK_WORKERS": "2",
        "CASEDESK_GRPC_INSECURE_DEV": "true",
        "CASEDESK_GRPC_PORT": "0",
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(tmp_path / "case.sqlite"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "casedesk_case"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "CASEDESK_WORKERS=2 needs the event store on PostgreSQL" in done.stderr
    assert not (tmp_path / "case.sqlite").exists()  # refused before anything was opened
