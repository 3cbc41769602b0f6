"""The outbox relay: every stored case event, in store order, onto Kafka topic case.events.v1.

The notification log of the event store is the outbox: commands only write events, and this
relay publishes them afterwards as `CaseEvent` envelopes keyed by case id (so one case's events
stay in one partition, in order). Its position is recorded in the same database only after Kafka
acknowledged the whole batch (idempotent producer, acks=all). A crash between the two re-publishes
that batch on restart: consumers see duplicates with the same event id, never a gap.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError, Tracking
from opentelemetry import metrics

from casedesk_case.application import CaseApplication
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.following import Doorbell, follow
from casedesk_case.wire.events import OutboxRecord, to_outbox_record

log = logging.getLogger(__name__)

# Under a steady stream the lag is measured at most this often (a query of its own).
LAG_INTERVAL_S = 1.0


@dataclass(frozen=True)
class _Batch:
    reached: int  # notification id of its last event
    records: list[OutboxRecord]


class OutboxRelay:
    def __init__(
        self,
        app: CaseApplication,
        connect: Callable[[], Awaitable[Any]],
        topic: str = "case.events.v1",
        batch_size: int = 500,
        idle_s: float = 0.2,
        pace_s: float = 0.0,
    ) -> None:
        self._app = app
        self._connect = connect  # returns a started aiokafka.AIOKafkaProducer (or alike)
        self._producer: Any = None
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._pace_s = pace_s
        self._positions = app.factory.tracking_recorder()  # same database as the events
        self.tracking_name = f"{app.name}.outbox.{topic}"
        self.bell = Doorbell()
        self.lag_events = 0
        self.lag_seconds = 0.0
        self._lag_measured_at = float("-inf")
        # The position this relay recorded last (None: read it from the database), so that a
        # batch costs one query to read and one to record, not four.
        self._position: int | None = None
        self._register_metrics()

    async def run(self) -> None:
        """Connect (retrying while Kafka is unreachable) and publish until the bell is closed."""
        self.bell.bind()
        for attempt in itertools.count():
            if self.bell.closed:
                return
            try:
                self._producer = await self._connect()
                break
            except Exception as error:  # commands keep working meanwhile: the outbox fills
                delay = min(5.0, 0.5 * 2**attempt)
                log.warning(
                    "Kafka unreachable (%s); retrying in %.1f s", type(error).__name__, delay
                )
                await self.bell.sleep(delay)
        try:
            await follow(
                "outbox relay", self.publish_batch, self.bell, self._idle_s, self._pace_s,
                full_step=self._batch_size,
            )  # fmt: skip
        finally:
            await self._producer.stop()

    def position(self) -> int:
        return self._positions.max_tracking_id(self.tracking_name) or 0

    async def publish_batch(self) -> int:
        """Publish the next batch of unpublished events; returns how many were published."""
        batch = await asyncio.to_thread(self._next_batch)
        if batch is None:
            return 0
        # send() only enqueues into the producer's batches; the futures resolve on acks=all.
        acks = [
            await self._producer.send(
                self._topic, value=record.value, key=record.key, headers=record.headers
            )
            for record in batch.records
        ]
        await asyncio.gather(*acks)
        await asyncio.to_thread(self._record_position, batch.reached)
        self._published.add(len(batch.records), {"topic": self._topic})
        return len(batch.records)

    def _next_batch(self) -> _Batch | None:
        """The next events to publish as Kafka records, built here in a worker thread."""
        if self._position is None:
            self._position = self.position()
        notifications = self._app.recorder.select_notifications(
            self._position, self._batch_size, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        if not notifications:
            self._measure_lag(self._position)
            return None
        events = [self._app.event_of(n) for n in notifications]
        self.lag_seconds = max(0.0, time.time() - events[0].timestamp.timestamp())
        return _Batch(notifications[-1].id, [to_outbox_record(e) for e in events])

    def _record_position(self, reached: int) -> None:
        try:
            self._positions.insert_tracking(Tracking(self.tracking_name, reached))
        except IntegrityError:
            # Another replica's relay published the same batch first (same event ids).
            log.info("outbox position already past %s: another relay is ahead", reached)
            self._position = None  # read it again: continue from where that relay got
            return
        self._position = reached
        if time.monotonic() - self._lag_measured_at >= LAG_INTERVAL_S:
            self._measure_lag(reached)

    def _measure_lag(self, position: int) -> None:
        newest = self._app.recorder.max_notification_id() or 0
        # Counts every record of the log behind the position (receipts and counters too).
        self.lag_events = max(0, newest - position)
        if not self.lag_events:
            self.lag_seconds = 0.0
        self._lag_measured_at = time.monotonic()

    def _register_metrics(self) -> None:
        meter = metrics.get_meter("casedesk.case.relay")
        attributes = {"topic": self._topic}
        meter.create_observable_gauge(
            "casedesk.case.outbox.lag",
            callbacks=[lambda _: [metrics.Observation(self.lag_events, attributes)]],
            unit="{record}",
            description="Records of the event store not yet published to Kafka",
        )
        meter.create_observable_gauge(
            "casedesk.case.outbox.lag_seconds",
            callbacks=[lambda _: [metrics.Observation(self.lag_seconds, attributes)]],
            unit="s",
            description="Age of the oldest event not yet published when the last batch started",
        )
        self._published = meter.create_counter(
            "casedesk.case.outbox.published",
            unit="{event}",
            description="Case events published to Kafka (re-publishes after a crash included)",
        )
