"""Replay of case events through a fresh SLA book on a virtual clock.

Time comes only from the events: before each event the virtual clock moves to the latest event
time seen, firing what fell due before it, exactly as the live service does when it works off a
backlog. Under the policy version the service ran with, a replay decides the same SLA facts with
the same ids; under another version it answers "what if". Events arrive decoded (`ReplayedEvent`);
`casedesk_sla.replaying.replay` takes them as case.events.v1 messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from casedesk_deadlines import DeadlineError
from casedesk_runtime.logs import get_logger
from casedesk_sla.domain import CaseFact, Micros, PolicyRegistry, SlaBook, SlaFact

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ReplayedEvent:
    """One case event in log order: its time and its fact (None when it moves no clock), or
    the error that made it unreadable (the live service dead-letters such an event)."""

    case_id: str
    at: Micros
    fact: CaseFact | None
    unreadable: ValueError | None = None


@dataclass
class Replay:
    facts: list[SlaFact] = field(default_factory=list)
    events: int = 0
    rejected: int = 0  # events the live service would have dead-lettered or refused
    first_event_at: Micros | None = None
    last_event_at: Micros | None = None


def replay_facts(
    events: Iterable[ReplayedEvent], policies: PolicyRegistry, until: Micros | None = None
) -> Replay:
    """Replay `events` (in log order); alarms due before `until` fire at the end."""
    # Remembered as the live service's store does, so a republished Created of a finished case
    # does not start its clocks again.
    retired: set[str] = set()
    book = SlaBook(policies, is_retired=retired.__contains__)
    result = Replay()
    now: Micros | None = None
    for event in events:
        moment = event.at
        now = moment if now is None else max(now, moment)
        result.events += 1
        result.first_event_at = moment if result.first_event_at is None else result.first_event_at
        result.last_event_at = now
        result.facts.extend(book.advance(now))
        error: Exception | None = event.unreadable
        if error is None and event.fact is not None:
            try:
                result.facts.extend(book.apply(event.fact))
                retired.update(book.take_changes().retired)
            except (ValueError, DeadlineError) as refused:
                error = refused
        if error is not None:
            result.rejected += 1
            log.warning(
                "case event rejected", extra={"case_id": event.case_id, "error": str(error)}
            )
    if until is not None:
        result.facts.extend(book.advance(until))
    return result
