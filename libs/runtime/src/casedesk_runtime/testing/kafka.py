"""A broker stand-in behind a `Publisher`: producers that can fail to start or to deliver.

For the unit tests of every relay, journal and dead-letter path (no broker needed).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from casedesk_runtime.publishing import Publisher


@dataclass(frozen=True)
class Written:
    topic: str
    value: bytes
    key: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> bytes | None:
        return dict(self.headers).get(name)


@dataclass
class FakeKafka:
    """`start` is a `Publisher.start`; every send is answered at once, by `written` or a failure.

    `down`: producers do not start and every send fails; `refuse_starts` / `fail_sends`: that many
    of the next starts / sends fail, the rest succeed.
    """

    down: bool = False
    refuse_starts: int = 0
    fail_sends: int = 0
    written: list[Written] = field(default_factory=list)
    starts: int = 0
    failures: int = 0
    stopped: int = 0

    async def start(self) -> FakeProducer:
        self.starts += 1
        if self.down or self.refuse_starts:
            self.refuse_starts = max(self.refuse_starts - 1, 0)
            self.failures += 1
            raise KafkaConnectionError("fake broker unreachable")
        return FakeProducer(self)

    def publisher(self, name: str = "test") -> Publisher:
        return Publisher(self.start, name=name, backoff_s=(0.01,), delivery_timeout_s=5)

    async def until_failures(self, count: int, timeout_s: float = 5) -> None:
        async with asyncio.timeout(timeout_s):
            while self.failures < count:
                await asyncio.sleep(0.005)


@dataclass
class FakeProducer:
    kafka: FakeKafka

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = ()
    ) -> asyncio.Future[None]:
        kafka = self.kafka
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if kafka.down or kafka.fail_sends:
            kafka.fail_sends = max(kafka.fail_sends - 1, 0)
            kafka.failures += 1
            ack.set_exception(KafkaTimeoutError("fake batch expired"))
        else:
            kafka.written.append(Written(topic, value, key, tuple(headers or ())))
            ack.set_result(None)
        return ack

    async def stop(self) -> None:
        self.kafka.stopped += 1
