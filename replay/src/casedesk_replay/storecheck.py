"""The topic compared with the case service's event store: which stored events never reached it.

The store holds every case event the case service accepted, versions 1..n per case; the outbox
relay is meant to put each of them on case.events.v1 at least once. Both sides are folded into
version ledgers (`CaseVersions`) read from the start of their streams, and compared case by
case. An event is identified by (case id, version): its event id is derived from exactly these
(`casedesk_case.wire.events.event_id`), so distinct by event id and distinct by (case, version)
are one count. Only cases that differ cost more than two look-ups, so millions of cases compare
in seconds.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from casedesk_replay.gaps import EXAMPLES, CaseExample
from casedesk_replay.projections.versions import CaseVersions
from casedesk_replay.topics import Stream


@dataclass(frozen=True)
class StoreComparison:
    stored_events: int
    stored_cases: int
    topic_events: int  # distinct, by event id
    topic_duplicates: int  # records of an event already on the topic
    missing_from_topic: int  # stored events the topic does not have
    cases_missing_events: int  # stored cases the topic misses at least one event of
    cases_absent_from_topic: int  # stored cases the topic has no event of at all
    not_in_store: int  # events on the topic the store does not have
    cases_not_in_store: int  # cases with events on the topic the store does not have
    missing_examples: list[CaseExample] = field(default_factory=list)
    not_in_store_examples: list[CaseExample] = field(default_factory=list)

    @property
    def topic_complete(self) -> bool:
        return self.missing_from_topic == 0


class StoredVersions:
    """A fold for the runner: the versions of the store's case events, nothing else."""

    def __init__(self) -> None:
        self.versions = CaseVersions(from_start=True)

    def apply(self, stream: Stream, events: Sequence[Any]) -> None:
        if stream is Stream.CASE:
            self.versions.observe(events)

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError("the store side of a comparison is read whole every time")

    def restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError("the store side of a comparison is read whole every time")


def compare(stored: CaseVersions, topic: CaseVersions, examples: int = EXAMPLES) -> StoreComparison:
    if not (stored.from_start and topic.from_start):
        raise ValueError("only streams read from their beginning can be compared")
    topic_tops, stored_above, topic_above = topic.run_top, stored.above, topic.above
    missing = not_in_store = absent = 0
    short: list[str] = []  # stored cases the topic misses events of
    surplus: list[str] = []  # cases with events on the topic the store does not have
    for case_id, top in stored.run_top.items():
        if (
            topic_tops.get(case_id) == top
            and case_id not in stored_above
            and case_id not in topic_above
        ):
            continue  # the usual case: versions 1..top on both sides
        in_store, on_topic = stored.versions_of(case_id), topic.versions_of(case_id)
        if lost := len(in_store - on_topic):
            missing += lost
            absent += not on_topic
            short.append(case_id)
        if added := len(on_topic - in_store):
            not_in_store += added
            surplus.append(case_id)
    for case_id in topic_tops.keys() - stored.run_top.keys():
        not_in_store += len(topic.versions_of(case_id))
        surplus.append(case_id)
    return StoreComparison(
        stored_events=stored.distinct(),
        stored_cases=len(stored.run_top),
        topic_events=topic.distinct(),
        topic_duplicates=topic.duplicates,
        missing_from_topic=missing,
        cases_missing_events=len(short),
        cases_absent_from_topic=absent,
        not_in_store=not_in_store,
        cases_not_in_store=len(surplus),
        missing_examples=[
            CaseExample(case_id, sorted(stored.versions_of(case_id) - topic.versions_of(case_id)))
            for case_id in heapq.nsmallest(examples, short)
        ],
        not_in_store_examples=[
            CaseExample(case_id, sorted(topic.versions_of(case_id) - stored.versions_of(case_id)))
            for case_id in heapq.nsmallest(examples, surplus)
        ],
    )
