"""The decision journal's rows as records on escalation.decisions.v1, through a `Publisher`.

The Publisher (idempotent producers, replaced after a failed send) waits out a broker outage of
any length; each record carries the trace context of the trigger it was decided for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_escalation.application.records import StoredDecision
from casedesk_runtime.kafka import trace_headers
from casedesk_runtime.publishing import OutgoingRecord, Publisher


class KafkaJournalTopic:
    def __init__(self, publisher: Publisher, topic: str) -> None:
        self._publisher = publisher
        self._topic = topic

    async def deliver(self, rows: list[StoredDecision]) -> bool:
        records = [self._record(row) for row in rows]
        return await self._publisher.deliver(records, _waiting_at(rows))

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
