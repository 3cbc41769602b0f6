"""Sending the committed Escalate commands to the case service until each one is answered.

A command is in the store from the moment its decision was committed until the case service
answered it, so a crash anywhere in between only means it is sent again with the same idempotency
key. A case's commands go out one after another in decision order (L1 -> L2 before L2 -> L3);
different cases proceed concurrently.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

from opentelemetry import context as otel_context
from opentelemetry import propagate

from casedesk_escalation.application.ports import (
    CaseService,
    CommandResult,
    DecisionEncoding,
    DecisionStore,
)
from casedesk_escalation.application.records import PendingCommand
from casedesk_runtime.logs import get_logger

log = get_logger(__name__)


class CommandRunner:
    def __init__(
        self,
        store: DecisionStore,
        case_service: CaseService,
        concurrency: int,
        encoding: DecisionEncoding,
    ) -> None:
        self._store = store
        self._case_service = case_service
        self._encoding = encoding
        self._slots = asyncio.Semaphore(concurrency)

    async def run_pending(self, page: int = 1000) -> int:
        """Send every unanswered command; returns how many were answered."""
        answered = 0
        while pending := await self._store.pending_commands(page):
            by_case: dict[str, list[PendingCommand]] = defaultdict(list)
            for command in pending:
                by_case[command.case_id].append(command)
            results = await asyncio.gather(*(self._send_in_order(cs) for cs in by_case.values()))
            outcomes = [outcome for case_outcomes in results for outcome in case_outcomes]
            await self._store.settle(outcomes)
            answered += len(outcomes)
        return answered

    async def _send_in_order(self, commands: list[PendingCommand]) -> list[tuple[int, bytes]]:
        outcomes = []
        async with self._slots:
            for command in commands:
                result = await self._send(command)
                outcomes.append((command.seq, self._final_record(command.record, result)))
        return outcomes

    async def _send(self, command: PendingCommand) -> CommandResult:
        parent = propagate.extract(json.loads(command.trace)) if command.trace else None
        token = otel_context.attach(parent) if parent is not None else None
        try:
            result = await self._case_service.escalate(command.command)
        finally:
            if token is not None:
                otel_context.detach(token)
        if not result.applied:
            log.warning(
                "escalation refused by the case service",
                extra={"case_id": command.case_id, "refusal": result.refusal},
            )
        return result

    def _final_record(self, record: bytes, result: CommandResult) -> bytes:
        """The journal record once the case service answered: unchanged if applied, else
        rejected."""
        return record if result.applied else self._encoding.refused(record, result.refusal)
