"""The consumer loop over escalation.decisions.v1: refused escalation requests, for the citizen.

Its records go the way case events go (`BatchHandler`: planned, committed in one store
transaction with their offsets, a poisoned record parked first), so a decision is explained
exactly once. Unlike case.events.v1 it is read without a consumer group: notify runs as one
replica and its store holds the offsets, so the loop assigns itself every partition of the topic
and seeks to the stored offsets. Without a group, a deployment where notify cannot read the
topic (its ACL not granted yet, the topic not created) costs this loop's retries, logged, and
never the case-events consumer's rebalances or the process. Partitions added to the topic later
are read after the next restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from casedesk_notify.application.batch_handler import BatchHandler
from casedesk_notify.application.ports import ParkingClosed

log = logging.getLogger(__name__)

RETRY_S = 10.0


class DecisionConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        handler: BatchHandler,
        max_records: int = 500,
        retry_s: float = RETRY_S,
    ) -> None:
        self._consumer = consumer
        self._topic = topic
        self._handler = handler
        self._max_records = max_records
        self._retry_s = retry_s
        self._stopping = asyncio.Event()
        self._failing = False

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    if not self._consumer.assignment() and not await self._assign():
                        await self._wait_or_stop(self._retry_s)
                        continue
                    fetched = await self._consumer.getmany(
                        timeout_ms=200, max_records=self._max_records
                    )
                except KafkaError as error:
                    self._failed(error)
                    await self._wait_or_stop(self._retry_s)
                    continue
                records: list[Any] = [r for batch in fetched.values() for r in batch]
                if records:
                    await self._handler.handle(records)
                self._recovered()
        except ParkingClosed:
            if not self._stopping.is_set():
                raise
            log.warning("stopped before a poisoned decision was parked; it is read again")

    async def _assign(self) -> bool:
        """Every partition of the topic, each at its stored offset (else its beginning)."""
        await self._consumer.topics()  # a fresh look at the cluster's metadata
        numbers = self._consumer.partitions_for_topic(self._topic)
        if not numbers:
            self._failed(f"topic {self._topic} not found or not readable")
            return False
        partitions = [TopicPartition(self._topic, number) for number in sorted(numbers)]
        self._consumer.assign(partitions)
        stored = self._handler.stored_offsets(self._topic)
        for partition in partitions:
            if partition.partition in stored:
                self._consumer.seek(partition, stored[partition.partition])
        unstored = [p for p in partitions if p.partition not in stored]
        if unstored:
            await self._consumer.seek_to_beginning(*unstored)
        log.info("escalation decisions assigned", extra={"partitions": sorted(numbers)})
        return True

    def _failed(self, error: Exception | str) -> None:
        # The first failure of a streak is worth a warning; the rest would only repeat it.
        if not self._failing:
            log.warning(
                "escalation decisions cannot be read; retrying every %.0f s",
                self._retry_s,
                extra={"topic": self._topic, "error": str(error)},
            )
        self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.info("escalation decisions readable again", extra={"topic": self._topic})
        self._failing = False

    async def _wait_or_stop(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
