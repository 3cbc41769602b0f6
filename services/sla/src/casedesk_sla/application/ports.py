"""What the SLA application needs from the outside: the time, and a store for its outcome."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from casedesk_sla.application.watermarks import PartitionKey, Position
from casedesk_sla.domain import Changes, Micros, SlaFact
from casedesk_sla.domain.table import ClockTable


class ClockSource(Protocol):
    """Where "now" comes from: the system clock in the service, a hand-moved clock in tests."""

    def now(self) -> Micros: ...


class ClockStore(Protocol):
    def save_decided(
        self,
        table: ClockTable,
        changes: Changes,
        positions: Mapping[PartitionKey, Position],
        decided: Sequence[SlaFact],
    ) -> None:
        """Store in one transaction the changed clocks, the consumed positions and the SLA
        events `decided` (to be published from the outbox)."""
