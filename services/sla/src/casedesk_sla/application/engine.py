"""The SLA engine: applies consumed case events and the passing of time, then stores the outcome.

Each call is one unit of work that ends in one store transaction: the clocks it changed, the
offsets it consumed and the SLA events it decided. The book is mutated before the commit, so a
failed commit leaves memory ahead of the database; the engine then refuses to go on and the
process must restart from the store (the composition root exits on any engine error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from casedesk_deadlines import DeadlineError
from casedesk_sla.application import measurements
from casedesk_sla.application.ports import ClockSource, ClockStore
from casedesk_sla.application.watermarks import PartitionKey, Watermarks
from casedesk_sla.domain import CaseFact, Micros, SlaBook, SlaFact


@dataclass(frozen=True, slots=True)
class ConsumedEvent:
    """One record of case.events.v1, decoded; `fact` is None when it moves no clock.

    The record's trace context travels in the fact, which hands it on to the clocks it sets
    running and to the SLA events it causes."""

    partition: PartitionKey
    offset: int
    event_time: Micros
    fact: CaseFact | None

    def passed(self) -> ConsumedEvent:
        """The same record with nothing to apply: only its offset is consumed."""
        return replace(self, fact=None)


@dataclass(frozen=True, slots=True)
class Refused:
    """The first event of a batch the book refused, why, and the events after it (not applied)."""

    event: ConsumedEvent
    error: Exception
    rest: Sequence[ConsumedEvent]


class EngineHalted(RuntimeError):
    """A commit failed after the book changed; only a restart from the store is safe."""


class SlaEngine:
    def __init__(
        self,
        book: SlaBook,
        store: ClockStore,
        clock: ClockSource,
        watermarks: Watermarks,
        on_outbox: Callable[[], None] = lambda: None,
        on_decided: Callable[[Sequence[SlaFact]], None] = lambda facts: None,
    ) -> None:
        """`on_outbox` runs after a commit that added SLA events (to wake the relay);
        `on_decided` receives those events' facts (for measurements)."""
        self.book = book
        self.watermarks = watermarks
        self._store = store
        self._clock = clock
        self._on_outbox = on_outbox
        self._on_decided = on_decided
        self._halted = False

    def consume(self, events: Sequence[ConsumedEvent]) -> Refused | None:
        """Apply a batch of case events and store the outcome, up to the first event refused.

        A refused event (a channel the policy does not know) is returned with the rest of the
        batch, and neither it nor the rest is consumed: the caller parks it on its dead-letter
        topic, and only once the broker acknowledged the copy hands it back `passed()` (with the
        rest) to consume its offset. So a crash in between reads it again instead of losing it,
        and one bad record still cannot hold back every clock behind it for long.
        """
        self._check_running()
        decided: list[SlaFact] = []
        refused = None
        for index, event in enumerate(events):
            if event.fact is not None:
                try:
                    decided.extend(self.book.apply(event.fact))
                except DeadlineError as error:
                    refused = Refused(event, error, events[index + 1 :])
                    break
            self.watermarks.consumed(event.partition, event.offset, event.event_time)
        self._advance(decided)
        self._commit(decided)
        return refused

    def tick(self) -> int:
        """Fire the alarms the watermark allows; returns the number of SLA events decided."""
        self._check_running()
        decided: list[SlaFact] = []
        self._advance(decided)
        return self._commit(decided) if decided else 0

    def next_alarm_at(self) -> Micros | None:
        return self.book.next_alarm_at()

    def safe_time(self) -> Micros | None:
        return self.watermarks.safe_time(self._clock.now())

    def _advance(self, decided: list[SlaFact]) -> None:
        safe = self.safe_time()
        if safe is not None:
            decided.extend(self.book.advance(safe))

    def _commit(self, decided: list[SlaFact]) -> int:
        try:
            self._store.save_decided(
                self.book.table, self.book.take_changes(), self.watermarks.take_changed(), decided
            )
        except BaseException as error:
            self._halted = True
            raise EngineHalted("storing SLA state failed; restart from the store") from error
        measurements.decided(decided, self._clock.now())
        if decided:
            self._on_outbox()
            self._on_decided(decided)
        return len(decided)

    def _check_running(self) -> None:
        if self._halted:
            raise EngineHalted("the engine halted after a failed commit; restart the service")
