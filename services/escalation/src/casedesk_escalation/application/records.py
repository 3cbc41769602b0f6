"""What the application hands to the store, and what the store hands back.

A decided batch is written in one transaction: the new per-case states, the journal entries and
the next offset of every partition the batch came from. An accepted decision is stored together
with the command that carries it out, so that the decision is taken exactly once and the command
is sent (again, with the same idempotency key) until the case service has answered it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from casedesk_escalation.domain.case_state import CaseState
from casedesk_escalation.domain.decisions import Decision

# (topic, partition)
Partition = tuple[str, int]


class OffsetConflict(RuntimeError):
    """Another consumer advanced a partition since we read its offset: our batch is stale."""


@dataclass(frozen=True)
class JournalEntry:
    decision_id: str
    case_id: str
    # A serialized casedesk.escalation.v1.EscalationDecision.
    record: bytes
    # A serialized casedesk.case.v1.EscalateRequest while it still has to be sent, else None.
    command: bytes | None = None
    # W3C trace context (JSON carrier) of the record that triggered the decision, so the command
    # and the journal record sent later continue the trigger's trace.
    trace: str = ""


@dataclass
class DecidedBatch:
    cases: dict[str, CaseState] = field(default_factory=dict)
    entries: list[JournalEntry] = field(default_factory=list)
    # partition -> (offset we read from the store, or None if none was stored; new next offset)
    offsets: dict[Partition, tuple[int | None, int]] = field(default_factory=dict)
    # The decisions the entries journal, for the measurements once the batch is committed.
    decisions: list[Decision] = field(default_factory=list)

    def advance(self, partition: Partition, stored: int | None, next_offset: int) -> None:
        previous = self.offsets.get(partition)
        expected = previous[0] if previous else stored
        self.offsets[partition] = (expected, next_offset)


@dataclass(frozen=True)
class PendingCommand:
    seq: int
    decision_id: str
    case_id: str
    record: bytes
    command: bytes
    trace: str = ""


@dataclass(frozen=True)
class StoredDecision:
    seq: int
    decision_id: str
    case_id: str
    record: bytes
    trace: str = ""
