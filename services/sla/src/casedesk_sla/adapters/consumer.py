"""Reads case.events.v1 into the engine, resuming exactly where the store says it stopped.

Offsets live in the SLA store, committed with the clocks they produced, so the consumer assigns
itself every partition and seeks to the stored positions instead of trusting Kafka's committed
offsets (which are still committed afterwards, best effort, so lag shows in the usual tools).
One process owns all partitions; run a single replica.

A record that cannot be read, or whose case the engine refuses, is dead-lettered before the offset
that passes it is stored (and so before that offset is committed to Kafka): its offset is consumed
only once the broker acknowledged the dead letter (acks=all); during a broker outage the consumer
waits for that acknowledgement (the `Publisher` replaces its producers until Kafka is back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_runtime.logs import get_logger
from casedesk_runtime.publishing import Publisher, dead_letter
from casedesk_sla.application.engine import ConsumedEvent, SlaEngine
from casedesk_sla.wire.case_events import case_fact, event_time

log = get_logger(__name__)
CONSUMER_NAME = "sla"
# A caught-up partition is read whole only up to the broker's last answer, less this margin: the
# answer's high watermark was taken before it crossed the network, and an event appended just
# before that may still await replication to the in-sync replicas. Deadlines are minutes long;
# firing a quarter of a second later costs nothing, firing before an unread answer breaches it.
CAUGHT_UP_MARGIN_MS = 250


class DeadLetterAbandoned(RuntimeError):
    """The dead-letter publisher was closed before the broker acknowledged a dead letter."""


class CaseEventConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        engine: SlaEngine,
        topic: str,
        dead_letters: Publisher,
        on_progress: Callable[[], None] = lambda: None,
        max_records: int = 1000,
    ) -> None:
        self._consumer = consumer
        self._engine = engine
        self._topic = topic
        self._dead_letters = dead_letters
        self._on_progress = on_progress
        self._max_records = max_records
        self._partitions: list[TopicPartition] = []
        self._stopping = False

    async def start(self, partitions: list[int]) -> None:
        """Assign `partitions` of the topic and seek each to its stored position."""
        self._partitions = [TopicPartition(self._topic, number) for number in partitions]
        consumer = self._consumer
        consumer.assign(self._partitions)
        watermarks = self._engine.watermarks
        watermarks.assign((tp.topic, tp.partition) for tp in self._partitions)
        fresh = []
        for tp in self._partitions:
            position = watermarks.position((tp.topic, tp.partition))
            if position is None:
                fresh.append(tp)
            else:
                consumer.seek(tp, position.next_offset)
        if fresh:
            await consumer.seek_to_beginning(*fresh)
        log.info("consuming", extra={"topic": self._topic, "partitions": len(self._partitions)})

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        while not self._stopping:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=self._max_records)
            records = [record for batch in batches.values() for record in batch]
            events = [await self._decode(record) for record in records]
            if events:
                await self._consume(events, records)
            await self._update_caught_up()
            self._on_progress()
            if events:
                await self._commit_to_kafka()

    async def _consume(self, events: list[ConsumedEvent], records: list[ConsumerRecord]) -> None:
        """Store the batch; a record the engine refuses is dead-lettered before its offset is."""
        by_position = {(r.topic, r.partition, r.offset): r for r in records}
        pending: Sequence[ConsumedEvent] = events
        while (refused := self._engine.consume(pending)) is not None:
            # The engine stored what came before it and nothing from it on: a crash while the
            # broker has not acknowledged the dead letter reads the record again after restart.
            event = refused.event
            await self._dead_letter(by_position[(*event.partition, event.offset)], refused.error)
            pending = [event.passed(), *refused.rest]

    async def _decode(self, record: ConsumerRecord) -> ConsumedEvent:
        partition = (record.topic, record.partition)
        try:
            event = case_events.CaseEvent.FromString(record.value)
            fact = case_fact(event, _traceparent(record))
            return ConsumedEvent(partition, record.offset, event_time(event), fact)
        except Exception as error:  # a poisoned record must not stop every clock behind it
            await self._dead_letter(record, error)
            return ConsumedEvent(partition, record.offset, record.timestamp * 1_000, None)

    async def _dead_letter(self, record: ConsumerRecord, error: Exception) -> None:
        log.error(
            "case event refused: dead-lettered",
            extra={"partition": record.partition, "offset": record.offset, "error": str(error)},
        )
        if not await dead_letter(self._dead_letters, self._topic, CONSUMER_NAME, record, error):
            raise DeadLetterAbandoned(
                f"dead letter of {record.topic}/{record.partition}@{record.offset} not "
                "acknowledged: the publisher was closed"
            )

    async def _update_caught_up(self) -> None:
        """Caught up means: at the broker's last answer (aiokafka's poll timestamp of the
        partition, when its high watermark was read) nothing was left unread. Alarms then fire
        up to that instant, not up to now: while fetches fail (a broker away) the instant stays
        put and alarms wait for Kafka, instead of firing past events they cannot yet see."""
        watermarks = self._engine.watermarks
        for tp in self._partitions:
            highwater = self._consumer.highwater(tp)
            answered_ms = self._consumer.last_poll_timestamp(tp)
            position = await self._consumer.position(tp)
            caught_up = highwater is not None and answered_ms is not None and position >= highwater
            as_of = (answered_ms - CAUGHT_UP_MARGIN_MS) * 1_000 if caught_up else None
            watermarks.set_caught_up((tp.topic, tp.partition), caught_up, as_of)

    async def _commit_to_kafka(self) -> None:
        watermarks = self._engine.watermarks
        offsets = {}
        for tp in self._partitions:
            position = watermarks.position((tp.topic, tp.partition))
            if position is not None:
                offsets[tp] = position.next_offset
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:  # informational only: the store holds the real offsets
            log.warning("committing offsets to Kafka failed", extra={"error": str(error)})


def _traceparent(record: ConsumerRecord) -> str | None:
    for key, value in record.headers or ():
        if key == "traceparent":
            return bytes(value).decode(errors="replace")
    return None
