"""Publishing the decision journal to escalation.decisions.v1 from the store (an outbox).

Records go out in decision order, keyed by case id, from an idempotent producer. A crash between
the send and marking the rows published sends them again under the same event id, which is what
consumers of the journal deduplicate on (DESIGN.md "Kafka topics").
"""

from __future__ import annotations

import json

from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_escalation.store.sql import DecisionStore
from casedesk_runtime.kafka import trace_headers


class DecisionJournal:
    def __init__(self, store: DecisionStore, producer: AIOKafkaProducer, topic: str) -> None:
        self._store = store
        self._producer = producer
        self._topic = topic

    async def publish_pending(self, page: int = 1000) -> int:
        published = 0
        while rows := await self._store.unpublished(page):
            deliveries = []
            for row in rows:
                token = None
                if row.trace:
                    token = otel_context.attach(propagate.extract(json.loads(row.trace)))
                try:
                    headers = trace_headers()
                finally:
                    if token is not None:
                        otel_context.detach(token)
                deliveries.append(
                    await self._producer.send(
                        self._topic, value=row.record, key=row.case_id.encode(), headers=headers
                    )
                )
            for delivery in deliveries:
                await delivery
            await self._store.mark_published(row.seq for row in rows)
            published += len(rows)
        return published
