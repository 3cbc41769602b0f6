"""The outbox relay against an in-memory broker: order, envelope, position only after acks."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from casedesk.case.v1 import events_pb2
from casedesk_case.adapters.outbox.relay import OutboxRelay
from casedesk_case.application import CommandMeta
from casedesk_case.domain.values import Actor, ActorKind, EventContext, Status
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.events import event_id
from casedesk_runtime.publishing import Publisher

from ..conftest import create

TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class MemoryBroker:
    """Acknowledges (or refuses) sends like aiokafka's producer: send() returns a future."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.refuse = False
        self.stopped = False

    async def send(self, topic: str, value: bytes, key: bytes, headers: list[Any]) -> Any:
        future = asyncio.get_running_loop().create_future()
        if self.refuse:
            future.set_exception(ConnectionError("broker gone"))
        else:
            self.records.append(
                {"topic": topic, "value": value, "key": key, "headers": dict(headers)}
            )
            future.set_result(None)
        return future

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def app(tmp_path: Path) -> Any:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "c.db")}
    application = CaseApplication(env=env)
    yield application
    application.close()


def traced(key: str = "") -> CommandMeta:
    return CommandMeta(
        EventContext(Actor(ActorKind.SPECIALIST, "l1-004"), "corr", "cause", TRACE), key
    )


def publisher(broker: MemoryBroker) -> Publisher:
    async def connect() -> MemoryBroker:
        broker.stopped = False  # a fresh producer in front of the same broker
        return broker

    return Publisher(connect, "test relay", backoff_s=(0.01,))


async def connected(app: CaseApplication, broker: MemoryBroker) -> OutboxRelay:
    return OutboxRelay(app, publisher(broker), batch_size=3)


async def test_publishes_every_case_event_in_order_with_its_envelope(app: CaseApplication) -> None:
    broker = MemoryBroker()
    relay = await connected(app, broker)
    case = create(app, meta=traced("key-1"))  # also stores a receipt and a number block
    app.change_status(case.case_id, to_status=Status.IN_PROGRESS, reason="", meta=traced())
    while await relay.publish_batch():
        pass
    published = [events_pb2.CaseEvent.FromString(r["value"]) for r in broker.records]
    assert [(e.meta.case_version, e.WhichOneof("payload")) for e in published] == [
        (1, "created"), (2, "assigned"), (3, "status_changed"),
    ]  # fmt: skip
    for record, event in zip(broker.records, published, strict=True):
        assert record["topic"] == "case.events.v1"
        assert record["key"] == case.case_id.encode()
        assert record["headers"]["traceparent"] == TRACE.encode()
        assert event.meta.event_id == event_id(case.case_id, event.meta.case_version)
        assert (event.meta.correlation_id, event.meta.causation_id) == ("corr", "cause")
    assert relay.position() > 0 and relay.lag_events == 0


async def test_position_moves_only_after_kafka_acknowledged(app: CaseApplication) -> None:
    broker = MemoryBroker()
    relay = await connected(app, broker)
    create(app)
    broker.refuse = True
    publishing = asyncio.create_task(relay.publish_batch())
    await asyncio.sleep(0.1)  # several refused attempts, each with a fresh producer
    assert not publishing.done() and relay.position() == 0
    broker.refuse = False
    assert await asyncio.wait_for(publishing, 5) == 2
    assert len(broker.records) == 2 and relay.position() > 0


async def test_stopping_abandons_a_batch_held_up_by_an_outage(app: CaseApplication) -> None:
    broker = MemoryBroker()
    relay = await connected(app, broker)
    create(app)
    broker.refuse = True
    publishing = asyncio.create_task(relay.publish_batch())
    await asyncio.sleep(0.05)
    relay.stop()
    assert await asyncio.wait_for(publishing, 5) == 0
    assert relay.position() == 0  # published again, with the same event ids, after a restart


async def test_a_restarted_relay_continues_where_the_last_acknowledged_batch_ended(
    app: CaseApplication,
) -> None:
    first_broker = MemoryBroker()
    relay = await connected(app, first_broker)
    create(app)
    await relay.publish_batch()
    second = create(app)
    broker = MemoryBroker()
    restarted = await connected(app, broker)
    await restarted.publish_batch()
    assert [events_pb2.CaseEvent.FromString(r["value"]).meta.case_id for r in broker.records] == [
        second.case_id,
        second.case_id,
    ]


async def test_run_stops_when_its_bell_is_closed(app: CaseApplication) -> None:
    broker = MemoryBroker()
    relay = OutboxRelay(app, publisher(broker), idle_s=0.05)
    app.on_recorded(relay.bell.ring)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.05)
    await asyncio.to_thread(create, app)
    for _ in range(100):
        if len(broker.records) == 2:
            break
        await asyncio.sleep(0.02)
    relay.stop()
    await asyncio.wait_for(task, 5)
    assert len(broker.records) == 2 and broker.stopped


async def test_a_relay_behind_another_continues_from_where_that_one_got(
    app: CaseApplication,
) -> None:
    broker = MemoryBroker()
    behind, ahead = await connected(app, broker), await connected(app, MemoryBroker())
    create(app)
    assert await behind.publish_batch() == 2
    create(app)
    assert await ahead.publish_batch() == 2  # another replica's relay publishes the next case
    # The relay behind publishes that case again (same event ids), learns the position ...
    assert await behind.publish_batch() == 2
    assert behind.position() == ahead.position()
    # ... and goes on from there: nothing is left for it.
    assert await behind.publish_batch() == 0
    ids = [events_pb2.CaseEvent.FromString(r["value"]).meta.event_id for r in broker.records]
    assert len(set(ids)) == 4 and len(ids) == 4
