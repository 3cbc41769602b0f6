"""Replay of case.events.v1 through a fresh SLA book on a virtual clock.

Time comes only from the events: before each event the virtual clock moves to the latest event
time seen, firing what fell due before it, exactly as the live service does when it works off a
backlog. Under the policy version the service ran with, a replay decides the same SLA facts with
the same ids; under another version it answers "what if".
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_deadlines import DeadlineError
from casedesk_runtime.logs import get_logger
from casedesk_sla.adapters.codec import case_fact, event_time
from casedesk_sla.domain import Micros, PolicyRegistry, SlaBook, SlaFact

log = get_logger(__name__)


@dataclass
class Replay:
    facts: list[SlaFact] = field(default_factory=list)
    events: int = 0
    rejected: int = 0  # events the live service would have dead-lettered or refused
    first_event_at: Micros | None = None
    last_event_at: Micros | None = None


def replay(
    events: Iterable[case_events.CaseEvent], policies: PolicyRegistry, until: Micros | None = None
) -> Replay:
    """Replay `events` (in log order); alarms due before `until` fire at the end."""
    # Remembered as the live service's store does, so a republished Created of a finished case
    # does not start its clocks again.
    retired: set[str] = set()
    book = SlaBook(policies, is_retired=retired.__contains__)
    result = Replay()
    now: Micros | None = None
    for event in events:
        moment = event_time(event)
        now = moment if now is None else max(now, moment)
        result.events += 1
        result.first_event_at = moment if result.first_event_at is None else result.first_event_at
        result.last_event_at = now
        result.facts.extend(book.advance(now))
        try:
            fact = case_fact(event)
            if fact is not None:
                result.facts.extend(book.apply(fact))
                retired.update(book.take_changes().retired)
        except (ValueError, DeadlineError) as error:
            result.rejected += 1
            log.warning(
                "case event rejected", extra={"case_id": event.meta.case_id, "error": str(error)}
            )
    if until is not None:
        result.facts.extend(book.advance(until))
    return result


def merge_partitions(
    partitions: Iterable[Iterable[case_events.CaseEvent]],
) -> Iterator[case_events.CaseEvent]:
    """One stream in event-time order that keeps each partition's (and so each case's) order."""
    streams = [((event_time(event), event) for event in partition) for partition in partitions]
    for _, event in heapq.merge(*streams, key=lambda item: item[0]):
        yield event
