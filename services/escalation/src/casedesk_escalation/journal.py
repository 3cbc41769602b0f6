"""Publishing the decision journal to escalation.decisions.v1 from the store (an outbox).

Records go out in decision order, keyed by case id, through a `Publisher` (idempotent producers,
replaced after a failed send, so a broker outage of any length is waited out). Rows are marked
published only once Kafka acknowledged all of them. A crash between the acknowledgement and
marking the rows sends them again under the same event id, which is what consumers of the journal
deduplicate on (DESIGN.md "Kafka topics").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_escalation.store.records import StoredDecision
from casedesk_escalation.store.sql import DecisionStore
from casedesk_runtime.kafka import trace_headers
from casedesk_runtime.publishing import OutgoingRecord, Publisher


class DecisionJournal:
    def __init__(self, store: DecisionStore, publisher: Publisher, topic: str) -> None:
        self._store = store
        self._publisher = publisher
        self._topic = topic

    async def publish_pending(self, page: int = 1000) -> int:
        """Publish every unpublished decision; returns how many went out.

        Waits out a broker outage; stops early, leaving the rest for the next run, when the
        publisher was closed meanwhile (shutdown).
        """
        published = 0
        while rows := await self._store.unpublished(page):
            records = [self._record(row) for row in rows]
            if not await self._publisher.deliver(records, _waiting_at(rows)):
                break
            await self._store.mark_published(row.seq for row in rows)
            published += len(rows)
        return published

    def _record(self, row: StoredDecision) -> OutgoingRecord:
        token = None
        if row.trace:
            token = otel_context.attach(propagate.extract(json.loads(row.trace)))
        try:
            headers = trace_headers()
        finally:
            if token is not None:
                otel_context.detach(token)
        return OutgoingRecord(self._topic, row.record, row.case_id.encode(), tuple(headers))


def _waiting_at(rows: list[StoredDecision]) -> Callable[[], Mapping[str, Any]]:
    """For the outage log lines: the journal position waiting for Kafka."""

    def where() -> Mapping[str, Any]:
        return {"journal_seq": rows[0].seq, "journal_batch": len(rows)}

    return where
