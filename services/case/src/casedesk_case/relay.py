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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, Notification, Tracking
from opentelemetry import metrics

from casedesk_case.application import CaseApplication
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.following import Doorbell, follow
from casedesk_case.wire.events import to_case_event

log = logging.getLogger(__name__)

CONTENT_TYPE = b"application/x-protobuf; messageType=casedesk.case.v1.CaseEvent"


class OutboxRelay:
    def __init__(
        self,
        app: CaseApplication,
        connect: Callable[[], Awaitable[Any]],
        topic: str = "case.events.v1",
        batch_size: int = 500,
        idle_s: float = 0.2,
    ) -> None:
        self._app = app
        self._connect = connect  # returns a started aiokafka.AIOKafkaProducer (or alike)
        self._producer: Any = None
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._positions = app.factory.tracking_recorder()  # same database as the events
        self.tracking_name = f"{app.name}.outbox.{topic}"
        self.bell = Doorbell()
        self.lag_events = 0
        self.lag_seconds = 0.0
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
            await follow("outbox relay", self.publish_batch, self.bell, self._idle_s)
        finally:
            await self._producer.stop()

    def position(self) -> int:
        return self._positions.max_tracking_id(self.tracking_name) or 0

    async def publish_batch(self) -> int:
        """Publish the next batch of unpublished events; returns how many were published."""
        position = await asyncio.to_thread(self.position)
        notifications = await asyncio.to_thread(self._next_batch, position)
        if not notifications:
            await asyncio.to_thread(self._measure_lag, position)
            return 0
        events = [self._app.mapper.to_domain_event(n) for n in notifications]
        self._measure_age(events)
        # send() only enqueues into the producer's batches; the futures resolve on acks=all.
        acks = [await self._send(event) for event in events]
        await asyncio.gather(*acks)
        reached = notifications[-1].id
        try:
            await asyncio.to_thread(
                self._positions.insert_tracking, Tracking(self.tracking_name, reached)
            )
        except IntegrityError:
            # Another replica's relay published the same batch first (same event ids).
            log.info("outbox position already past %s: another relay is ahead", reached)
        await asyncio.to_thread(self._measure_lag, reached)
        self._published.add(len(events), {"topic": self._topic})
        return len(events)

    def _next_batch(self, position: int) -> Sequence[Notification]:
        return self._app.recorder.select_notifications(
            position, self._batch_size, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )

    async def _send(self, event: Any) -> asyncio.Future[Any]:
        record = to_case_event(event)
        headers = [
            ("content-type", CONTENT_TYPE),
            ("casedesk-event-type", record.meta.event_type.encode()),
        ]
        if event.context.trace_parent:
            # The trace of the command that stored the event, so consumers continue it.
            headers.append(("traceparent", event.context.trace_parent.encode()))
        future: asyncio.Future[Any] = await self._producer.send(
            self._topic,
            value=record.SerializeToString(),
            key=record.meta.case_id.encode(),
            headers=headers,
        )
        return future

    def _measure_age(self, events: Sequence[Any]) -> None:
        self.lag_seconds = max(0.0, time.time() - events[0].timestamp.timestamp())

    def _measure_lag(self, position: int) -> None:
        newest = self._app.recorder.max_notification_id() or 0
        # Counts every record of the log behind the position (receipts and counters too).
        self.lag_events = max(0, newest - position)
        if not self.lag_events:
            self.lag_seconds = 0.0

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
