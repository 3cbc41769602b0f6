"""The relay lease: of two replicas on one store, only the one holding the lease relays; when it
dies the other takes over and publishes the rest, each event once.

Two applications on one SQLite file stand for two replicas on one PostgreSQL schema, and a lock
table in memory for PostgreSQL's advisory locks (the real lease: tests/integration/
test_case_relay_lease.py)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from casedesk.case.v1 import events_pb2
from casedesk_case.adapters.outbox.leased import Follower, LeasedFollower
from casedesk_case.adapters.outbox.relay import OutboxRelay
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.testing import CaseApplication
from casedesk_case.wire.events import event_id
from casedesk_runtime.testing.kafka import FakeKafka
from casedesk_runtime.testing.metrics import scrape

from ..conftest import create

QUICK = {"retry_s": 0.05, "check_s": 0.05}
_names = itertools.count()


class Locks:
    """PostgreSQL's side of the advisory lock: which session holds it; `down`: unreachable."""

    def __init__(self) -> None:
        self.holder: FakeLease | None = None
        self.down = False


class FakeLease:
    def __init__(self, locks: Locks, holder_name: str) -> None:
        self.locks = locks
        self.holder_name = holder_name
        self.released = 0  # times it gave the lock up

    def take(self) -> bool:
        if self.locks.down:
            raise ConnectionError("database unreachable")
        if self.locks.holder is None:
            self.locks.holder = self
        return self.locks.holder is self

    def still_held(self) -> bool:
        return not self.locks.down and self.locks.holder is self

    def holder(self) -> str | None:
        return self.locks.holder.holder_name if self.locks.holder else None

    def give_up(self) -> None:
        if self.locks.holder is self:
            self.locks.holder = None
            self.released += 1

    def session_ended(self) -> None:
        """What PostgreSQL does when the holder's connection dies."""
        self.give_up()


class Replica:
    def __init__(self, path: Path, name: str, locks: Locks, kafka: FakeKafka, topic: str) -> None:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
        self.app = CaseApplication(env=env)
        self.lease = FakeLease(locks, name)
        self.relays = 0  # followers started: one per term held
        self.leased = LeasedFollower(f"test relay {name} {next(_names)}", self.lease,
                                     self._relay(kafka, topic), **QUICK)  # fmt: skip
        self.app.on_recorded(self.leased.ring)
        self.task: asyncio.Task[None] | None = None

    def _relay(self, kafka: FakeKafka, topic: str) -> Callable[[], Follower]:
        def start() -> Follower:
            self.relays += 1
            relay = OutboxRelay(self.app, kafka.publisher(), topic=topic, idle_s=0.05)
            return Follower(relay.run, relay.bell, relay.stop)

        return start

    def start(self) -> None:
        self.task = asyncio.create_task(self.leased.run())

    async def stop(self) -> None:
        self.leased.stop()
        if self.task is not None:
            await self.task


@pytest.fixture
async def replicas(tmp_path: Path) -> AsyncIterator[tuple[Replica, Replica, FakeKafka, Locks]]:
    locks, kafka = Locks(), FakeKafka()
    topic = f"lease-{next(_names)}.case.events.v1"
    pair = [Replica(tmp_path / "cases.db", name, locks, kafka, topic) for name in ("a", "b")]
    for replica in pair:
        replica.start()
    yield pair[0], pair[1], kafka, locks
    for replica in pair:
        await replica.stop()
        replica.app.close()


def stored_event_ids(app: CaseApplication) -> set[str]:
    notifications = app.recorder.select_notifications(0, 10_000, topics=CASE_EVENT_TOPICS)
    events = (app.event_of(n) for n in notifications)
    return {event_id(str(e.originator_id), e.originator_version) for e in events}


def published_ids(kafka: FakeKafka) -> list[str]:
    return [events_pb2.CaseEvent.FromString(w.value).meta.event_id for w in kafka.written]


async def until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():
            await asyncio.sleep(0.02)


async def test_only_the_holder_relays_and_the_other_takes_over_when_it_dies(
    replicas: tuple[Replica, Replica, FakeKafka, Locks],
) -> None:
    a, b, kafka, _ = replicas
    for _ in range(5):
        create(a.app)
        create(b.app)
    stored = stored_event_ids(a.app)
    await until(lambda: set(published_ids(kafka)) == stored)
    holder, standby = (a, b) if a.leased.holding else (b, a)
    assert not standby.leased.holding and standby.relays == 0
    assert sorted(published_ids(kafka)) == sorted(stored)  # each once

    # The holder dies: its process stops, PostgreSQL ends its session and frees the lock.
    await holder.stop()
    holder.lease.session_ended()
    for _ in range(5):
        create(standby.app)
    stored = stored_event_ids(standby.app)
    await until(lambda: set(published_ids(kafka)) == stored)
    assert standby.leased.holding and standby.relays == 1
    assert sorted(published_ids(kafka)) == sorted(stored)


async def test_a_holder_whose_session_ended_stops_relaying_and_stands_by(
    replicas: tuple[Replica, Replica, FakeKafka, Locks],
) -> None:
    a, b, kafka, locks = replicas
    await until(lambda: a.leased.holding or b.leased.holding)
    holder, standby = (a, b) if a.leased.holding else (b, a)
    # The session ends under a live holder (a cut connection): the standby gets the lock first.
    holder.lease.session_ended()
    locks.holder = standby.lease
    await until(lambda: standby.leased.holding and not holder.leased.holding)
    create(holder.app)  # stored through the replica that lost the lease: the other publishes it
    await until(lambda: set(published_ids(kafka)) == stored_event_ids(holder.app))
    assert holder.relays == 1 and standby.relays == 1
    assert len(published_ids(kafka)) == len(set(published_ids(kafka)))


async def test_without_the_database_both_stand_by_then_one_relays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    locks, kafka = Locks(), FakeKafka()
    locks.down = True
    pair = [Replica(tmp_path / "c.db", n, locks, kafka, "down.case.events.v1") for n in "ab"]
    with caplog.at_level(logging.WARNING, logger="casedesk_case.adapters.outbox.leased"):
        for replica in pair:
            replica.start()
        await asyncio.sleep(0.3)  # several tries each
        assert [r.relays for r in pair] == [0, 0]
        refusals = [r for r in caplog.records if "cannot be taken" in r.getMessage()]
        assert len(refusals) == 2  # one line per replica, not one per try
        locks.down = False
        await until(lambda: sum(r.leased.holding for r in pair) == 1)
    for replica in pair:
        await replica.stop()
        replica.app.close()
    assert locks.holder is None  # stopping released it


async def test_the_lease_metric_says_whether_this_replica_holds_it(tmp_path: Path) -> None:
    locks, kafka = Locks(), FakeKafka()
    replica = Replica(tmp_path / "c.db", "solo", locks, kafka, "metric.case.events.v1")
    name = replica.leased.name
    replica.start()
    try:
        await until(lambda: replica.leased.holding)
        assert scrape().value("casedesk_case_lease_held", lease=name) == 1
        replica.lease.session_ended()
        locks.holder = FakeLease(locks, "elsewhere")
        await until(lambda: not replica.leased.holding)
        assert scrape().value("casedesk_case_lease_held", lease=name) == 0
    finally:
        await replica.stop()
        replica.app.close()


async def test_a_follower_that_cannot_be_built_is_logged_and_its_lease_freed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    locks = Locks()
    lease = FakeLease(locks, "broken")

    def start() -> Follower:
        raise ValueError("no producer settings")

    leased = LeasedFollower(f"test broken {next(_names)}", lease, start, **QUICK)
    with caplog.at_level(logging.ERROR, logger="casedesk_case.adapters.outbox.leased"):
        task = asyncio.create_task(leased.run())
        await until(lambda: any("cannot be started" in r.getMessage() for r in caplog.records))
        await until(lambda: lease.released >= 1)  # free for a replica that can relay
        assert not leased.holding
        leased.stop()
        await task
