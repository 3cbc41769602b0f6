"""Publishing batches of records to Kafka that survives a broker outage of any length.

An idempotent producer numbers the batches it sends to each partition. aiokafka retries such a
batch without end, and once a send has failed or timed out (a broker away for longer than the
request timeout, a leader that never came back in time) the numbering is broken: every later
batch to that partition is refused with OutOfOrderSequenceNumber, forever, until the process
restarts. So a `Publisher` never retries through a producer whose send failed. It discards that
producer (failing whatever it still holds, so nothing it queued can arrive later behind the
re-send), waits with a backoff, starts a fresh producer (a new producer id) and re-sends only the
records that no partition acknowledged. Records whose acknowledgement was lost with the old
producer (written by the broker, the answer never received) are the only ones that can appear
twice, always with the same key, value and event id, which consumers deduplicate (DESIGN.md).

The outcome of `deliver()` is all-or-nothing for the caller: it returns once every record is
acknowledged, and only then may the caller record its position (or delete its outbox rows).
While the broker is away it logs one line when publishing stops, one a minute with a count and
where the caller is waiting, and one when publishing resumes — never a line per attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics

from casedesk_runtime.kafka import (
    DELIVERY_TIMEOUT_S,
    REQUEST_TIMEOUT_MS,
    producer_config,
)
from casedesk_runtime.settings import ServiceSettings
from casedesk_vocabulary.topics import dlq_topic

log = logging.getLogger(__name__)

Headers = Sequence[tuple[str, bytes]]
StartProducer = Callable[[], Awaitable[Any]]  # returns a started aiokafka.AIOKafkaProducer
Ack = asyncio.Future[Any]  # what producer.send() returns: resolves on the broker's answer

# Between attempts with a fresh producer: quick after a blip, at most this long in an outage, so
# that publishing resumes within seconds of the broker's return without hammering it meanwhile.
BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
# While publishing is stopped, a summary line at most this often.
REPORT_EVERY_S = 60.0
# A discarded producer's in-flight requests end within the request timeout; never wait longer.
_DISCARD_TIMEOUT_S = 2 * REQUEST_TIMEOUT_MS / 1000

_dead_letters = metrics.get_meter("casedesk.runtime.publishing").create_counter(
    "casedesk.kafka.dead_letters",
    unit="{record}",
    description="Records parked on a dead-letter topic, by source topic and consumer",
)


@dataclass(frozen=True)
class OutgoingRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: Headers = ()


def producer_starter(settings: ServiceSettings, client_id: str, **overrides: Any) -> StartProducer:
    """A `Publisher.start` for the runtime's producer configuration (`overrides` win)."""

    async def start() -> Any:
        from aiokafka import AIOKafkaProducer  # imported here: unit tests run without a broker

        producer = AIOKafkaProducer(**{**producer_config(settings, client_id), **overrides})
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    return start


async def dead_letter(
    publisher: Publisher,
    topic: str,
    consumer: str,
    record: Any,
    error: BaseException | str,
    waiting_at: Callable[[], Mapping[str, Any]] | None = None,
) -> bool:
    """Park a poisoned record on `<topic>.dlq.<consumer>` with where it came from and why.

    The original key, value and headers are kept so the record can be re-driven unchanged after a
    fix. Returns once the broker acknowledged it (False only if the publisher was closed
    meanwhile): the consumer may commit past the record only then.
    """
    reason = {
        "source_topic": record.topic,
        "source_partition": record.partition,
        "source_offset": record.offset,
        "consumer": consumer,
        "error": str(error)[:1000],
        "error_type": type(error).__name__ if isinstance(error, BaseException) else "error",
    }
    headers = (*(record.headers or ()), ("casedesk-dlq", json.dumps(reason).encode()))
    parked = OutgoingRecord(dlq_topic(topic, consumer), record.value, record.key, headers)
    where = waiting_at or (
        lambda: {"parking": f"{record.topic}/{record.partition}@{record.offset}"}
    )
    if not await publisher.deliver([parked], waiting_at=where):
        return False
    _dead_letters.add(1, {"topic": record.topic, "consumer": consumer})
    return True


class ProducerDiscarded(Exception):
    """What a discarded producer's unsent records fail with (never seen by callers)."""


@dataclass
class _Outage:
    """What is logged while publishing is stopped: counts, not a line per attempt."""

    started: float
    failures: int = 0
    failures_since_report: int = 0
    reported_at: float = 0.0
    last_error: str = ""
    resent: int = 0


@dataclass
class Publisher:
    """Delivers batches of records with replaceable idempotent producers.

    `start` makes and starts a producer (the service's own configuration: client id, partitioner,
    linger); it is called lazily and again after every failed delivery. Concurrent deliveries
    take turns (see `deliver`).
    """

    start: StartProducer
    name: str
    delivery_timeout_s: float = DELIVERY_TIMEOUT_S
    backoff_s: Sequence[float] = BACKOFF_S
    report_every_s: float = REPORT_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _producer: Any = None
    _closed: asyncio.Event = field(default_factory=asyncio.Event)
    _outage: _Outage | None = None
    # Deliveries take turns: a failure discards the producer every waiting delivery shares.
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        meter = metrics.get_meter("casedesk.runtime.publishing")
        attributes = {"publisher": self.name}
        self._attributes = attributes
        self._replaced = meter.create_counter(
            "casedesk.kafka.producer.replaced",
            unit="{producer}",
            description="Producers discarded after a failed or timed-out send",
        )
        self._resent = meter.create_counter(
            "casedesk.kafka.records.resent",
            unit="{record}",
            description="Records sent again by a fresh producer after a failed send",
        )

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def publishing(self) -> bool:
        """False while an outage lasts (the last delivery has not succeeded yet)."""
        return self._outage is None

    async def deliver(
        self,
        records: Sequence[OutgoingRecord],
        waiting_at: Callable[[], Mapping[str, Any]] | None = None,
    ) -> bool:
        """Until every record is acknowledged (True), or the publisher is closed (False).

        `waiting_at` describes where the caller stands (its position, its lag) for the lines
        logged while the broker is away; it is called at most once a minute. Concurrent calls
        take turns.
        """
        async with self._turn:
            return await self._deliver(records, waiting_at)

    async def _deliver(
        self,
        records: Sequence[OutgoingRecord],
        waiting_at: Callable[[], Mapping[str, Any]] | None,
    ) -> bool:
        pending = list(records)
        attempt = 0
        while pending:
            if self.closed:
                return False
            if attempt:
                await self._pause(attempt)
                if self.closed:
                    return False
            attempt += 1
            if attempt > 1:
                self._resent.add(len(pending), self._attributes)
            try:
                pending = await self._attempt(pending)
            except asyncio.CancelledError:
                await self._discard()
                raise
            except _Closed:
                return False
            except Exception as error:
                self._failed(error, len(pending), waiting_at)
        self._resumed(waiting_at)
        return True

    def close(self) -> None:
        """Abandon any delivery under way (it returns False) and refuse further ones."""
        self._closed.set()

    async def aclose(self) -> None:
        """Close and stop the producer (call from the owner's shutdown, after its last deliver)."""
        self.close()
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(_DISCARD_TIMEOUT_S):
                    await producer.stop()

    async def _attempt(self, records: list[OutgoingRecord]) -> list[OutgoingRecord]:
        """Send `records`; return those still unacknowledged (empty on success).

        Raises on failure after discarding the producer and keeping in `records` only what no
        partition acknowledged.
        """
        acks: list[Ack] = []
        work = asyncio.ensure_future(self._send_all(records, acks))
        closing = asyncio.ensure_future(self._closed.wait())
        try:
            done, _ = await asyncio.wait(
                {work, closing}, timeout=self.delivery_timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
        finally:
            closing.cancel()
        if work in done and work.exception() is None:
            return []
        work.cancel()
        with contextlib.suppress(BaseException):
            await work
        await self._discard()
        unacknowledged = [r for r, ack in zip(records, acks, strict=False) if not _acked(ack)]
        unacknowledged += records[len(acks) :]  # never handed to the producer
        if self.closed:
            raise _Closed
        records[:] = unacknowledged  # the caller's `pending` shrinks to what must be re-sent
        if work in done:
            raise work.exception()  # type: ignore[misc]
        raise TimeoutError(f"not acknowledged within {self.delivery_timeout_s:.0f} s")

    async def _send_all(
        self, records: list[OutgoingRecord], acks: list[asyncio.Future[Any]]
    ) -> None:
        if self._producer is None:
            self._producer = await self.start()
        producer = self._producer
        # send() only enqueues (waiting for metadata at most once); the futures resolve on acks.
        for record in records:
            acks.append(
                await producer.send(
                    record.topic, value=record.value, key=record.key, headers=list(record.headers)
                )
            )
        await asyncio.gather(*acks)

    async def _discard(self) -> None:
        """Stop the current producer without waiting for what it could not deliver."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        self._replaced.add(1, self._attributes)
        # Fail what it still holds, so that stop() has nothing to flush and no batch of it can
        # reach the broker after the fresh producer's re-send. aiokafka has no public call for
        # this; without the attribute, stop() flushes (bounded below) as before.
        accumulator = getattr(producer, "_message_accumulator", None)
        if accumulator is not None:
            accumulator.fail_all(ProducerDiscarded("producer discarded after a failed send"))
        # That is all the sender's own failure callback would do; in aiokafka 0.14 it then
        # raises AttributeError for an idempotent producer (no transaction to fail), which the
        # event loop logs as an ERROR with a traceback on every discard.
        sender = getattr(producer, "_sender", None)
        task = getattr(sender, "sender_task", None)
        fail_all = getattr(sender, "_fail_all", None)
        if task is not None and fail_all is not None:
            task.remove_done_callback(fail_all)
        try:
            async with asyncio.timeout(_DISCARD_TIMEOUT_S):
                await producer.stop()
        except Exception as error:  # the broker may be gone: nothing more to do with it
            log.debug("discarded producer did not stop cleanly: %r", error)

    async def _pause(self, attempt: int) -> None:
        delay = self.backoff_s[min(attempt - 1, len(self.backoff_s) - 1)]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._closed.wait()

    def _failed(
        self,
        error: BaseException,
        pending: int,
        waiting_at: Callable[[], Mapping[str, Any]] | None,
    ) -> None:
        now = self.clock()
        described = f"{type(error).__name__}: {error}"[:300]
        outage = self._outage
        if outage is None:
            outage = self._outage = _Outage(started=now, reported_at=now)
            outage.failures = 1  # reported right here, so none counted since the report
            outage.last_error = described
            log.warning(
                "%s: publishing to Kafka failed (%s); retrying with a fresh producer",
                self.name, described,
                extra={"publisher": self.name, "pending": pending, **_where(waiting_at)},
            )  # fmt: skip
            return
        outage.failures += 1
        outage.failures_since_report += 1
        outage.last_error = described
        if now - outage.reported_at >= self.report_every_s:
            log.warning(
                "%s: Kafka still unavailable after %.0f s: %d attempts failed in the last %.0f s",
                self.name, now - outage.started, outage.failures_since_report,
                now - outage.reported_at,
                extra={"publisher": self.name, "pending": pending, "last_error": described,
                       **_where(waiting_at)},
            )  # fmt: skip
            outage.reported_at = now
            outage.failures_since_report = 0

    def _resumed(self, waiting_at: Callable[[], Mapping[str, Any]] | None) -> None:
        outage, self._outage = self._outage, None
        if outage is None:
            return
        log.warning(
            "%s: publishing to Kafka resumed after %.1f s and %d failed attempts",
            self.name, self.clock() - outage.started, outage.failures,
            extra={"publisher": self.name, "last_error": outage.last_error, **_where(waiting_at)},
        )  # fmt: skip


class _Closed(Exception):
    pass


def _acked(ack: Ack) -> bool:
    if not ack.done():
        ack.cancel()
        return False
    if ack.cancelled():
        return False
    return ack.exception() is None


def _where(waiting_at: Callable[[], Mapping[str, Any]] | None) -> Mapping[str, Any]:
    if waiting_at is None:
        return {}
    try:
        return dict(waiting_at())
    except Exception as error:  # a report must never break publishing
        return {"waiting_at_error": type(error).__name__}
