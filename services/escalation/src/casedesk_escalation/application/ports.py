"""What the application needs from its adapters: the store, the case service, the journal's topic
and the encoding of decisions (the journal record and the Escalate command travel as bytes)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from casedesk_escalation.application.records import (
    DecidedBatch,
    Partition,
    PendingCommand,
    StoredDecision,
)
from casedesk_escalation.domain.case_state import CaseState
from casedesk_escalation.domain.decisions import Decision


class DecisionStore(Protocol):
    """Per-case state, the decision journal (an outbox of records and commands) and offsets."""

    async def offsets(self, group: str) -> dict[Partition, int]: ...

    async def load_cases(self, case_ids: Iterable[str]) -> dict[str, CaseState]: ...

    async def commit(self, group: str, batch: DecidedBatch) -> None:
        """Atomically; raises OffsetConflict if a partition moved meanwhile."""

    async def pending_commands(self, limit: int = 1000) -> list[PendingCommand]: ...

    async def settle(self, outcomes: Iterable[tuple[int, bytes]]) -> None: ...

    async def unpublished(self, limit: int = 1000) -> list[StoredDecision]: ...

    async def mark_published(self, seqs: Iterable[int]) -> None: ...


@dataclass(frozen=True)
class CommandResult:
    applied: bool
    # Why the escalation did not happen (for the journal); empty when applied.
    refusal: str = ""


class CaseService(Protocol):
    async def escalate(self, command: bytes) -> CommandResult:
        """Send one encoded Escalate command until the case service answers it."""


class JournalTopic(Protocol):
    async def deliver(self, rows: list[StoredDecision]) -> bool:
        """Publish the rows in order; False if publishing was abandoned (shutdown)."""


@dataclass(frozen=True)
class EncodedDecision:
    decision_id: str
    record: bytes
    # The Escalate command, for a decision that needs one.
    command: bytes | None


class DecisionEncoding(Protocol):
    def encode(self, decision: Decision, case_version: int) -> EncodedDecision: ...

    def refused(self, record: bytes, refusal: str) -> bytes:
        """The journal record of an accepted decision the case service did not carry out."""
