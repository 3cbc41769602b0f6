"""Reading topics from Kafka without disturbing any service.

The consumer has no group (`group_id=None`): partitions are assigned by hand, positions are
sought explicitly and nothing is ever committed, so no consumer group is created and no service's
offsets move. The range is fixed when the source opens: from the beginning (or the first offset
at `since`, by record timestamp) to the end offsets of that moment (or the first offset at
`until`), so a replay of a live topic terminates.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from casedesk_replay.sources import EVERYTHING, Batch, SourceError, TimeRange
from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay.wire import UndecodableRecord, decode_many
from casedesk_runtime.topics import existing_partitions

_FETCH_TIMEOUT_MS = 500
# After this long without a record from a partition short of its end, the replay gives up.
_STALL_S = 60.0


def part_name(tp: TopicPartition) -> str:
    return f"{tp.topic}/{tp.partition}"


class KafkaSource:
    name = "kafka"
    unit = "records"

    def __init__(
        self,
        connection: Mapping[str, Any],
        topics: TopicMap,
        streams: Sequence[Stream],
        time_range: TimeRange = EVERYTHING,
        keys: Sequence[bytes] = (),
        max_records: int = 20_000,
    ) -> None:
        """`keys`: read only the partitions these record keys (case ids) are produced to."""
        self._connection = dict(connection)
        self._topics = topics
        self._streams = list(streams)
        self._range = time_range
        self._keys = list(keys)
        self._max_records = max_records
        self._consumer: AIOKafkaConsumer | None = None
        self._stops: dict[TopicPartition, int] = {}
        self._positions: dict[TopicPartition, int] = {}

    async def open(self, resume: Mapping[str, int]) -> int:
        consumer = self._consumer = AIOKafkaConsumer(
            **self._connection,
            group_id=None,
            enable_auto_commit=False,
            client_id="casedesk-replay",
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )
        try:
            await consumer.start()
            partitions = await self._partitions()
            consumer.assign(partitions)
            first = await consumer.beginning_offsets(partitions)
            end = await consumer.end_offsets(partitions)
            start = (
                await self._offsets_at(consumer, self._range.since, end)
                if self._range.since
                else first
            )
            stop = (
                await self._offsets_at(consumer, self._range.until, end)
                if self._range.until
                else end
            )
        except KafkaError as error:
            raise SourceError(
                f"Kafka at {self._connection.get('bootstrap_servers')}: {error}"
            ) from error
        planned = 0
        for tp in partitions:
            # A position below the log start (retention) cannot be read; Kafka would reset anyway.
            position = max(resume.get(part_name(tp), start[tp]), first[tp])
            if position < stop[tp]:
                consumer.seek(tp, position)
                self._positions[tp] = position
                self._stops[tp] = stop[tp]
                planned += stop[tp] - position
        if done := [tp for tp in partitions if tp not in self._stops]:
            consumer.pause(*done)
        return planned

    async def batches(self) -> AsyncIterator[Batch]:
        consumer = self._consumer
        assert consumer is not None, "open() first"
        last_progress = time.monotonic()
        while self._stops:
            try:
                fetched = await consumer.getmany(
                    *self._stops, timeout_ms=_FETCH_TIMEOUT_MS, max_records=self._max_records
                )
            except KafkaError as error:
                raise SourceError(f"reading from Kafka failed: {error}") from error
            if not fetched:
                await self._settle_drained(consumer, last_progress)
                continue
            last_progress = time.monotonic()
            for tp, records in fetched.items():
                if tp in self._stops and records:
                    yield self._batch(tp, records)

    def _batch(self, tp: TopicPartition, records: list[Any]) -> Batch:
        stop = self._stops[tp]
        if records[-1].offset >= stop:
            records = [record for record in records if record.offset < stop]
        stream = self._topics.stream_of(tp.topic)
        try:
            events = decode_many(stream, [record.value for record in records])
        except UndecodableRecord as error:
            offset = records[error.index].offset
            raise SourceError(f"{part_name(tp)} offset {offset}: {error}") from error
        before = self._positions[tp]
        position = records[-1].offset + 1 if records else stop
        if position >= stop:
            position = stop
            self._finish(tp)
        self._positions[tp] = position
        return Batch(stream, events, part_name(tp), position, position - before)

    async def _settle_drained(self, consumer: AIOKafkaConsumer, last_progress: float) -> None:
        """Partitions whose position reached the stop without a record there (e.g. the stop
        offset is a transaction marker) are done; a partition that stays short is an error."""
        for tp in list(self._stops):
            if await consumer.position(tp) >= self._stops[tp]:
                self._positions[tp] = self._stops[tp]
                self._finish(tp)
        if self._stops and time.monotonic() - last_progress > _STALL_S:
            short = ", ".join(part_name(tp) for tp in self._stops)
            raise SourceError(f"no records for {_STALL_S:.0f} s from {short} short of their end")

    def _finish(self, tp: TopicPartition) -> None:
        del self._stops[tp]
        assert self._consumer is not None
        self._consumer.pause(tp)

    async def _partitions(self) -> list[TopicPartition]:
        names = [self._topics.topic(stream) for stream in self._streams]
        existing = await existing_partitions(names, **self._connection)
        partitions: list[TopicPartition] = []
        for topic in names:
            numbers = existing.get(topic)
            if not numbers:
                raise SourceError(f"topic {topic} does not exist on the Kafka cluster")
            if self._keys:
                # The producers' partitioner: a case's events are all in one partition.
                partitioner = DefaultPartitioner()
                numbers = sorted({partitioner(key, numbers, numbers) for key in self._keys})
            partitions.extend(TopicPartition(topic, number) for number in numbers)
        return partitions

    async def _offsets_at(
        self, consumer: AIOKafkaConsumer, moment: datetime, end: Mapping[TopicPartition, int]
    ) -> dict[TopicPartition, int]:
        """The first offset whose record timestamp is at or after `moment`, else the end."""
        millis = int(moment.timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: millis for tp in end})
        return {tp: found[tp].offset if found.get(tp) else end[tp] for tp in end}

    async def close(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
