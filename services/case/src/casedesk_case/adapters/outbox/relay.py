"""The outbox relay: every stored case event, in store order, onto the case events Kafka topic.

The notification log of the event store is the outbox: commands only write events, and this
relay publishes them afterwards as `CaseEvent` envelopes keyed by case id (so one case's events
stay in one partition, in order). Its position is recorded in the same database only after Kafka
acknowledged the whole batch (idempotent producer, acks=all). A crash between the two re-publishes
that batch on restart: consumers see duplicates with the same event id, never a gap.

A broker outage holds the relay at its position while commands go on filling the outbox; the
publisher replaces its producer after a failed send and re-sends only what no partition
acknowledged, so publishing resumes by itself within seconds of the broker's return. The relay
reports its lag (records stored but not yet on Kafka) as a metric and, while it is behind, in a
log line a minute; `python -m casedesk_case.cli.outbox_status` reads it from the store.

Metrics (the runtime's metrics endpoint): `casedesk_case_outbox_lag{topic}` (records behind,
measured after a batch at most every LAG_INTERVAL_S, 0 once caught up, once a minute during an
outage), `casedesk_case_outbox_lag_seconds{topic}` (age of the oldest event not yet published,
growing at every scrape while a batch waits for Kafka) and
`casedesk_case_outbox_published_total{topic}`.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from eventsourcing.persistence import IntegrityError, Tracking
from opentelemetry import metrics

from casedesk_case.application import CaseApplication
from casedesk_case.application.positions import outbox_tracking_name
from casedesk_case.domain.case import CASE_EVENT_TOPICS
from casedesk_case.wire.events import to_outbox_record
from casedesk_runtime.following import Doorbell, follow
from casedesk_runtime.publishing import OutgoingRecord, Publisher
from casedesk_vocabulary.topics import CASE_EVENTS

log = logging.getLogger(__name__)

# Under a steady stream the lag is measured at most this often (a query of its own).
LAG_INTERVAL_S = 1.0
# A relay whose oldest unpublished event is this old is behind: it says so once a minute.
BEHIND_AFTER_S = 10.0
LAG_REPORT_EVERY_S = 60.0


_meter = metrics.get_meter("casedesk.case.relay")
# The relays of the process (one when it serves; tests make more), observed at every scrape from
# the metrics thread: only attributes the relay assigns whole are read.
_relays: tuple[weakref.ref[OutboxRelay], ...] = ()


def _live_relays() -> Iterable[OutboxRelay]:
    return (relay for ref in _relays if (relay := ref()) is not None)


def _lag(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(r.lag_events, r.metric_labels) for r in _live_relays()]


def _age(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
    return [metrics.Observation(r.oldest_pending_age(), r.metric_labels) for r in _live_relays()]


_meter.create_observable_gauge(
    "casedesk.case.outbox.lag",
    callbacks=[_lag],
    unit="{record}",
    description="Records of the event store not yet published to Kafka",
)
_meter.create_observable_gauge(
    "casedesk.case.outbox.lag_seconds",
    callbacks=[_age],
    unit="s",
    description="Age of the oldest case event not yet published to Kafka (0 when caught up)",
)
_published = _meter.create_counter(
    "casedesk.case.outbox.published",
    unit="{event}",
    description="Case events published to Kafka (re-publishes after a crash included)",
)


@dataclass(frozen=True)
class _Batch:
    reached: int  # notification id of its last event
    records: list[OutgoingRecord]


class OutboxRelay:
    def __init__(
        self,
        app: CaseApplication,
        publisher: Publisher,
        topic: str = CASE_EVENTS,
        batch_size: int = 500,
        idle_s: float = 0.2,
        pace_s: float = 0.0,
        report_every_s: float = LAG_REPORT_EVERY_S,
    ) -> None:
        self._app = app
        # Replaces its producer after a failed send and re-sends only what no partition took,
        # so a broker outage of any length ends without a restart (casedesk_runtime.publishing).
        self._publisher = publisher
        self._topic = topic
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._pace_s = pace_s
        self._report_every_s = report_every_s
        self._positions = app.factory.tracking_recorder()  # same database as the events
        self.tracking_name = outbox_tracking_name(app.name, topic)
        self.bell = Doorbell()
        self.lag_events = 0
        self.lag_seconds = 0.0
        self._lag_measured_at = float("-inf")
        self._lag_reported_at = float("-inf")
        self._behind_since: float | None = None
        self._oldest_pending: float | None = None  # occurred-at (epoch s) of the batch's first
        # The position this relay recorded last (None: read it from the database), so that a
        # batch costs one query to read and one to record, not four.
        self._position: int | None = None
        self.metric_labels = {"topic": topic}
        global _relays
        _relays = (*(ref for ref in _relays if ref() is not None), weakref.ref(self))

    async def run(self) -> None:
        """Publish until stopped; the producer is started lazily and replaced after failures."""
        self.bell.bind()
        try:
            await follow(
                "outbox relay", self.publish_batch, self.bell, self._idle_s, self._pace_s,
                full_step=self._batch_size,
            )  # fmt: skip
        finally:
            await self._publisher.aclose()

    def stop(self) -> None:
        """Stop after the current batch; a batch held up by a broker outage is abandoned (it is
        published again after the next start, with the same event ids)."""
        self.bell.close()
        self._publisher.close()

    async def publish_batch(self) -> int:
        """Publish the next batch of unpublished events; returns how many were published."""
        batch = await asyncio.to_thread(self._next_batch)
        if batch is None:
            return 0
        if not await self._publisher.deliver(batch.records, waiting_at=self._waiting_at):
            return 0  # stopped meanwhile: the position stays where Kafka's acks left it
        await asyncio.to_thread(self._record_position, batch.reached)
        _published.add(len(batch.records), self.metric_labels)
        return len(batch.records)

    def position(self) -> int:
        return self._positions.max_tracking_id(self.tracking_name) or 0

    def oldest_pending_age(self) -> float:
        """Seconds since the oldest event not yet published occurred (0 when caught up): the
        batch in hand's first event, so it keeps growing while that batch waits for Kafka."""
        oldest = self._oldest_pending
        return 0.0 if oldest is None else max(0.0, time.time() - oldest)

    def _next_batch(self) -> _Batch | None:
        """The next events to publish as Kafka records, built here in a worker thread."""
        if self._position is None:
            self._position = self.position()
        notifications = self._app.recorder.select_notifications(
            self._position, self._batch_size, topics=CASE_EVENT_TOPICS, inclusive_of_start=False
        )
        if not notifications:
            self._caught_up(self._position)
            return None
        events = [self._app.event_of(n) for n in notifications]
        self._oldest_pending = events[0].timestamp.timestamp()
        self.lag_seconds = max(0.0, time.time() - self._oldest_pending)
        records = []
        for event in events:
            record = to_outbox_record(event)
            records.append(OutgoingRecord(self._topic, record.value, record.key, record.headers))
        return _Batch(notifications[-1].id, records)

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
        # Counts every record of the log behind the position (receipts and counters too): one
        # cheap query, an upper bound of the case events still to publish.
        self.lag_events = max(0, newest - position)
        self._lag_measured_at = time.monotonic()
        self._report_lag(position)

    def _caught_up(self, position: int) -> None:
        """No case event left to publish (records of other kinds may follow the position)."""
        self.lag_events = 0
        self.lag_seconds = 0.0
        self._oldest_pending = None
        self._lag_measured_at = time.monotonic()
        self._report_lag(position)

    def _report_lag(self, position: int) -> None:
        """A line a minute while the relay stays behind, and one when it has caught up."""
        now = time.monotonic()
        behind = self.lag_seconds >= BEHIND_AFTER_S
        if behind and self._behind_since is None:
            self._behind_since = now
        if not self.lag_events and self._behind_since is not None:
            log.info(
                "outbox relay caught up after %.0f s behind", now - self._behind_since,
                extra={"position": position, "topic": self._topic},
            )  # fmt: skip
            self._behind_since = None
            self._lag_reported_at = float("-inf")
            return
        if behind and now - self._lag_reported_at >= self._report_every_s:
            log.info(
                "outbox relay behind: %d records not yet on %s, oldest %.0f s old",
                self.lag_events, self._topic, self.lag_seconds,
                extra={"position": position, "lag_events": self.lag_events,
                       "lag_seconds": round(self.lag_seconds, 1)},
            )  # fmt: skip
            self._lag_reported_at = now

    def _waiting_at(self) -> dict[str, object]:
        """Where the relay waits, for the publisher's lines during a broker outage."""
        position = self._position or 0
        newest = self._app.recorder.max_notification_id() or 0  # one query a minute at most
        self.lag_events = max(0, newest - position)
        if self._oldest_pending is not None:
            self.lag_seconds = max(0.0, time.time() - self._oldest_pending)
        return {"topic": self._topic, "position": position, "lag_events": self.lag_events,
                "lag_seconds": round(self.lag_seconds, 1)}  # fmt: skip
